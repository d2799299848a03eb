"""The dashboard's read queries: who am I, farm overview, herd list, one cow's chart series.

Every function takes a connection inside `pecus.cloud.tenancy.user_transaction`, so row-level
security limits what it can see; a farm or cow outside the caller's farms reads as missing
(None), which the API answers with 404. The SQL still names the farm in every query: that is
what lets each query use the `(tenant_id, …)` indexes and prune to one partition.

Risk scores are the AI engine's, one per milking in `session_scores` (keyed like the milkings): a
session's is its own row, a cow's is that of her latest scored milking. An open alert keeps the
score that raised it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

from pecus.cloud.schemas.auth import AuthUser, FarmAccess, Me, Role
from pecus.cloud.schemas.dashboard import (
    AlertCounts,
    AlertMarker,
    AtRiskCow,
    CowDay,
    CowPage,
    CowSeries,
    CowSort,
    CowSummary,
    FarmOverview,
    HerdDay,
    LastSync,
    OpenAlert,
    SessionPoint,
    SourceFreshness,
    UnitFreshness,
)

AT_RISK_LIST_MAX = 100
DAY_METRICS = ("conductivity_avg", "conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr",
               "blood_avg", "flow_avg")  # fmt: skip


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


async def _row(conn: AsyncConnection[Any], query: Any, params: Any = None) -> dict[str, Any] | None:
    rows = await _rows(conn, query, params)
    return rows[0] if rows else None


async def _pipelined(conn: AsyncConnection[Any], *queries: tuple[Any, Any]) -> list[list[dict[str, Any]]]:
    """Independent queries sent together and answered together: one round trip, not one each
    (what a request costs in latency is mostly waiting for the database's answers)."""
    cursors = []
    async with conn.pipeline():
        for query, params in queries:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            cursors.append(cur)
    results = []
    for cur in cursors:
        results.append(await cur.fetchall())
        await cur.close()
    return results


# --- who am I ------------------------------------------------------------------------------------


async def me(conn: AsyncConnection[Any], claims: dict[str, Any]) -> Me:
    farms = await _rows(
        conn,
        "SELECT t.tenant_id AS farm_id, t.name, t.time_zone, m.role"
        " FROM public.memberships m JOIN public.tenants t USING (tenant_id)"
        " WHERE m.user_id = (SELECT auth.uid()) ORDER BY t.name, t.tenant_id",
    )
    user = AuthUser(id=uuid.UUID(claims["sub"]), email=claims.get("email") or None)
    return Me(user=user, farms=[FarmAccess.model_validate(f) for f in farms])


async def my_role(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> Role | None:
    """The caller's role on the farm; None when they are not a member (the farm is invisible)."""
    row = await _row(
        conn,
        "SELECT role FROM public.memberships WHERE tenant_id = %s AND user_id = (SELECT auth.uid())",
        [farm_id],
    )
    return row["role"] if row else None


_FARM = (
    "SELECT tenant_id AS farm_id, name, time_zone, stale_after_minutes, now() AS now"
    " FROM public.tenants WHERE tenant_id = %s"
)


# --- overview ------------------------------------------------------------------------------------

_HERD_NUMBERS = """
SELECT
    count(DISTINCT animal_id) FILTER (WHERE started_at > day_ago) AS cows_milked_24h,
    coalesce(sum(yield_kg::float8) FILTER (WHERE started_at > day_ago), 0) AS yield_24h_kg,
    coalesce(sum(yield_kg::float8) FILTER (WHERE started_at >= midnight), 0) AS yield_today_kg,
    sum(yield_kg::float8) FILTER (WHERE started_at <= day_ago) AS yield_before_kg,
    min(started_at) FILTER (WHERE started_at <= day_ago) AS first_before,
    avg(conductivity_avg::float8) FILTER (WHERE started_at > day_ago) AS cond_24h,
    avg(conductivity_avg::float8) FILTER (WHERE started_at <= day_ago) AS cond_7d
FROM public.milking_sessions, (
    SELECT now() - interval '24 hours' AS day_ago,
           date_trunc('day', now() AT TIME ZONE time_zone) AT TIME ZONE time_zone AS midnight
    FROM public.tenants WHERE tenant_id = %(farm)s
) b
WHERE tenant_id = %(farm)s AND started_at > now() - interval '8 days'
"""

_NEW_ALERTS = (
    "SELECT count(*) AS n FROM public.alerts"
    " WHERE tenant_id = %s AND created_at > now() - interval '24 hours'"
)
_UNITS = (
    "SELECT unit, source_id, last_session_at FROM public.milking_units WHERE tenant_id = %s ORDER BY unit"
)

_OPEN_ALERTS = """
SELECT alert_id, animal_id, unit, level, risk_score, status, created_at, reasons
FROM public.alerts al
WHERE tenant_id = %(farm)s AND kind = 'mastitis' AND status IN ('new', 'acknowledged')
  -- Not the cows that have left the herd (their exit date has come).
  AND NOT EXISTS (
    SELECT FROM public.animals a JOIN public.tenants t USING (tenant_id)
    WHERE a.tenant_id = %(farm)s AND a.animal_id = al.animal_id
      AND a.exit_date <= (now() AT TIME ZONE t.time_zone)::date)
ORDER BY risk_score DESC NULLS LAST, created_at DESC
"""

_SOURCES = """
SELECT s.source_id, s.name, s.last_ingest_at, r.started_at, r.finished_at, r.result, r.rows_received,
       r.rows_inserted, r.error, r.agent_version, r.agent_host
FROM public.sources s
LEFT JOIN LATERAL (
    SELECT * FROM public.sync_runs r
    WHERE r.tenant_id = s.tenant_id AND r.source_id = s.source_id
    ORDER BY r.started_at DESC LIMIT 1
) r ON true
WHERE s.tenant_id = %s
ORDER BY s.name
"""


def _open_alert(row: dict[str, Any]) -> OpenAlert:
    return OpenAlert.model_validate(row)


async def overview(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> FarmOverview | None:
    farms, herds, alerts, new_alerts, units, sources = await _pipelined(
        conn,
        (_FARM, [farm_id]),
        (_HERD_NUMBERS, {"farm": farm_id}),
        (_OPEN_ALERTS, {"farm": farm_id}),
        (_NEW_ALERTS, [farm_id]),
        (_UNITS, [farm_id]),
        (_SOURCES, [farm_id]),
    )
    if not farms:
        return None
    farm, herd = farms[0], herds[0]
    now: datetime = farm["now"]
    stale_after = timedelta(minutes=farm["stale_after_minutes"])
    yield_7d_avg = None
    if herd["first_before"] is not None:
        # Days of data in the week before the last 24 h (a farm that started 3 days ago has 2).
        span_days = (now - timedelta(hours=24) - herd["first_before"]) / timedelta(days=1)
        yield_7d_avg = herd["yield_before_kg"] / min(7, max(1, int(span_days) + 1))

    counts = AlertCounts()
    at_risk: dict[str, AtRiskCow] = {}
    for a in alerts:
        setattr(counts, a["level"], getattr(counts, a["level"]) + 1)
        if a["animal_id"] not in at_risk:  # highest risk first: a cow's worst open alert
            at_risk[a["animal_id"]] = AtRiskCow(
                animal_id=a["animal_id"], unit=a["unit"], alert=_open_alert(a)
            )
    return FarmOverview(
        farm_id=farm_id,
        name=farm["name"],
        time_zone=farm["time_zone"],
        generated_at=now,
        cows_milked_24h=herd["cows_milked_24h"],
        cows_at_risk=len(at_risk),
        open_alerts=counts,
        at_risk=list(at_risk.values())[:AT_RISK_LIST_MAX],
        new_alerts_24h=new_alerts[0]["n"],
        yield_today_kg=round(herd["yield_today_kg"], 2),
        yield_24h_kg=round(herd["yield_24h_kg"], 2),
        yield_7d_avg_kg=None if yield_7d_avg is None else round(yield_7d_avg, 2),
        conductivity_avg_24h=_round(herd["cond_24h"]),
        conductivity_avg_7d=_round(herd["cond_7d"]),
        stale_after_minutes=farm["stale_after_minutes"],
        units=[_unit_freshness(u, now, stale_after) for u in units],
        sources=[_source_freshness(s, now, stale_after) for s in sources],
    )


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def _unit_freshness(row: dict[str, Any], now: datetime, stale_after: timedelta) -> UnitFreshness:
    last: datetime | None = row["last_session_at"]
    return UnitFreshness(
        unit=row["unit"],
        source_id=row["source_id"],
        last_session_at=last,
        minutes_since_last_session=None if last is None else max(0, int((now - last).total_seconds() // 60)),
        stale=last is None or now - last > stale_after,
    )


def _source_freshness(row: dict[str, Any], now: datetime, stale_after: timedelta) -> SourceFreshness:
    last_sync = None if row["started_at"] is None else LastSync.model_validate(row)
    seen = [t for t in (row["last_ingest_at"], row["started_at"]) if t is not None]
    return SourceFreshness(
        source_id=row["source_id"],
        name=row["name"],
        last_ingest_at=row["last_ingest_at"],
        last_sync=last_sync,
        stale=not seen or now - max(seen) > stale_after,
    )


# --- herd list -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CowQuery:
    sort: CowSort = "risk"
    order: Literal["asc", "desc"] | None = None
    at_risk: bool | None = None
    unit: str | None = None
    lactation: int | None = None
    q: str | None = None
    limit: int = 50
    offset: int = 0
    animal_id: str | None = None
    """Exactly this cow (used by the series)."""


_SORT_KEYS: dict[str, sql.Composable] = {
    "risk": sql.SQL("c.risk_score"),
    "yield_24h": sql.SQL("c.yield_24h_kg"),
    "last_session": sql.SQL("c.last_session_at"),
    "conductivity": sql.SQL("c.last_conductivity_avg"),
}


def _natural(direction: str) -> sql.Composable:
    """Cow numbers are text but usually digits: number order first, then text order."""
    return sql.SQL(
        "CASE WHEN c.animal_id ~ '^[0-9]{{1,18}}$' THEN c.animal_id::bigint END {d} NULLS {n},"
        " c.animal_id {d}"
    ).format(d=sql.SQL(direction), n=sql.SQL("LAST" if direction == "ASC" else "FIRST"))


_COWS = """
WITH open AS (
    SELECT DISTINCT ON (animal_id) animal_id, alert_id, level, risk_score, status, created_at, reasons
    FROM public.alerts
    WHERE tenant_id = %(farm)s AND kind = 'mastitis' AND status IN ('new', 'acknowledged')
    ORDER BY animal_id, risk_score DESC NULLS LAST, created_at DESC
), day AS (
    SELECT animal_id, sum(yield_kg::float8) AS yield_24h_kg, count(*) AS milkings_24h
    FROM public.milking_sessions
    WHERE tenant_id = %(farm)s AND started_at > now() - interval '24 hours'
    GROUP BY animal_id
), c AS (
    SELECT a.animal_id, l.unit, coalesce(l.lactation_number, a.lactation_number) AS lactation_number,
           l.days_in_milk, l.started_at AS last_session_at, l.yield_kg AS last_yield_kg,
           l.conductivity_avg AS last_conductivity_avg,
           coalesce(day.yield_24h_kg, 0) AS yield_24h_kg, coalesce(day.milkings_24h, 0) AS milkings_24h,
           score.risk_score, open.alert_id, open.level, open.risk_score AS alert_risk_score, open.status,
           open.created_at, open.reasons
    FROM public.animals a
    LEFT JOIN LATERAL (
        SELECT s.unit, s.lactation_number, s.days_in_milk, s.started_at, s.yield_kg, s.conductivity_avg
        FROM public.milking_sessions s
        -- The farm as a parameter (not a.tenant_id): the plan prunes to its one partition.
        WHERE s.tenant_id = %(farm)s AND s.animal_id = a.animal_id
        ORDER BY s.started_at DESC LIMIT 1
    ) l ON true
    LEFT JOIN LATERAL (
        -- The cow's latest scored milking, one step back along session_scores_cow_idx.
        SELECT sc.risk_score
        FROM public.session_scores sc
        WHERE sc.tenant_id = %(farm)s AND sc.animal_id = a.animal_id
        ORDER BY sc.started_at DESC LIMIT 1
    ) score ON true
    LEFT JOIN day ON day.animal_id = a.animal_id
    LEFT JOIN open ON open.animal_id = a.animal_id
    -- A cow whose exit date (from the farm's register) has come has left the herd: sold or dead.
    WHERE a.tenant_id = %(farm)s AND (a.exit_date IS NULL OR a.exit_date > (
        SELECT (now() AT TIME ZONE time_zone)::date FROM public.tenants WHERE tenant_id = %(farm)s))
)
SELECT c.*, count(*) OVER () AS total FROM c
"""


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _cow_summary(row: dict[str, Any]) -> CowSummary:
    alert = None if row["alert_id"] is None else _open_alert({**row, "risk_score": row["alert_risk_score"]})
    # Sums of float4 sensor values carry float noise (42.2499995): kg to the gram.
    return CowSummary.model_validate(
        {**row, "yield_24h_kg": round(row["yield_24h_kg"], 3), "open_alert": alert}
    )


def _cows_statement(farm_id: uuid.UUID, query: CowQuery) -> tuple[sql.Composable, dict[str, Any]]:
    where: list[sql.Composable] = []
    params: dict[str, Any] = {"farm": farm_id, "limit": query.limit, "offset": query.offset}
    if query.animal_id is not None:
        where.append(sql.SQL("c.animal_id = %(animal)s"))
        params["animal"] = query.animal_id
    if query.at_risk is not None:
        where.append(sql.SQL("c.alert_id IS NOT NULL" if query.at_risk else "c.alert_id IS NULL"))
    if query.unit is not None:
        where.append(sql.SQL("c.unit = %(unit)s"))
        params["unit"] = query.unit
    if query.lactation is not None:
        where.append(sql.SQL("c.lactation_number = %(lactation)s"))
        params["lactation"] = query.lactation
    if query.q:
        where.append(sql.SQL("c.animal_id ILIKE %(q)s"))
        params["q"] = _like_pattern(query.q)
    order = (query.order or ("desc" if query.sort == "risk" else "asc")).upper()
    order_by = (
        _natural(order)
        if query.sort == "animal"
        else sql.SQL("{} {} NULLS LAST, {}").format(_SORT_KEYS[query.sort], sql.SQL(order), _natural("ASC"))
    )
    statement = sql.SQL("{base} {where} ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s").format(
        base=sql.SQL(_COWS),
        where=sql.SQL("WHERE ") + sql.SQL(" AND ").join(where) if where else sql.SQL(""),
        order=order_by,
    )
    return statement, params


async def cows(conn: AsyncConnection[Any], farm_id: uuid.UUID, query: CowQuery) -> CowPage | None:
    statement, params = _cows_statement(farm_id, query)
    farms, rows = await _pipelined(conn, (_FARM, [farm_id]), (statement, params))
    if not farms:
        return None
    total = rows[0]["total"] if rows else await _count_cows(conn, statement, params, query)
    return CowPage(items=[_cow_summary(r) for r in rows], total=total, limit=query.limit, offset=query.offset)


async def _count_cows(
    conn: AsyncConnection[Any], statement: sql.Composable, params: dict[str, Any], query: CowQuery
) -> int:
    """The total when the page is past the end (the window count comes with rows only)."""
    if query.offset == 0:
        return 0
    rows = await _rows(conn, statement, {**params, "limit": 1, "offset": 0})
    return int(rows[0]["total"]) if rows else 0


# --- one cow's series ----------------------------------------------------------------------------

_SESSION_COLUMNS = ", ".join(f"s.{c}" for c in SessionPoint.model_fields if c not in ("risk_score",))

_SESSIONS = f"""
SELECT {_SESSION_COLUMNS}, sc.risk_score
FROM public.milking_sessions s
-- The session's key; the farm as a parameter, so the plan prunes to one partition of each table.
LEFT JOIN public.session_scores sc
    ON sc.tenant_id = %(farm)s AND sc.source_id = s.source_id AND sc.transaction_id = s.transaction_id
WHERE s.tenant_id = %(farm)s AND s.animal_id = %(animal)s AND s.started_at >= %(since)s
ORDER BY s.started_at, s.transaction_id
"""


def _day_averages(prefix: str) -> str:
    return ", ".join(
        f"round(({prefix}.{m}_sum / nullif({prefix}.{m}_n, 0))::numeric, 3)::float8 AS {m}"
        for m in DAY_METRICS
    )


_COW_DAYS = f"""
SELECT d.day, d.milkings, round(d.yield_kg::numeric, 3)::float8 AS yield_kg, {_day_averages("d")}
FROM public.cow_daily d
WHERE d.tenant_id = %(farm)s AND d.animal_id = %(animal)s AND d.day >= %(from_day)s
ORDER BY d.day
"""

# The average cow of the herd per day: milk per milked cow, and the means over all milkings.
_HERD_DAYS = f"""
SELECT h.day, h.cows, round((h.milkings::float8 / h.cows)::numeric, 3)::float8 AS milkings,
       round((h.yield_kg / h.cows)::numeric, 3)::float8 AS yield_kg, {_day_averages("h")}
FROM public.herd_daily h
WHERE h.tenant_id = %(farm)s AND h.day >= %(from_day)s AND h.cows > 0
ORDER BY h.day
"""

_ALERT_MARKERS = """
SELECT alert_id, created_at, level, risk_score, status, reasons
FROM public.alerts
WHERE tenant_id = %(farm)s AND animal_id = %(animal)s AND kind = 'mastitis' AND created_at >= %(since)s
ORDER BY created_at
"""


async def series(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, animal_id: str, days: int
) -> CowSeries | None:
    farms, cow = await _pipelined(
        conn, (_FARM, [farm_id]), _cows_statement(farm_id, CowQuery(animal_id=animal_id, limit=1))
    )
    if not farms or not cow:
        return None
    farm = farms[0]
    zone = ZoneInfo(farm["time_zone"])
    to_day: date = farm["now"].astimezone(zone).date()
    from_day = to_day - timedelta(days=days - 1)
    since = datetime.combine(from_day, datetime.min.time(), tzinfo=zone)
    params = {"farm": farm_id, "animal": animal_id, "from_day": from_day, "since": since}
    session_rows, cow_day_rows, herd_day_rows, alert_rows = await _pipelined(
        conn, (_SESSIONS, params), (_COW_DAYS, params), (_HERD_DAYS, params), (_ALERT_MARKERS, params)
    )
    sessions = [SessionPoint.model_validate(r) for r in session_rows]
    risk_by_day: dict[date, float] = defaultdict(float)
    for s in sessions:
        if s.risk_score is not None:
            day = s.started_at.astimezone(zone).date()
            risk_by_day[day] = max(risk_by_day[day], s.risk_score)
    return CowSeries(
        farm_id=farm_id,
        animal_id=animal_id,
        time_zone=farm["time_zone"],
        days=days,
        from_day=from_day,
        to_day=to_day,
        cow=_cow_summary(cow[0]),
        sessions=sessions,
        cow_days=[
            CowDay.model_validate({**r, "risk_score_max": risk_by_day.get(r["day"])}) for r in cow_day_rows
        ],
        herd_days=[HerdDay.model_validate(r) for r in herd_day_rows],
        alerts=[AlertMarker.model_validate(r) for r in alert_rows],
    )
