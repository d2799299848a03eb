"""Ingest of one agent batch: validation, then one transaction that stores it.

Independent of HTTP (the route in `routes/sync.py` only reads the body and maps errors), so the
benchmark and other callers use the same code.

The write path, all in one transaction:
 1. upsert the source row and lock it (`ON CONFLICT DO UPDATE`): batches of one source are
    serialised, so the same batch sent twice at once stores exactly one copy and both succeed;
 2. binary `COPY` of the validated rows into a temporary table (dropped at commit, so nothing
    depends on session state and Supabase's transaction pooler works);
 3. one `INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING` into milking_sessions, which in the
    same statement registers unknown animals and milking units (rows in a fixed order, so two
    sources of one farm cannot deadlock on them);
 4. the source's watermark moves to the batch's highest transaction id (monotonic, GREATEST) and a
    sync_runs row records the upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg.types.json import set_json_dumps
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter, ValidationError

from pecus.cloud.tenancy import service_transaction
from pecus.contract import SESSION_COLUMNS, AgentInfo, IngestBatch, IngestResult, MilkingSession

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

_SESSIONS = TypeAdapter(list[MilkingSession])
_COLS = ", ".join(SESSION_COLUMNS)
_TEMP_TABLE = (
    "CREATE TEMP TABLE ingest_batch ("
    + ", ".join(f"{c} {t}" for c, t in COLUMN_TYPES.items())
    + ") ON COMMIT DROP"
)
_COPY = f"COPY ingest_batch ({_COLS}) FROM STDIN (FORMAT BINARY)"

_LOCK_SOURCE = """
INSERT INTO public.sources (tenant_id, name, last_ingest_at) VALUES (%(tenant)s, %(source)s, now())
ON CONFLICT (tenant_id, name) DO UPDATE SET last_ingest_at = now()
RETURNING source_id
"""

# Animals and units are registered from the rows this batch really inserted: a re-sent batch
# touches nothing. ORDER BY gives every transaction the same lock order.
_INSERT = f"""
WITH inserted AS (
    INSERT INTO public.milking_sessions (tenant_id, source_id, {_COLS})
    SELECT %(tenant)s, %(source_id)s, {_COLS} FROM ingest_batch ORDER BY transaction_id
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
)
SELECT transaction_id, animal_id FROM inserted
"""

_FINISH = """
WITH src AS (
    UPDATE public.sources SET watermark = GREATEST(watermark, %(max_id)s)
    WHERE tenant_id = %(tenant)s AND source_id = %(source_id)s
    RETURNING watermark
), run AS (
    INSERT INTO public.sync_runs (tenant_id, source_id, agent_key_id, agent_version, agent_host, cycle_id,
                                  started_at, finished_at, rows_received, rows_inserted, result)
    VALUES (%(tenant)s, %(source_id)s, %(key_id)s, %(version)s, %(host)s, %(cycle_id)s,
            %(started_at)s, clock_timestamp(), %(received)s, %(inserted)s, 'ok')
)
SELECT watermark FROM src
"""

_REJECTED = """
INSERT INTO public.sync_runs (tenant_id, source_id, agent_key_id, agent_version, agent_host, cycle_id,
                              started_at, finished_at, rows_received, rows_inserted, result, error)
VALUES (%(tenant)s,
        (SELECT source_id FROM public.sources WHERE tenant_id = %(tenant)s AND name = %(source)s),
        %(key_id)s, %(version)s, %(host)s, %(cycle_id)s, %(started_at)s, clock_timestamp(),
        %(received)s, 0, 'rejected', %(error)s)
