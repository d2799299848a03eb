"""Alert lifecycle: list, read, and change the status of alerts.

Statuses: `new` → `acknowledged` (a real case) | `false_positive` → `resolved`. A change may also
correct an earlier label (acknowledged ↔ false positive); `resolved` is final. Every change appends
a row to `alert_status_changes` (the model's feedback labels; the table refuses updates and
deletes), with who and when stamped by the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

OPEN_STATUSES = ("new", "acknowledged")
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "false_positive", "resolved"}),
    "acknowledged": frozenset({"false_positive", "resolved"}),
    "false_positive": frozenset({"acknowledged", "resolved"}),
    "resolved": frozenset(),
}

_RESOLVE_AS_SYSTEM = """
WITH target AS (
    SELECT tenant_id, alert_id, status FROM public.alerts
    WHERE tenant_id = %(farm)s AND alert_id = ANY(%(ids)s) AND status IN ('new', 'acknowledged')
    FOR UPDATE
), changed AS (
    UPDATE public.alerts a
    SET status = 'resolved', status_changed_by = NULL, status_changed_at = %(now)s, note = %(note)s,
        updated_at = %(now)s
    FROM target t WHERE a.tenant_id = t.tenant_id AND a.alert_id = t.alert_id
    RETURNING a.alert_id
)
INSERT INTO public.alert_status_changes
    (tenant_id, alert_id, from_status, to_status, changed_by, changed_at, note)
SELECT t.tenant_id, t.alert_id, t.status, 'resolved', NULL, %(now)s, %(note)s
FROM target t JOIN changed c ON c.alert_id = t.alert_id
RETURNING alert_id
"""


async def resolve_as_system(
    conn: AsyncConnection[Any], farm: uuid.UUID, alert_ids: Sequence[int], now: datetime, note: str
) -> list[int]:
    """Resolve open alerts on behalf of no user (the risk scan), with their history rows.
    Returns the ids it resolved; alerts closed meanwhile are left as they are."""
    if not alert_ids:
        return []
    params = {"farm": farm, "ids": list(alert_ids), "now": now, "note": note}
    cur = await conn.execute(_RESOLVE_AS_SYSTEM, params)
    return [int(r[0]) for r in await cur.fetchall()]
