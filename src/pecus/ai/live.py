"""Live scoring after an ingest commits: `score_ingested(pool, batch)`, the ingest's post-commit
hook.

1. ONE query hydrates the batch's cows: every milking of those cows from 7 days (+ the interval
   before those) before their earliest new milking up to their latest, as one CSV text built by
   the server (the fastest way from PostgreSQL into pandas we measured).
2. In a worker thread (CPU work off the event loop): features (`pecus.ai.features`, the same
   code as training), risk for the new milkings, reasons for the alerting ones.
3. One transaction: scores into `session_scores` (upsert: a re-score replaces), then alerts
   above the farm's threshold (`tenants.alert_threshold`, NULL = the model's default) through
   `pecus.ai.alerts.write_alerts`, critical at `tenants.critical_threshold`.

Only milkings that started within the last 72 h raise alerts: a backlog of old milkings (an
agent catching up after an outage, the first sync of a farm) is scored but does not fill the
farmer's list with history. Scoring never fails the ingest: `score_ingested` logs errors and
returns; the milkings stay unscored until the risk scan finds them.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

from pecus.ai.alerts import AlertCandidate, AlertChange, write_alerts
from pecus.ai.features import FEATURE_INPUTS, HISTORY_NEEDED_H, compute_features
from pecus.ai.model import MastitisModel
from pecus.ai.reasons import explain
from pecus.ai.registry import LiveModel, live_model
from pecus.cloud.ingest import IngestedBatch
from pecus.cloud.tenancy import service_transaction

log = logging.getLogger(__name__)

ALERT_MAX_AGE = timedelta(hours=72)


@dataclass
class Scored:
    """The batch's new milkings with their risk, and the alert candidates."""

    transaction_ids: np.ndarray
    animal_ids: np.ndarray
    started_s: np.ndarray
    risk: np.ndarray
    history_rows: int
    candidates: list[AlertCandidate] = field(default_factory=list)


@dataclass(frozen=True)
class ScoringResult:
    model_version: str
    scored: int
    history_rows: int
    alerts: list[AlertChange]


# The history comes back as ONE bytea built by the server: fixed-width big-endian binary rows
# (float4send and friends, NULL as NaN) that numpy reads without a loop, and the batch's cow
# numbers in an array. Text (COPY CSV, or server-built CSV) cost 3-5x more CPU on both sides:
# float-to-text in PostgreSQL, a message per row in psycopg, parsing in pandas
# (bench/inference.py).
_ROW = np.dtype(
    [("source_id", ">i4"), ("transaction_id", ">i8"), ("cow", ">i4"), ("started_s", ">f8"),
     ("incomplete", ">f4"), ("kickoff", ">f4"), *((name, ">f4") for name in FEATURE_INPUTS)]
)  # fmt: skip


def _row_bytes() -> sql.Composable:
    parts = [
        sql.SQL("int4send(m.source_id)"),
        sql.SQL("int8send(m.transaction_id)"),
        sql.SQL("int4send(batch.cow)"),
        sql.SQL("float8send(extract(epoch FROM m.started_at)::float8)"),
        sql.SQL("float4send(coalesce(m.incomplete::int::float4, 'NaN'))"),
        sql.SQL("float4send(coalesce(m.kickoff::int::float4, 'NaN'))"),
        *(
            sql.SQL("float4send(coalesce(m.{}::float4, 'NaN'))").format(sql.Identifier(n))
            for n in FEATURE_INPUTS
        ),
    ]
    return sql.SQL(" || ").join(parts)


_HYDRATE = sql.SQL(
    """WITH batch AS MATERIALIZED (
  SELECT animal_id, min(started_at) AS since, max(started_at) AS until,
         (row_number() OVER (ORDER BY animal_id) - 1)::int AS cow
  FROM public.milking_sessions
  WHERE tenant_id = %(tenant)s AND source_id = %(source)s AND transaction_id = ANY(%(ids)s::bigint[])
  GROUP BY animal_id)
SELECT (SELECT array_agg(animal_id ORDER BY cow) FROM batch),
       (SELECT string_agg({row}, ''::bytea)
        FROM batch JOIN public.milking_sessions m
          ON m.tenant_id = %(tenant)s AND m.animal_id = batch.animal_id
         AND m.started_at >= batch.since - make_interval(hours => %(hours)s)
         AND m.started_at <= batch.until)"""
).format(row=_row_bytes())


@dataclass(frozen=True)
class History:
    """The hydrated milkings: binary rows and the batch's cow numbers (`cow` indexes them)."""

    animals: list[str]
    rows: bytes


