"""Ingest of the farm's own records beside the milkings: treatments and the cow register.

Same rules as `ingest.py` (all or nothing, problems named by row index and field, idempotent),
at a fraction of its volume (a farm records a few treatments a day), so plain statements over
`unnest` of the batch's columns rather than a COPY.

Treatments: the source row is locked as for sessions (one batch of a source at a time), the rows
go in with `ON CONFLICT DO NOTHING`, and `sources.treatments_watermark` moves to GREATEST.
Animals: the register is the authority for a cow's lactation, calving date and exit date; a
record equal to what is stored changes nothing (and is not counted as updated).
"""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from pecus.cloud.batch_validation import BatchRejected, Problem, check_batch_size
from pecus.cloud.ingest import LOCK_SOURCE
from pecus.cloud.tenancy import service_transaction
from pecus.contract import AnimalBatch, AnimalResult, IngestResult, TreatmentBatch

B = TypeVar("B", TreatmentBatch, AnimalBatch)

_TEXT_FIELDS = ("animal_id", "diagnosis", "treatment")


def _problems(exc: ValidationError) -> list[Problem]:
    problems = []
    for e in exc.errors(include_url=False):
        loc, reason = e["loc"], e["msg"].removeprefix("Value error, ")
        if len(loc) >= 2 and loc[0] == "rows" and isinstance(loc[1], int):
            # A check across fields names its field first ("started_at is more than …").
            field = ".".join(str(p) for p in loc[2:]) or reason.split(" ", 1)[0]
            problems.append(Problem(reason, loc[1], field))
        else:
            problems.append(Problem(reason, None, ".".join(str(p) for p in loc) or None))
    return problems


def parse_records(data: Any, model: type[B], max_batch_size: int) -> B:
    """Validate a decoded treatment or animal batch; every row must pass. Raises BatchRejected."""
    rows = data.get("rows") if isinstance(data, dict) else None
    if isinstance(rows, list):
        check_batch_size(len(rows), max_batch_size)
    try:
        batch = model.model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        if any(p.row is not None for p in problems):
            what = "treatments" if model is TreatmentBatch else "animal records"
            message = f"some rows are not valid {what}; nothing was stored"
            raise BatchRejected(422, "invalid_rows", message, problems) from exc
        raise BatchRejected(422, "invalid_batch", "the batch envelope is not valid", problems) from exc
    _check_rows(batch)
    return batch


def _check_rows(batch: TreatmentBatch | AnimalBatch) -> None:
    """What the contract allows but the table cannot hold: a NUL character in text, a key twice."""
    problems = []
    seen: dict[object, int] = {}
    key = "treatment_id" if isinstance(batch, TreatmentBatch) else "animal_id"
    for i, row in enumerate(batch.rows):
        for name in _TEXT_FIELDS:
            value = getattr(row, name, None)
            if isinstance(value, str) and "\x00" in value:
                problems.append(Problem("contains a NUL character, which cannot be stored", i, name))
        first = seen.setdefault(getattr(row, key), i)
        if first != i:
            problems.append(Problem(f"duplicate of row {first} in this batch", i, key))
    if problems:
        raise BatchRejected(422, "invalid_rows", "some rows cannot be stored; nothing was stored", problems)


_INSERT_TREATMENTS = """
WITH inserted AS (
    INSERT INTO public.treatments (tenant_id, source_id, treatment_id, animal_id, lactation_number,
                                   started_at, duration_days, diagnosis, treatment)
    SELECT %(tenant)s, %(source_id)s, t.*
    FROM unnest(%(ids)s::bigint[], %(animals)s::text[], %(lactations)s::smallint[],
                %(started)s::timestamptz[], %(durations)s::smallint[], %(diagnoses)s::text[],
                %(treatments)s::text[]) AS t
    ON CONFLICT DO NOTHING
    RETURNING 1
), source AS (
    UPDATE public.sources SET treatments_watermark = GREATEST(treatments_watermark, %(max_id)s)
    WHERE tenant_id = %(tenant)s AND source_id = %(source_id)s
    RETURNING treatments_watermark
)
SELECT (SELECT count(*) FROM inserted), (SELECT treatments_watermark FROM source)
"""


async def store_treatments(
    pool: AsyncConnectionPool, tenant_id: uuid.UUID, batch: TreatmentBatch
) -> IngestResult:
    """Store a validated treatment batch in one transaction (idempotent)."""
    rows = batch.rows
    async with service_transaction(pool) as conn:
        cur = await conn.execute(LOCK_SOURCE, {"tenant": tenant_id, "source": batch.source})
        locked = await cur.fetchone()
        assert locked is not None
        cur = await conn.execute(
            _INSERT_TREATMENTS,
            {
                "tenant": tenant_id,
                "source_id": int(locked[0]),
                "max_id": max((r.treatment_id for r in rows), default=0),
                "ids": [r.treatment_id for r in rows],
                "animals": [r.animal_id for r in rows],
                "lactations": [r.lactation_number for r in rows],
                "started": [r.started_at for r in rows],
                "durations": [r.duration_days for r in rows],
                "diagnoses": [r.diagnosis for r in rows],
                "treatments": [r.treatment for r in rows],
            },
        )
        counted = await cur.fetchone()
    assert counted is not None
    inserted, watermark = int(counted[0]), int(counted[1])
    return IngestResult(
        received=len(rows), inserted=inserted, already_present=len(rows) - inserted, watermark=watermark
    )


# In key order, so two sources of one farm sending the same cows cannot deadlock.
_UPSERT_ANIMALS = """
WITH changed AS (
    INSERT INTO public.animals AS a (tenant_id, animal_id, lactation_number, calving_date, exit_date)
    SELECT %(tenant)s, r.*
    FROM unnest(%(animals)s::text[], %(lactations)s::smallint[], %(calvings)s::date[], %(exits)s::date[])
         AS r (animal_id, lactation_number, calving_date, exit_date)
    ORDER BY r.animal_id
    ON CONFLICT (tenant_id, animal_id) DO UPDATE SET
        lactation_number = EXCLUDED.lactation_number,
        calving_date = EXCLUDED.calving_date,
        exit_date = EXCLUDED.exit_date
    WHERE (a.lactation_number, a.calving_date, a.exit_date)
          IS DISTINCT FROM (EXCLUDED.lactation_number, EXCLUDED.calving_date, EXCLUDED.exit_date)
    RETURNING 1
)
SELECT count(*) FROM changed
"""


async def store_animals(pool: AsyncConnectionPool, tenant_id: uuid.UUID, batch: AnimalBatch) -> AnimalResult:
    """Upsert the register's records of the farm's cows in one transaction."""
    rows = batch.rows
    async with service_transaction(pool) as conn:
        cur = await conn.execute(
            _UPSERT_ANIMALS,
            {
                "tenant": tenant_id,
                "animals": [r.animal_id for r in rows],
                "lactations": [r.lactation_number for r in rows],
                "calvings": [r.calving_date for r in rows],
                "exits": [r.exit_date for r in rows],
            },
        )
        counted = await cur.fetchone()
    assert counted is not None
    return AnimalResult(received=len(rows), updated=int(counted[0]))
