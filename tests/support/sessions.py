"""Milking-session rows in the contract's wire shape, for tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

BASE_TIME = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)


def session_row(
    transaction_id: int, *, animal: str | None = None, unit: str = "Robot 1", **overrides: Any
) -> dict[str, Any]:
    """A valid session; `overrides` replace or add fields (use a value of `...` to drop a field)."""
    started = BASE_TIME + timedelta(minutes=7 * transaction_id)
    row: dict[str, Any] = {
        "transaction_id": transaction_id,
        "unit": unit,
        "animal_id": animal or str(100 + transaction_id % 40),
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=6)).isoformat(),
        "yield_kg": 11.5 + (transaction_id % 7) * 0.4,
        "conductivity_lf": 5.1,
        "conductivity_rf": 5.3,
        "conductivity_lr": 5.0,
        "conductivity_rr": 5.2,
        "yield_lf": 2.9,
        "yield_rf": 3.0,
        "yield_lr": 2.8,
        "yield_rr": 2.8,
        "flow_avg": 2.4,
        "duration_s": 372,
        "incomplete": False,
        "kickoff": False,
        "lactation_number": 2,
        "days_in_milk": 120,
        "mdi": None,
    }
    return altered(row, **overrides)


def altered(row: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of `row` with fields replaced; a value of `...` removes the field."""
    row = dict(row)
    for name, value in changes.items():
        if value is ...:
            row.pop(name, None)
        else:
            row[name] = value
    return row


def batch(
    farm_id: object, rows: list[dict[str, Any]], *, source: str = "delpro", **extra: Any
) -> dict[str, Any]:
    return {
        "farm_id": str(farm_id),
        "source": source,
        "agent": {"version": "1.0.0", "host": "farm-pc"},
        "rows": rows,
        **extra,
    }


def as_columns(body: dict[str, Any]) -> dict[str, Any]:
    """The same batch in the column-oriented shape."""
    rows = body["rows"]
    names = list(dict.fromkeys(name for row in rows for name in row))
    columns = {name: [row.get(name) for row in rows] for name in names}
    return {**{k: v for k, v in body.items() if k != "rows"}, "columns": columns}
