"""Ingest of one agent batch: validation, then one transaction that stores it.

Independent of HTTP (the route in `routes/sync.py` only reads the body and maps errors), so the
benchmark and other callers use the same code.

The write path, all in one transaction:
 1. upsert the source row and lock it (`ON CONFLICT DO UPDATE`): batches of one source are
    serialised, so the same batch sent twice at once stores exactly one copy and both succeed;
 2. binary `COPY` of the validated rows into a temporary table (emptied at commit);
 3. one `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` into milking_sessions, which in the
    same statement registers unknown animals and milking units and moves their last-session times
    (in key order, so two sources of one farm cannot deadlock on them);
 4. in the same statement, the source's watermark moves to the batch's highest transaction id
    (monotonic, GREATEST) and a sync_runs row records the upload.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.batch_validation import (
    BatchRejected,
    ParsedBatch,
    Problem,
    Row,
    parse_batch,
    parse_envelope,
    row_count,
    validate_rows,
)
from pecus.cloud.tenancy import service_transaction
from pecus.contract import SESSION_COLUMNS, AgentInfo, IngestResult

__all__ = [
    "COLUMN_TYPES",
    "LOCK_SOURCE",
    "BatchRejected",
    "IngestOutcome",
    "IngestedBatch",
    "ParsedBatch",
    "Problem",
    "parse_batch",
    "parse_envelope",
    "record_rejected",
    "row_count",
    "source_watermarks",
    "store_batch",
    "validate_rows",
]

# Types of milking_sessions' columns (supabase/migrations/20261204000100_core_schema.sql), in the
# contract's column order: the COPY runs in binary, which needs them exactly.
COLUMN_TYPES: dict[str, str] = {
    "transaction_id": "bigint",
    "unit": "text",
    "animal_id": "text",
    "started_at": "timestamptz",
    "ended_at": "timestamptz",
    "yield_kg": "real",
    "expected_yield_kg": "real",
    "conductivity_avg": "real",
    "conductivity_max": "real",
    "conductivity_lf": "real",
    "conductivity_rf": "real",
    "conductivity_lr": "real",
    "conductivity_rr": "real",
    "yield_lf": "real",
    "yield_rf": "real",
    "yield_lr": "real",
    "yield_rr": "real",
    "blood_avg": "real",
    "blood_max": "real",
    "flow_avg": "real",
    "flow_peak": "real",
    "duration_s": "integer",
    "cell_count": "integer",
    "mdi": "real",
    "incomplete": "boolean",
    "kickoff": "boolean",
    "lactation_number": "smallint",
    "days_in_milk": "smallint",
    "extra": "jsonb",
}
if tuple(COLUMN_TYPES) != SESSION_COLUMNS:
    raise RuntimeError("COLUMN_TYPES is out of step with the session contract's columns")

_COLS = ", ".join(SESSION_COLUMNS)
# Created once per database session and emptied at every commit: creating a temporary table costs
# more catalog work than COPYing 1,000 rows into it. IF NOT EXISTS keeps it correct behind a
# transaction pooler too (a server connection that has not seen it yet creates it).
_TEMP_TABLE = (
    "CREATE TEMP TABLE IF NOT EXISTS ingest_batch ("
    + ", ".join(f"{c} {t}" for c, t in COLUMN_TYPES.items())
    + ") ON COMMIT DELETE ROWS"
)
_TYPES = list(COLUMN_TYPES.values())
_COPY = f"COPY ingest_batch ({_COLS}) FROM STDIN (FORMAT BINARY)"

LOCK_SOURCE = """
INSERT INTO public.sources (tenant_id, name, last_ingest_at) VALUES (%(tenant)s, %(source)s, now())
ON CONFLICT (tenant_id, name) DO UPDATE SET last_ingest_at = now()
RETURNING source_id
"""

# Sessions need no particular order: batches of one source never run at once (the source row is
# locked), and other sources have other keys. Animals and units are shared by the sources of a
# farm, so they are written in key order (the same lock order in every transaction), and only from
# the rows this batch really inserted: a re-sent batch touches nothing.
_INSERT = f"""
WITH inserted AS (
    INSERT INTO public.milking_sessions (tenant_id, source_id, {_COLS})
    SELECT %(tenant)s, %(source_id)s, {_COLS} FROM ingest_batch
    ON CONFLICT DO NOTHING
    RETURNING transaction_id, unit, animal_id, started_at, ended_at, lactation_number, days_in_milk
), cows AS (
    INSERT INTO public.animals AS a (tenant_id, animal_id, lactation_number, calving_date, last_session_at)
    SELECT %(tenant)s, animal_id,
           (array_agg(lactation_number ORDER BY started_at DESC)
                FILTER (WHERE lactation_number IS NOT NULL))[1],
           (array_agg((started_at AT TIME ZONE 'UTC')::date - days_in_milk ORDER BY started_at DESC)
                FILTER (WHERE days_in_milk IS NOT NULL))[1],
           max(ended_at)
    FROM inserted GROUP BY animal_id ORDER BY animal_id
    ON CONFLICT (tenant_id, animal_id) DO UPDATE SET
        lactation_number = CASE WHEN EXCLUDED.last_session_at >= coalesce(a.last_session_at, '-infinity')
            THEN coalesce(EXCLUDED.lactation_number, a.lactation_number) ELSE a.lactation_number END,
        calving_date = CASE WHEN EXCLUDED.last_session_at >= coalesce(a.last_session_at, '-infinity')
            THEN coalesce(EXCLUDED.calving_date, a.calving_date) ELSE a.calving_date END,
        last_session_at = GREATEST(a.last_session_at, EXCLUDED.last_session_at)
), units AS (
    INSERT INTO public.milking_units AS u (tenant_id, unit, source_id, last_session_at)
    SELECT %(tenant)s, unit, %(source_id)s, max(ended_at) FROM inserted GROUP BY unit ORDER BY unit
    ON CONFLICT (tenant_id, unit) DO UPDATE
        SET last_session_at = GREATEST(u.last_session_at, EXCLUDED.last_session_at)
        WHERE u.last_session_at IS NULL OR u.last_session_at < EXCLUDED.last_session_at
), source AS (
    UPDATE public.sources SET watermark = GREATEST(watermark, %(max_id)s)
    WHERE tenant_id = %(tenant)s AND source_id = %(source_id)s
), run AS (
    INSERT INTO public.sync_runs (tenant_id, source_id, agent_key_id, agent_version, agent_host, cycle_id,
                                  started_at, finished_at, rows_received, rows_inserted, result)
    SELECT %(tenant)s, %(source_id)s, %(key_id)s, %(version)s, %(host)s, %(cycle_id)s,
           %(started_at)s, clock_timestamp(), %(received)s, count(*), 'ok'
    FROM inserted
)
SELECT transaction_id, animal_id FROM inserted
"""

# A statement of its own, so it sees the watermark the previous one wrote.
_WATERMARK = "SELECT watermark FROM public.sources WHERE tenant_id = %s AND source_id = %s"

_REJECTED = """
INSERT INTO public.sync_runs (tenant_id, source_id, agent_key_id, agent_version, agent_host, cycle_id,
                              started_at, finished_at, rows_received, rows_inserted, result, error)
