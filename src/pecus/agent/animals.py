"""Keeping the cloud's cow register in step with DelPro's `BasicAnimal` (calvings, exits).

Not a stream: `BasicAnimal` rows change in place (an exit date set, a new lactation begun) and
carry no change time, so there is no id to follow. Instead each cycle reads the cows still in the
herd and those that left recently (`ExitDate` NULL or on/after the last read's date minus
EXIT_MARGIN) with their current lactation, and uploads only the ones whose digest differs from
the one the agent stored after the last acknowledged upload. A cow that left long ago is never
read again: the read grows with the herd, not with the farm's history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Select, and_, or_, select

from pecus.agent import delpro
from pecus.agent.source import Batch, SourceReader, _reading, _text

# An exit recorded late (the farmer enters last week's sale today) is still read if it is dated
# no more than this before the last read.
EXIT_MARGIN = timedelta(days=30)
TABLES = ("BasicAnimal", "AnimalLactationSummary")
ID = "animal_id"
NAMES = ("animal_id", "lactation_number", "calving_date", "exit_date")


def query(since: date | None) -> Select[Any]:
    """Cows in the herd or gone since `since` (all cows when None), each with her latest lactation."""
    a, lac = delpro.BasicAnimal.c, delpro.AnimalLactationSummary.c
    other = delpro.AnimalLactationSummary.alias("latest_lactation")
    latest = (
        select(other.c.OID)
        .where(other.c.Animal == a.OID)
        .order_by(other.c.StartDate.desc())
        .limit(1)
        .scalar_subquery()
    )
    joined = delpro.BasicAnimal.outerjoin(
        delpro.AnimalLactationSummary,
        and_(lac.Animal == a.OID, lac.OID == latest),  # noqa: SIM300
    )
    statement = select(a.Number, lac.LactationNumber, lac.StartDate, a.ExitDate).select_from(joined)
    if since is not None:
        statement = statement.where(
            or_(
                a.ExitDate.is_(None), a.ExitDate >= datetime.combine(since - EXIT_MARGIN, datetime.min.time())
            )
        )
    return statement


def _day(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.strip())
    return value.date() if isinstance(value, datetime) else value


def records(rows: Sequence[Any]) -> list[dict[str, Any]]:
    """Rows of `query()` as AnimalRecord dicts, one per cow number. DelPro reuses the numbers of
    departed cows: the cow in the herd wins, else the one that left last."""
    chosen: dict[str, tuple[tuple[bool, date], dict[str, Any]]] = {}
    for number, lactation, calving, exit_date in rows:
        animal_id = _text(number)
        if not animal_id:
            continue
        left = _day(exit_date)
        record: dict[str, Any] = {
            "animal_id": animal_id,
            "lactation_number": None if lactation is None else int(lactation),
            "calving_date": _day(calving),
            "exit_date": left,
        }
        rank = (left is None, left or date.min)
        if animal_id not in chosen or rank > chosen[animal_id][0]:
            chosen[animal_id] = (rank, record)
    return [record for _, record in sorted(chosen.values(), key=lambda c: c[1]["animal_id"])]


def read(reader: SourceReader, since: date | None) -> list[dict[str, Any]]:
    with _reading(reader.name, "reading the cow register"), reader.engine.connect() as conn:
        rows = conn.execute(query(since)).all()
    with _reading(reader.name, "converting the cow register"):
        return records(rows)


def digest(record: dict[str, Any]) -> str:
    return hashlib.blake2b(orjson.dumps(record), digest_size=8).hexdigest()


def as_batch(items: list[dict[str, Any]]) -> Batch:
    """Records in the shape the uploader splits and encodes (row objects, keyed by cow)."""
    return Batch({name: [item[name] for item in items] for name in NAMES}, ID)
