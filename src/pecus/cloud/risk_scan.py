"""The scheduled risk assessment: `pecus risk-scan` (the Render cron job) and the API's in-process
schedule, one run at a time across all of them (advisory lock `RISK_SCAN_LOCK_ID`).

Per farm (a failing farm is logged and the others still run):
 1. **Missed scores.** Milkings of the last 72 h without a score (they arrived while scoring was
    down, or the model was being replaced) are scored with the AI engine's live path
    (`pecus.ai.live.score_batch`, the same features, model and alert episodes as on ingest), which
    raises the alerts they call for.
Then, in one transaction:
 2. **Data feeds.** A milking unit with no milking for longer than the farm's
    `stale_after_minutes` gets a `data_feed` alert (the agent or the robot may be down). One alert
    per silence: it records the unit's last milking time, and no second alert is raised for the
    same silence, even after someone closed the first. It is resolved by the scan once milkings
    arrive again.
 3. **Recovered cows.** An open mastitis alert is resolved when the cow has been back to her own
    baseline for 3 days: milked on each of the last 3 days, no milking of those days scored at or
    above the farm's alert threshold by the model, every quarter's conductivity within +15 % of
    her median in the week before the episode (the 7 days ending 2 days before the alert; the
    model's own baseline is the last 7 days, which the episode itself inflates), and her average
    yield per milking at least 85 % of that week's.
    Resolution by the scan is recorded with no user (`changed_by` NULL), so retraining can tell
    it from a person's label.
Every step is idempotent: a second run right after the first changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.alerts import resolve_as_system
from pecus.cloud.ingest import IngestedBatch
from pecus.cloud.locks import RISK_SCAN_LOCK_ID, exclusive, is_due, record_end, record_start
from pecus.cloud.tenancy import make_pool

log = logging.getLogger(__name__)

JOB = "risk_scan"
RECOVERY_DAYS = 3
CONDUCTIVITY_TOLERANCE = 1.15
YIELD_TOLERANCE = 0.85


@dataclass
class ScanSummary:
    farms: int = 0
    farms_failed: int = 0
    sessions_scored: int = 0
    alerts_raised: int = 0
    alerts_escalated: int = 0
    scoring_failed: int = 0
    data_feed_alerts: int = 0
    data_feed_resolved: int = 0
    cows_recovered: int = 0


_UNSCORED = """
SELECT m.source_id, m.transaction_id, m.animal_id
FROM public.milking_sessions m
WHERE m.tenant_id = %(farm)s AND m.started_at > %(since)s AND m.started_at <= %(now)s
  AND NOT EXISTS (
      SELECT 1 FROM public.session_scores s
      WHERE s.tenant_id = m.tenant_id AND s.source_id = m.source_id AND s.transaction_id = m.transaction_id)
