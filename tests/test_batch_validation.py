"""The fast column-wise validation accepts and refuses exactly what MilkingSession does, in both
batch shapes, with the same problems reported."""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from pecus.cloud.batch_validation import BatchRejected, parse_batch
from pecus.contract import MilkingSession
from tests.support.sessions import as_columns, batch, session_row

MUTATIONS: list[tuple[str, Any]] = [
    ("yield_kg", -1),
    ("yield_kg", "12.5"),  # lax mode: a numeric string is accepted
    ("yield_kg", "heavy"),
    ("conductivity_lf", 20.01),
    ("conductivity_lf", None),
    ("transaction_id", 3.5),
    ("transaction_id", 2**63),
    ("unit", "x" * 65),
    ("animal_id", 1234),
    ("started_at", "2026-03-01T05:00:00"),
    ("started_at", "2026-03-02T05:00:00Z"),  # after ended_at
    ("ended_at", "yesterday"),
    ("incomplete", "yes"),
    ("incomplete", 1),
    ("lactation_number", 21),
    ("days_in_milk", -1),
    ("extra", {"k": "v"}),
    ("extra", ["not", "an", "object"]),
    ("mdi", ...),
    ("animal_id", ...),
    ("robot_serial", "X1"),
]


def outcome(body: dict[str, Any]) -> Any:
    try:
        return parse_batch(orjson.dumps(body), 5000).rows
    except BatchRejected as exc:
        return (exc.status, exc.code, exc.problems)


@pytest.mark.parametrize("seed", range(40))
def test_both_shapes_agree_with_the_contract(seed: int) -> None:
    rng = random.Random(seed)
    rows = [session_row(i, extra=None) for i in range(1, 9)]
    for _ in range(rng.randint(0, 3)):
        i = rng.randrange(len(rows))
        name, value = rng.choice(MUTATIONS)
        rows[i] = dict(rows[i])
        if value is ...:
            rows[i].pop(name, None)
        else:
            rows[i][name] = value
    body = batch("farm", rows)
    by_rows = outcome(body)
    keys = set(rows[0])
    if all(set(r) == keys for r in rows) and "robot_serial" not in keys:
        # The same rows as columns (a field left out of one row cannot be said in columns).
        assert outcome(as_columns(body)) == by_rows
    try:
        expected = [tuple(MilkingSession.model_validate(r).__dict__.values()) for r in rows]
    except ValidationError:
        assert isinstance(by_rows, tuple) and by_rows[0] == 422
    else:
        assert by_rows == expected