"""


@dataclass(frozen=True)
class Problem:
    """What was wrong where: `row` is the 0-based index in the batch (None outside the rows)."""

    reason: str
    row: int | None = None
    field: str | None = None


class BatchRejected(Exception):
    """The batch cannot be stored. `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, code: str, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.problems = list(problems)


@dataclass(frozen=True)
class ParsedBatch:
    farm_id: str
    source: str
    agent: AgentInfo
    cycle_id: str | None
    sessions: list[MilkingSession]


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


def _shown(value: Any) -> str:
    text = orjson.dumps(value, default=str).decode()
    return text if len(text) <= 60 else text[:57] + "..."


def _row_problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = err["loc"]
        row = loc[0] if loc and isinstance(loc[0], int) else None
        field_name = ".".join(str(p) for p in loc[1:]) or None
        reason = err["msg"].removeprefix("Value error, ")
        if field_name is None:
            # A check across fields ("started_at is after ended_at") names its field first.
            field_name = next((c for c in SESSION_COLUMNS if reason.startswith(c)), None)
        elif err["type"] not in ("missing", "extra_forbidden") and field_name != "extra":
            reason = f"{reason} (got {_shown(err.get('input'))})"
        problems.append(Problem(reason, row, field_name))
    return problems


def _columns_to_rows(columns: dict[str, list[Any]]) -> list[dict[str, Any]]:
    unknown = [name for name in columns if name not in COLUMN_TYPES]
    if unknown:
        raise BatchRejected(
            422,
            "invalid_batch",
            "the batch has columns that are not part of the session contract",
            [Problem("not a column of the session contract", None, f"columns.{n}") for n in unknown],
        )
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise BatchRejected(
            422,
            "invalid_batch",
            "the columns of the batch have different lengths",
            [Problem(f"has {len(v)} values", None, f"columns.{n}") for n, v in columns.items()],
        )
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def parse_envelope(body: bytes) -> IngestBatch:
    """Decode the JSON body and check the batch's envelope (farm, source, agent, one of rows or
    columns). The rows themselves are checked by `validate_rows`. Raises BatchRejected."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BatchRejected(400, "malformed_json", f"the body is not valid JSON: {exc}") from exc
    try:
        batch = IngestBatch.model_validate(data)
    except ValidationError as exc:
        problems = []
        for e in exc.errors(include_url=False):
            loc = e["loc"]
            if len(loc) >= 2 and loc[0] == "rows" and isinstance(loc[1], int):
                problems.append(Problem(e["msg"], loc[1], ".".join(str(p) for p in loc[2:]) or None))
            else:
                problems.append(Problem(e["msg"], None, ".".join(str(p) for p in loc) or None))
        raise BatchRejected(422, "invalid_batch", "the batch envelope is not valid", problems) from exc
    if (batch.rows is None) == (batch.columns is None):
        raise BatchRejected(
            422,
            "invalid_batch",
            "a batch carries exactly one of `rows` and `columns`",
            [Problem("give either rows or columns, not both or neither", None, "rows")],
        )
    return batch


def validate_rows(batch: IngestBatch, max_batch_size: int) -> ParsedBatch:
    """Check every row against the session contract; all must pass. Raises BatchRejected."""
    rows = batch.rows if batch.rows is not None else _columns_to_rows(batch.columns or {})
    if len(rows) > max_batch_size:
        raise BatchRejected(
            413,
            "batch_too_large",
            f"the batch has {len(rows)} rows; the limit is {max_batch_size} (see GET /api/v1/sync/status)",
        )
    try:
        sessions = _SESSIONS.validate_python(rows)
    except ValidationError as exc:
        raise BatchRejected(
            422,
            "invalid_rows",
            "some rows are not valid milking sessions; nothing was stored",
            _row_problems(exc),
        ) from exc
    first_seen: dict[int, int] = {}
    duplicates = []
    for i, s in enumerate(sessions):
        j = first_seen.setdefault(s.transaction_id, i)
        if j != i:
            duplicates.append(Problem(f"duplicate of row {j} in this batch", i, "transaction_id"))
    if duplicates:
        raise BatchRejected(
            422,
            "duplicate_transaction_id",
            "a transaction_id appears more than once in the batch; nothing was stored",
            duplicates,
        )
    return ParsedBatch(batch.farm_id, batch.source, batch.agent, batch.cycle_id, sessions)


def parse_batch(body: bytes, max_batch_size: int) -> ParsedBatch:
    """`parse_envelope` then `validate_rows`: JSON bytes (already decompressed) to stored-ready rows."""
    return validate_rows(parse_envelope(body), max_batch_size)


def _orjson_dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)


async def _copy_rows(conn: AsyncConnection[Any], sessions: Sequence[MilkingSession]) -> None:
    set_json_dumps(_orjson_dumps, context=conn)
    await conn.execute(_TEMP_TABLE)
    async with conn.cursor().copy(_COPY) as copy:
        copy.set_types(list(COLUMN_TYPES.values()))
        for s in sessions:
            # A model's __dict__ holds its fields in declaration order: the contract's column order.
            await copy.write_row(tuple(s.__dict__.values()))


async def store_batch(
    pool: AsyncConnectionPool,
    tenant_id: uuid.UUID,
    batch: ParsedBatch,
    *,
    key_id: uuid.UUID | None,
    started_at: datetime,
) -> IngestOutcome:
    """Store a validated batch of the farm `tenant_id` in one transaction (idempotent)."""
    sessions = batch.sessions
    async with service_transaction(pool) as conn:
        cur = await conn.execute(_LOCK_SOURCE, {"tenant": tenant_id, "source": batch.source})
        row = await cur.fetchone()
        assert row is not None
        source_id = int(row[0])
        inserted: list[tuple[int, str]] = []
        if sessions:
            await _copy_rows(conn, sessions)
            cur = await conn.execute(_INSERT, {"tenant": tenant_id, "source_id": source_id})
            inserted = await cur.fetchall()
        cur = await conn.execute(
            _FINISH,
            {
                "tenant": tenant_id,
                "source_id": source_id,
                "max_id": max((s.transaction_id for s in sessions), default=0),
                "key_id": key_id,
                "version": batch.agent.version,
                "host": batch.agent.host,
                "cycle_id": batch.cycle_id,
                "started_at": started_at,
                "received": len(sessions),
                "inserted": len(inserted),
            },
        )
        row = await cur.fetchone()
        assert row is not None
        watermark = int(row[0])
    result = IngestResult(
        received=len(sessions),
        inserted=len(inserted),
        already_present=len(sessions) - len(inserted),
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


async def source_watermark(pool: AsyncConnectionPool, tenant_id: uuid.UUID, source: str) -> int:
    """The highest committed transaction id of the farm's source; 0 for a source never seen."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT watermark FROM public.sources WHERE tenant_id = %s AND name = %s", [tenant_id, source]
        )
        row = await cur.fetchone()
    return int(row[0]) if row else 0