ORDER BY m.source_id, m.transaction_id
"""
SCORE_CHUNK = 5000
SCORE_WINDOW = timedelta(hours=72)
"""Milkings this recent are scored when they have no score (the live path's alert window)."""


_SILENT_UNITS = """
SELECT u.unit, u.source_id, u.last_session_at
FROM public.milking_units u JOIN public.tenants t ON t.tenant_id = u.tenant_id
WHERE u.tenant_id = %(farm)s
  AND u.last_session_at < %(now)s - make_interval(mins => t.stale_after_minutes)
  AND NOT EXISTS (
      SELECT 1 FROM public.alerts a
      WHERE a.tenant_id = u.tenant_id AND a.kind = 'data_feed' AND a.unit = u.unit
        AND (a.status IN ('new', 'acknowledged')
             OR (a.reasons -> 0 ->> 'last_session_at')::timestamptz = u.last_session_at))
ORDER BY u.unit
"""

_RAISE_FEED = """
INSERT INTO public.alerts (tenant_id, kind, unit, source_id, level, reasons, created_at, updated_at)
VALUES (%(farm)s, 'data_feed', %(unit)s, %(source)s, 'warning', %(reasons)s::jsonb, %(now)s, %(now)s)
ON CONFLICT DO NOTHING
"""

_FEED_BACK = """
SELECT a.alert_id
FROM public.alerts a
JOIN public.milking_units u ON u.tenant_id = a.tenant_id AND u.unit = a.unit
JOIN public.tenants t ON t.tenant_id = a.tenant_id
WHERE a.tenant_id = %(farm)s AND a.kind = 'data_feed' AND a.status IN ('new', 'acknowledged')
  AND u.last_session_at > (a.reasons -> 0 ->> 'last_session_at')::timestamptz
  AND u.last_session_at >= %(now)s - make_interval(mins => t.stale_after_minutes)
"""

_QUARTERS = ("conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr", "conductivity_avg")
_BASE_COLS = ",\n    ".join(f"percentile_cont(0.5) WITHIN GROUP (ORDER BY m.{c}) AS {c}" for c in _QUARTERS)
_RECENT_COLS = ",\n    ".join(f"max(m.{c}) AS {c}" for c in _QUARTERS)
_WITHIN = "\n  AND ".join(
    f"(b.{c} IS NULL OR r.{c} IS NULL OR r.{c} <= b.{c} * %(cond_tol)s)" for c in _QUARTERS
)
_COMPARABLE = " OR ".join(f"(b.{c} IS NOT NULL AND r.{c} IS NOT NULL)" for c in _QUARTERS)

_RECOVERED = f"""
WITH open AS (
    SELECT a.alert_id, a.animal_id, coalesce(s.started_at, a.created_at) AS anchor
    FROM public.alerts a
    LEFT JOIN public.milking_sessions s ON s.tenant_id = a.tenant_id AND s.source_id = a.source_id
         AND s.transaction_id = a.transaction_id
    WHERE a.tenant_id = %(farm)s AND a.kind = 'mastitis' AND a.status IN ('new', 'acknowledged')
), base AS (
    SELECT o.alert_id, avg(m.yield_kg) AS yield_kg,
    {_BASE_COLS}
    FROM open o JOIN public.milking_sessions m ON m.tenant_id = %(farm)s AND m.animal_id = o.animal_id
     AND m.started_at >= o.anchor - interval '9 days' AND m.started_at < o.anchor - interval '2 days'
    GROUP BY o.alert_id
), recent AS (
    SELECT o.alert_id, avg(m.yield_kg) AS yield_kg,
           count(DISTINCT floor(extract(epoch FROM %(now)s - m.started_at) / 86400)) AS days_milked,
    {_RECENT_COLS}
    FROM open o JOIN public.milking_sessions m ON m.tenant_id = %(farm)s AND m.animal_id = o.animal_id
     AND m.started_at > %(now)s - %(days)s * interval '1 day' AND m.started_at <= %(now)s
    WHERE o.anchor <= %(now)s - %(days)s * interval '1 day'
    GROUP BY o.alert_id
)
SELECT o.alert_id FROM open o JOIN base b USING (alert_id) JOIN recent r USING (alert_id)
WHERE r.days_milked >= %(days)s
  AND NOT EXISTS (
      SELECT 1 FROM public.session_scores sc
      WHERE sc.tenant_id = %(farm)s AND sc.animal_id = o.animal_id AND sc.risk_score >= %(threshold)s
        AND sc.started_at > %(now)s - %(days)s * interval '1 day' AND sc.started_at <= %(now)s)
  AND r.yield_kg >= b.yield_kg * %(yield_tol)s
  AND ({_COMPARABLE})
  AND {_WITHIN}
ORDER BY o.alert_id
"""


def _silence(minutes: float) -> str:
    hours, mins = divmod(int(minutes), 60)
    if hours >= 48:
        return f"{hours // 24} days"
    return f"{hours} h {mins} min" if hours else f"{mins} min"


async def score_missing(
    pool: AsyncConnectionPool, farm: uuid.UUID, now: datetime, summary: ScanSummary
) -> None:
    """Score the farm's recent milkings that have no score, through the AI engine's live path."""
    async with pool.connection() as conn:
        cur = await conn.execute(_UNSCORED, {"farm": farm, "since": now - SCORE_WINDOW, "now": now})
        rows = await cur.fetchall()
    if not rows:
        return
    # The AI engine (pandas, scikit-learn, the model) loads only when there is something to score.
    from pecus.ai.live import score_batch

    by_source: dict[int, list[tuple[int, str]]] = {}
    for source, transaction, animal in rows:
        by_source.setdefault(int(source), []).append((int(transaction), str(animal)))
    for source, sessions in by_source.items():
        for i in range(0, len(sessions), SCORE_CHUNK):
            chunk = sessions[i : i + SCORE_CHUNK]
            batch = IngestedBatch(farm, source, [t for t, _ in chunk], [a for _, a in chunk])
            result = await score_batch(pool, batch, now=now)
            summary.sessions_scored += result.scored
            summary.alerts_raised += sum(c.change == "created" for c in result.alerts)
            summary.alerts_escalated += sum(c.change == "escalated" for c in result.alerts)


async def alert_threshold(pool: AsyncConnectionPool, farm: uuid.UUID) -> float | None:
    """The farm's alert threshold (the model's default when the farm has none); None when the farm
    has no open mastitis alert, so nothing needs it."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT 1 FROM public.alerts WHERE tenant_id = %s AND kind = 'mastitis'"
            " AND status IN ('new', 'acknowledged') LIMIT 1",
            [farm],
        )
        if await cur.fetchone() is None:
            return None
        from pecus.ai.live import farm_thresholds
        from pecus.ai.registry import live_model

        threshold, _ = await farm_thresholds(conn, farm, await live_model.get(pool))
    return threshold


async def data_feeds(
    conn: AsyncConnection[Any], farm: uuid.UUID, now: datetime, summary: ScanSummary
) -> None:
    """Raise an alert per newly silent unit; resolve those whose milkings came back."""
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(_SILENT_UNITS, {"farm": farm, "now": now})
    for unit in await cur.fetchall():
        silent_for = (now - unit["last_session_at"]).total_seconds() / 60
        reason = {
            "signal": "data_feed",
            "last_session_at": unit["last_session_at"].isoformat(),
            "silent_minutes": int(silent_for),
            "text": f"no milkings from {unit['unit']} for {_silence(silent_for)}",
        }
        params = {
            "farm": farm,
            "unit": unit["unit"],
            "source": unit["source_id"],
            "reasons": orjson.dumps([reason]).decode(),
            "now": now,
        }
        inserted = await conn.execute(_RAISE_FEED, params)
        summary.data_feed_alerts += inserted.rowcount
    await cur.execute(_FEED_BACK, {"farm": farm, "now": now})
    back = [int(r["alert_id"]) for r in await cur.fetchall()]
    resolved = await resolve_as_system(conn, farm, back, now, "milkings arrive again (risk scan)")
    summary.data_feed_resolved += len(resolved)


async def recovered_cows(
    conn: AsyncConnection[Any], farm: uuid.UUID, now: datetime, threshold: float, summary: ScanSummary
) -> None:
    params = {
        "farm": farm,
        "now": now,
        "days": RECOVERY_DAYS,
        "threshold": threshold,
        "cond_tol": CONDUCTIVITY_TOLERANCE,
        "yield_tol": YIELD_TOLERANCE,
    }
    cur = await conn.execute(_RECOVERED, params)
    recovered = [int(r[0]) for r in await cur.fetchall()]
    note = f"back to her baseline for {RECOVERY_DAYS} days (risk scan)"
    summary.cows_recovered += len(await resolve_as_system(conn, farm, recovered, now, note))


async def scan_farm(
    conn: AsyncConnection[Any], pool: AsyncConnectionPool, farm: uuid.UUID, now: datetime
) -> ScanSummary:
    """The scan's steps for one farm, as the service role."""
    summary = ScanSummary(farms=1)
    threshold: float | None = None
    try:
        await score_missing(pool, farm, now, summary)
        threshold = await alert_threshold(pool, farm)
    except Exception:
        # Without scores no cow is declared recovered; data feeds are checked all the same.
        log.exception("risk scan: scoring the milkings of farm %s failed", farm)
        summary.scoring_failed += 1
    async with conn.transaction():
        await data_feeds(conn, farm, now, summary)
        if threshold is not None:
            await recovered_cows(conn, farm, now, threshold, summary)
    return summary


async def scan(conn: AsyncConnection[Any], pool: AsyncConnectionPool, now: datetime) -> ScanSummary:
    """Every farm, one after the other, on an autocommit connection and a pool for scoring."""
    total = ScanSummary()
    cur = await conn.execute("SELECT tenant_id FROM public.tenants ORDER BY tenant_id")
    farms = [r[0] for r in await cur.fetchall()]
    for farm in farms:
        try:
            result = await scan_farm(conn, pool, farm, now)
        except Exception:
            log.exception("risk scan of farm %s failed; the other farms go on", farm)
            total.farms_failed += 1
            continue
        for name, value in asdict(result).items():
            setattr(total, name, getattr(total, name) + value)
    return total


def utc_now() -> datetime:
    return datetime.now(UTC)


async def run_scan_job(
    database_url: str,
    *,
    force: bool,
    every: timedelta = timedelta(hours=1),
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """Run the scan if this instance gets the lock (and, unless `force`, if it is due)."""
    async with exclusive(database_url, RISK_SCAN_LOCK_ID) as conn:
        if conn is None:
            return {"ran": False, "reason": "another risk scan is running"}
        now = clock()
        if not force and not await is_due(conn, JOB, every, now):
            return {"ran": False, "reason": "ran less than a period ago"}
        await record_start(conn, JOB, now)
        pool = make_pool(database_url, min_size=1, max_size=2)
        await pool.open()
        try:
            summary = await scan(conn, pool, now)
        except Exception as exc:
            await record_end(conn, JOB, clock(), error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            await pool.close()
        await record_end(conn, JOB, clock(), summary=asdict(summary))
        log.info("risk scan: %s", summary)
        return {"ran": True, **asdict(summary)}