VALUES (%(tenant)s,
        (SELECT source_id FROM public.sources WHERE tenant_id = %(tenant)s AND name = %(source)s),
        %(key_id)s, %(version)s, %(host)s, %(cycle_id)s, %(started_at)s, clock_timestamp(),
        %(received)s, 0, 'rejected', %(error)s)
"""


@dataclass(frozen=True)
class IngestedBatch:
    """What the post-commit hooks receive: the sessions this batch newly stored."""

    tenant_id: uuid.UUID
    source_id: int
    transaction_ids: list[int] = field(default_factory=list)
    animal_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class IngestOutcome:
    result: IngestResult
    ingested: IngestedBatch


def _orjson_dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


async def _copy_rows(conn: AsyncConnection[Any], rows: Sequence[Row]) -> None:
    cursor = conn.cursor()
    # On the cursor, not the connection: set on a connection, it subclasses the connection's
    # current dumper, itself the previous batch's subclass, so each batch made a new class.
    set_json_dumps(_orjson_dumps, context=cursor)
    async with cursor.copy(_COPY) as copy:
        copy.set_types(_TYPES)
        for row in rows:
            await copy.write_row(row)


async def store_batch(
    pool: AsyncConnectionPool,
    tenant_id: uuid.UUID,
    batch: ParsedBatch,
    *,
    key_id: uuid.UUID | None,
    started_at: datetime,
) -> IngestOutcome:
    """Store a validated batch of the farm `tenant_id` in one transaction (idempotent)."""
    rows = batch.rows
    # Three round trips to the database, each a wait in which the process may lose its CPU on a
    # busy machine: BEGIN, the lock and the temporary table pipelined; the COPY; the insert, the
    # new watermark and the COMMIT pipelined. BEGIN and COMMIT are statements of those pipelines
    # rather than `conn.transaction()`, whose BEGIN and COMMIT would be two round trips more.
    async with pool.connection() as conn:
        try:
            async with conn.pipeline():
                await conn.execute("BEGIN")
                locked = await conn.execute(LOCK_SOURCE, {"tenant": tenant_id, "source": batch.source})
                await conn.execute(_TEMP_TABLE)
            row = await locked.fetchone()
            assert row is not None
            source_id = int(row[0])
            if rows:
                await _copy_rows(conn, rows)
            params = {
                "tenant": tenant_id,
                "source_id": source_id,
                "max_id": max((row[0] for row in rows), default=0),
                "key_id": key_id,
                "version": batch.agent.version,
                "host": batch.agent.host,
                "cycle_id": batch.cycle_id,
                "started_at": started_at,
                "received": len(rows),
            }
            # An error in the insert skips the rest of the pipeline, COMMIT included.
            async with conn.pipeline():
                stored = await conn.execute(_INSERT, params)
                marked = await conn.execute(_WATERMARK, [tenant_id, source_id])
                await conn.execute("COMMIT")
        except BaseException:
            if conn.info.transaction_status != TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    await conn.execute("ROLLBACK")
            raise
        inserted: list[tuple[int, str]] = await stored.fetchall()
        row = await marked.fetchone()
        assert row is not None
        watermark = int(row[0])
    result = IngestResult(
        received=len(rows),
        inserted=len(inserted),
        already_present=len(rows) - len(inserted),
        watermark=watermark,
    )
    ingested = IngestedBatch(
        tenant_id, source_id, [int(t) for t, _ in inserted], [str(a) for _, a in inserted]
    )
    return IngestOutcome(result, ingested)


async def record_rejected(
    pool: AsyncConnectionPool,
    tenant_id: uuid.UUID,
    *,
    key_id: uuid.UUID | None,
    source: str | None,
    agent: AgentInfo | None,
    cycle_id: str | None,
    received: int,
    error: str,
    started_at: datetime,
) -> None:
    """Log a refused upload in sync_runs (result 'rejected'), so the dashboard can show that the
    farm's agent is sending data the cloud refuses. Touches no data table."""
    async with service_transaction(pool) as conn:
        await conn.execute(
            _REJECTED,
            {
                "tenant": tenant_id,
                "source": source,
                "key_id": key_id,
                "version": agent.version if agent else None,
                "host": agent.host if agent else None,
                "cycle_id": cycle_id,
                "started_at": started_at,
                "received": received,
                "error": error[:2000],
            },
        )


async def source_watermarks(pool: AsyncConnectionPool, tenant_id: uuid.UUID, source: str) -> tuple[int, int]:
    """The highest committed session and treatment ids of the farm's source; 0 for a source never seen."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT watermark, treatments_watermark FROM public.sources WHERE tenant_id = %s AND name = %s",
            [tenant_id, source],
        )
        row = await cur.fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)
