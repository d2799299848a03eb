"""Alert lifecycle: list, read, and change the status of alerts.

Statuses: `new` → `acknowledged` (a real case) | `false_positive` → `resolved`. A change may also
correct an earlier label (acknowledged ↔ false positive); `resolved` is final. Every change appends
a row to `alert_status_changes` (the model's feedback labels; the table refuses updates and
deletes), with who and when stamped by the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from pecus.cloud.errors import ApiError
from pecus.cloud.farm_admin import not_found, require_role
from pecus.cloud.notify.messages import reason_text
from pecus.cloud.schemas.alerts import Alert, AlertDetail, AlertPage
from pecus.cloud.schemas.dashboard import SessionPoint

OPEN_STATUSES = ("new", "acknowledged")
CARER_ROLES = ("owner", "farmer", "vet")
"""Who may change an alert's status; viewers only read."""
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


# --- the dashboard's side: every function runs in the caller's user_transaction (RLS) -------------

_ALERT_COLUMNS = (
    "alert_id, kind, animal_id, unit, level, risk_score, status, reasons, model_version, created_at,"
    " updated_at, status_changed_at, status_changed_by, note"
)


@dataclass(frozen=True)
class AlertFilter:
    statuses: Sequence[str] = ()
    unit: str | None = None
    kind: str | None = None
    animal_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100
    offset: int = 0


def summary_of(reasons: Sequence[Any]) -> str:
    """The reasons as one line a farmer reads (the engine's own words where it gave them)."""
    parts = []
    for reason in reasons:
        text = reason.get("text") if isinstance(reason, dict) else None
        parts.append(text if isinstance(text, str) and text else reason_text(reason))
    return "; ".join(p for p in parts if p)


def _alert(row: dict[str, Any]) -> Alert:
    reasons = row["reasons"] if isinstance(row["reasons"], list) else []
    return Alert.model_validate({**row, "reasons": reasons, "summary": summary_of(reasons)})


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def list_alerts(conn: AsyncConnection[Any], farm_id: uuid.UUID, f: AlertFilter) -> AlertPage:
    """The farm's alerts, highest risk first, then newest. 404 for a farm that is not the caller's."""
    await require_role(conn, farm_id)
    where: list[sql.Composable] = [sql.SQL("tenant_id = %(farm)s")]
    params: dict[str, Any] = {"farm": farm_id, "limit": f.limit, "offset": f.offset}
    for column, value in (("unit", f.unit), ("kind", f.kind), ("animal_id", f.animal_id)):
        if value is not None:
            where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Placeholder(column)))
            params[column] = value
    if f.statuses:
        where.append(sql.SQL("status = ANY(%(statuses)s)"))
        params["statuses"] = list(f.statuses)
    if f.since is not None:
        where.append(sql.SQL("created_at >= %(since)s"))
        params["since"] = f.since
    if f.until is not None:
        where.append(sql.SQL("created_at < %(until)s"))
        params["until"] = f.until
    query = sql.SQL(
        "SELECT {cols}, count(*) OVER () AS total FROM public.alerts WHERE {where}"
        " ORDER BY risk_score DESC NULLS LAST, created_at DESC, alert_id DESC"
        " LIMIT %(limit)s OFFSET %(offset)s"
    ).format(cols=sql.SQL(_ALERT_COLUMNS), where=sql.SQL(" AND ").join(where))
    rows = await _rows(conn, query, params)
    if rows:
        total = int(rows[0]["total"])
    else:  # past the last page: count without the window
        count = sql.SQL("SELECT count(*) AS total FROM public.alerts WHERE {}").format(
            sql.SQL(" AND ").join(where)
        )
        total = int((await _rows(conn, count, params))[0]["total"])
    return AlertPage(items=[_alert(r) for r in rows], total=total, limit=f.limit, offset=f.offset)


