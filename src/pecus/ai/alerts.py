"""Mastitis alerts from scored milkings: at most one open alert per cow and episode.

`write_alerts` runs inside the caller's transaction (the one that stores the scores), so the
notification outbox can be written in the same transaction from the changes it returns:
`created` alerts, and alerts that `became_critical`.

Episode rule: an alerting milking within 72 h of the cow's latest alert (its
`last_observed_at`, the newest alerting milking) belongs to that episode:
  * the alert is `new` or `acknowledged`: it is updated; when the risk rose, it takes the new
    risk, milking, reasons and model version (escalated; critical once past the farm's
    critical threshold, never downgraded);
  * the farmer marked it `false_positive`: their judgement holds for the episode (no new alert)
    unless the risk reaches the critical threshold;
  * `resolved` alerts end their episode.
A cow whose latest alert is older than 72 h gets a new alert.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

EPISODE = timedelta(hours=72)
# Advisory-lock namespace for "alerts of one farm" (with hashtext(tenant_id) as the second key):
# two ingests of one farm at once must not both create an alert for the same cow.
_LOCK_NAMESPACE = 0x70656375
# alerts.risk_score is a real (float4): a re-scored milking reads back a hair lower, not a rise.
_RISK_EPSILON = 1e-6
# The robot that milked: read from the stored milking (tenant_id, source_id, transaction_id).
_UNIT = (
    "(SELECT unit FROM public.milking_sessions"
    " WHERE tenant_id = %s AND source_id = %s AND transaction_id = %s)"
)


@dataclass(frozen=True)
class AlertCandidate:
    """A cow's riskiest alerting milking of a batch."""

    animal_id: str
    source_id: int
    transaction_id: int
    risk: float
    observed_at: datetime  # start of that milking
    last_observed_at: datetime  # start of the cow's newest alerting milking in the batch
    reasons: list[dict[str, Any]]


@dataclass(frozen=True)
class AlertChange:
    alert_id: int
    animal_id: str
    change: Literal["created", "escalated", "extended"]
    level: Literal["warning", "critical"]
    risk: float
    became_critical: bool


@dataclass(frozen=True)
class _Latest:
    alert_id: int
    status: str
    risk: float
    level: str
    seen: datetime


async def _latest_alerts(
    conn: AsyncConnection[Any], tenant_id: uuid.UUID, animals: list[str]
) -> dict[str, _Latest]:
    cursor = await conn.execute(
        "SELECT DISTINCT ON (animal_id) animal_id, alert_id, status, risk_score, level,"
        " coalesce(last_observed_at, created_at)"
        " FROM public.alerts"
        " WHERE tenant_id = %s AND kind = 'mastitis' AND animal_id = ANY(%s) AND status <> 'resolved'"
        " ORDER BY animal_id, coalesce(last_observed_at, created_at) DESC",
        [tenant_id, animals],
    )
    return {r[0]: _Latest(r[1], r[2], float(r[3] or 0.0), r[4], r[5]) for r in await cursor.fetchall()}


async def write_alerts(
    conn: AsyncConnection[Any],
    tenant_id: uuid.UUID,
    candidates: list[AlertCandidate],
    *,
    critical_threshold: float,
    model_version: str,
) -> list[AlertChange]:
    if not candidates:
        return []
    await conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [_LOCK_NAMESPACE, str(tenant_id)])
    latest = await _latest_alerts(conn, tenant_id, [c.animal_id for c in candidates])
    changes: list[AlertChange] = []
    for c in candidates:
        critical = c.risk >= critical_threshold
        old = latest.get(c.animal_id)
        same_episode = old is not None and c.observed_at - EPISODE <= old.seen <= c.last_observed_at + EPISODE
        if old is not None and same_episode and old.status in ("new", "acknowledged"):
            changes.append(await _update(conn, tenant_id, old, c, critical, model_version))
        elif old is not None and same_episode and old.status == "false_positive" and not critical:
            await conn.execute(
                "UPDATE public.alerts SET last_observed_at = greatest(last_observed_at, %s)"
                " WHERE tenant_id = %s AND alert_id = %s",
                [c.last_observed_at, tenant_id, old.alert_id],
            )
        else:
            changes.append(await _create(conn, tenant_id, c, critical, model_version))
    return changes


async def _create(
    conn: AsyncConnection[Any], tenant_id: uuid.UUID, c: AlertCandidate, critical: bool, model_version: str
) -> AlertChange:
    level: Literal["warning", "critical"] = "critical" if critical else "warning"
    cursor = await conn.execute(
        "INSERT INTO public.alerts (tenant_id, kind, animal_id, unit, source_id, transaction_id, risk_score,"
        " level, model_version, reasons, last_observed_at)"
        f" VALUES (%s, 'mastitis', %s, {_UNIT}, %s, %s, %s, %s, %s, %s, %s) RETURNING alert_id",
        [tenant_id, c.animal_id, tenant_id, c.source_id, c.transaction_id, c.source_id, c.transaction_id,
         c.risk, level, model_version,
         Jsonb(c.reasons), c.last_observed_at],
    )  # fmt: skip
    row = await cursor.fetchone()
    assert row is not None
    return AlertChange(int(row[0]), c.animal_id, "created", level, c.risk, critical)


async def _update(
    conn: AsyncConnection[Any],
    tenant_id: uuid.UUID,
    old: _Latest,
    c: AlertCandidate,
    critical: bool,
    model_version: str,
) -> AlertChange:
    level: Literal["warning", "critical"] = "critical" if critical or old.level == "critical" else "warning"
    if c.risk > old.risk + _RISK_EPSILON:
        await conn.execute(
            f"UPDATE public.alerts SET risk_score = %s, level = %s, unit = {_UNIT}, source_id = %s,"
            " transaction_id = %s, reasons = %s, model_version = %s, updated_at = now(),"
            " last_observed_at = greatest(last_observed_at, %s)"
            " WHERE tenant_id = %s AND alert_id = %s",
            [c.risk, level, tenant_id, c.source_id, c.transaction_id, c.source_id, c.transaction_id,
             Jsonb(c.reasons), model_version, c.last_observed_at, tenant_id, old.alert_id],
        )  # fmt: skip
        became_critical = level == "critical" and old.level != "critical"
        return AlertChange(old.alert_id, c.animal_id, "escalated", level, c.risk, became_critical)
    await conn.execute(
        "UPDATE public.alerts SET last_observed_at = greatest(last_observed_at, %s)"
        " WHERE tenant_id = %s AND alert_id = %s",
        [c.last_observed_at, tenant_id, old.alert_id],
    )
    return AlertChange(old.alert_id, c.animal_id, "extended", level, old.risk, False)