def pg_array(values: Sequence[Any] | np.ndarray) -> str:
    """A PostgreSQL array literal (cast it in SQL). psycopg's list adapter checks every element
    in Python: 50 ms for a batch's 5,000 values, against 2 ms here."""
    array = np.asarray(values)
    if array.dtype.kind in "iu":
        body = ",".join(map(str, array.tolist()))
    elif array.dtype.kind == "f":
        body = ",".join("NULL" if v != v else repr(v) for v in array.tolist())
    else:
        body = ",".join('"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in array.tolist())
    return "{" + body + "}"


async def hydrate(
    conn: AsyncConnection[Any], tenant_id: uuid.UUID, source_id: int, ids: Sequence[int]
) -> History:
    """The batch's cows' milkings: the new ones and their history (HISTORY_NEEDED_H before)."""
    params = {"tenant": tenant_id, "source": int(source_id), "ids": pg_array(ids), "hours": HISTORY_NEEDED_H}
    cursor = await conn.execute(_HYDRATE, params, binary=True)
    row = await cursor.fetchone()
    if row is None or row[0] is None:
        return History([], b"")
    return History(list(row[0]), bytes(row[1] or b""))


def history_frame(history: History) -> pd.DataFrame:
    """The hydrated milkings as a frame in the contract's column names."""
    rows = np.frombuffer(history.rows, dtype=_ROW)
    frame = pd.DataFrame({name: rows[name].astype(_ROW[name].newbyteorder("=")) for name in _ROW.names or ()})
    animals = np.asarray(history.animals, dtype=object)
    frame["animal_id"] = animals[frame["cow"].to_numpy()] if len(frame) else np.empty(0, dtype=object)
    frame["started_at"] = pd.to_datetime(frame["started_s"], unit="s", utc=True)
    return frame


def score_history(
    model: MastitisModel,
    data: History,
    source_id: int,
    ids: Sequence[int],
    *,
    threshold: float,
    now: datetime,
) -> Scored:
    """CPU part (runs in a thread): features, risk of the new milkings, alert candidates."""
    frame = history_frame(data)
    if frame.empty:
        return Scored(np.empty(0, np.int64), np.empty(0, str), np.empty(0), np.empty(0), 0)
    target = ((frame["source_id"] == source_id) & frame["transaction_id"].isin(list(ids))).to_numpy()
    new = frame[target]
    new_features = compute_features(frame, target)
    risk = np.clip(model.risk(new_features), 0.0, 1.0)
    scored = Scored(
        new["transaction_id"].to_numpy(np.int64),
        new["animal_id"].to_numpy(str),
        new["started_s"].to_numpy(float),
        risk,
        len(frame),
    )
    recent = new["started_s"].to_numpy(float) >= (now - ALERT_MAX_AGE).timestamp()
    alerting = np.flatnonzero((risk >= threshold) & recent)
    if len(alerting) == 0:
        return scored
    table = pd.DataFrame({"i": alerting, "animal": scored.animal_ids[alerting], "risk": risk[alerting]})
    for animal, rows in table.groupby("animal", sort=True):
        best = int(rows.loc[rows["risk"].idxmax(), "i"])
        starts = scored.started_s[rows["i"].to_numpy()]
        scored.candidates.append(
            AlertCandidate(
                animal_id=str(animal),
                source_id=int(source_id),
                transaction_id=int(scored.transaction_ids[best]),
                risk=float(risk[best]),
                observed_at=datetime.fromtimestamp(scored.started_s[best], UTC),
                last_observed_at=datetime.fromtimestamp(float(starts.max()), UTC),
                reasons=explain(new_features.iloc[best].to_dict()),
            )
        )
    return scored


async def farm_thresholds(
    conn: AsyncConnection[Any], tenant_id: uuid.UUID, model: MastitisModel
) -> tuple[float, float]:
    cursor = await conn.execute(
        "SELECT alert_threshold, critical_threshold FROM public.tenants WHERE tenant_id = %s", [tenant_id]
    )
    row = await cursor.fetchone()
    if row is None:
        raise LookupError(f"no farm {tenant_id}")
    alert = float(row[0]) if row[0] is not None else model.threshold
    critical = float(row[1]) if row[1] is not None else model.critical_threshold
    return alert, max(critical, alert)


async def write_scores(
    conn: AsyncConnection[Any], tenant_id: uuid.UUID, source_id: int, s: Scored, version: str
) -> None:
    await conn.execute(
        "INSERT INTO public.session_scores"
        " (tenant_id, source_id, transaction_id, animal_id, started_at, risk_score, model_version)"
        " SELECT %s, %s, t.id, t.animal, to_timestamp(t.s), t.risk, %s"
        " FROM unnest(%s::bigint[], %s::text[], %s::float8[], %s::real[]) AS t(id, animal, s, risk)"
        " ON CONFLICT (tenant_id, source_id, transaction_id) DO UPDATE"
        " SET risk_score = EXCLUDED.risk_score, model_version = EXCLUDED.model_version, scored_at = now()",
        [tenant_id, source_id, version, pg_array(s.transaction_ids), pg_array(s.animal_ids),
         pg_array(s.started_s), pg_array(s.risk)],
    )  # fmt: skip


async def score_batch(
    pool: AsyncConnectionPool,
    batch: IngestedBatch,
    *,
    models: LiveModel = live_model,
    now: datetime | None = None,
) -> ScoringResult:
    """Score a committed batch and write scores and alerts. Raises on failure (see
    `score_ingested` for the hook that never does)."""
    model = await models.get(pool)
    ids = list(batch.transaction_ids)
    if not ids:
        return ScoringResult(model.version, 0, 0, [])
    async with pool.connection() as conn:
        data = await hydrate(conn, batch.tenant_id, batch.source_id, ids)
        alert_at, critical_at = await farm_thresholds(conn, batch.tenant_id, model)
    scored = await asyncio.to_thread(
        score_history, model, data, batch.source_id, ids, threshold=alert_at, now=now or datetime.now(UTC)
    )
    async with service_transaction(pool) as conn:
        await write_scores(conn, batch.tenant_id, batch.source_id, scored, model.version)
        changes = await write_alerts(
            conn,
            batch.tenant_id,
            scored.candidates,
            critical_threshold=critical_at,
            model_version=model.version,
        )
    return ScoringResult(model.version, len(scored.risk), scored.history_rows, changes)


async def score_ingested(pool: AsyncConnectionPool, batch: IngestedBatch) -> None:
    """The ingest's post-commit hook: score, and never fail or raise into the ingest."""
    try:
        result = await score_batch(pool, batch)
    except Exception:
        log.exception(
            "scoring %d new milkings of farm %s failed; they stay unscored until the risk scan",
            len(batch.transaction_ids),
            batch.tenant_id,
        )
        return
    log.info(
        "scored %d milkings of farm %s with %s: %d alert change(s)",
        result.scored,
        batch.tenant_id,
        result.model_version,
        len(result.alerts),
    )