_SESSION_COLUMNS = ", ".join(f"s.{c}" for c in SessionPoint.model_fields if c != "risk_score")
_RECENT_SESSIONS = f"""
SELECT * FROM (
    SELECT {_SESSION_COLUMNS}, sc.risk_score
    FROM public.milking_sessions s
    LEFT JOIN (
        SELECT DISTINCT ON (source_id, transaction_id) source_id, transaction_id, risk_score
        FROM public.alerts
        WHERE tenant_id = %(farm)s AND animal_id = %(animal)s AND kind = 'mastitis'
          AND transaction_id IS NOT NULL
        ORDER BY source_id, transaction_id, risk_score DESC NULLS LAST
    ) sc ON sc.source_id = s.source_id AND sc.transaction_id = s.transaction_id
    WHERE s.tenant_id = %(farm)s AND s.animal_id = %(animal)s AND s.started_at >= %(since)s
    ORDER BY s.started_at DESC, s.transaction_id DESC
    LIMIT %(limit)s
) recent ORDER BY started_at, transaction_id
"""
_HISTORY = """
SELECT c.change_id, c.from_status, c.to_status, c.changed_by, fm.email AS changed_by_email,
       c.changed_at, c.note
FROM public.alert_status_changes c
LEFT JOIN private.farm_members(%(farm)s) fm ON fm.user_id = c.changed_by
WHERE c.tenant_id = %(farm)s AND c.alert_id = %(alert)s
ORDER BY c.change_id
"""
RECENT_DAYS = 7
MAX_SESSIONS = 200


async def _visible_alert(conn: AsyncConnection[Any], farm_id: uuid.UUID, alert_id: int) -> dict[str, Any]:
    rows = await _rows(
        conn,
        f"SELECT {_ALERT_COLUMNS} FROM public.alerts WHERE tenant_id = %s AND alert_id = %s",
        [farm_id, alert_id],
    )
    if not rows:
        raise not_found("alert")
    return rows[0]


async def get_alert(conn: AsyncConnection[Any], farm_id: uuid.UUID, alert_id: int) -> AlertDetail:
    """One alert with its status history and the cow's milkings around it."""
    await require_role(conn, farm_id)
    row = await _visible_alert(conn, farm_id, alert_id)
    history = await _rows(conn, _HISTORY, {"farm": farm_id, "alert": alert_id})
    sessions: list[dict[str, Any]] = []
    if row["animal_id"] is not None:
        params = {
            "farm": farm_id,
            "animal": row["animal_id"],
            "since": row["created_at"] - timedelta(days=RECENT_DAYS),
            "limit": MAX_SESSIONS,
        }
        sessions = await _rows(conn, _RECENT_SESSIONS, params)
    alert = _alert(row)
    return AlertDetail.model_validate({**alert.model_dump(), "history": history, "sessions": sessions})


async def change_status(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, alert_id: int, to_status: str, note: str | None
) -> Alert:
    """Change an alert's status as the signed-in user (owner, farmer, vet), appending its history.
    404: not the caller's farm or no such alert; 403: a viewer; 409: not a change the lifecycle
    allows. The same status again (and no new note) changes nothing."""
    role = await require_role(conn, farm_id)
    current = await _visible_alert(conn, farm_id, alert_id)
    if role not in CARER_ROLES:
        raise ApiError(403, "forbidden", f"a {role} may read alerts but not change them")
    # Locked now that we know the caller may change it (a viewer could not take this lock).
    locked = await _rows(
        conn,
        "SELECT status, note FROM public.alerts WHERE tenant_id = %s AND alert_id = %s FOR UPDATE",
        [farm_id, alert_id],
    )
    if not locked:
        raise not_found("alert")
    status = locked[0]["status"]
    if to_status == status and (note is None or note == locked[0]["note"]):
        return _alert(current)
    if to_status != status and to_status not in TRANSITIONS[status]:
        allowed = ", ".join(sorted(TRANSITIONS[status])) or "nothing (it is final)"
        raise ApiError(
            409,
            "invalid_transition",
            f"a {status.replace('_', ' ')} alert cannot become {to_status.replace('_', ' ')}; "
            f"it may become: {allowed}",
        )
    updated = await _rows(
        conn,
        "UPDATE public.alerts SET status = %(to)s, status_changed_by = (SELECT auth.uid()),"
        " status_changed_at = now(), note = %(note)s, updated_at = now()"
        f" WHERE tenant_id = %(farm)s AND alert_id = %(alert)s RETURNING {_ALERT_COLUMNS}",
        {"to": to_status, "note": note, "farm": farm_id, "alert": alert_id},
    )
    if not updated:  # row-level security refused it: the role changed under us
        raise ApiError(403, "forbidden", "you may not change this alert")
    await conn.execute(
        "INSERT INTO public.alert_status_changes (tenant_id, alert_id, from_status, to_status, note)"
        " VALUES (%s, %s, %s, %s, %s)",
        [farm_id, alert_id, status, to_status, note],
    )
    return _alert(updated[0])
