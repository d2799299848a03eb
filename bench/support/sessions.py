"""Plausible milking sessions of a robot farm, in the contract's wire shape, for benchmarks.

Values carry sensor-like noise at the precision DelPro stores (kg and mS/cm to 0.01, blood in
ppm, seconds), cows keep their own levels, robots serve fixed groups of cows, and optional sensors
are sometimes absent (cell counts are sampled on a fraction of milkings): what decides how well
a batch compresses and how much work validation does."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any


@dataclass
class _Cow:
    number: str
    unit: str
    yield_per_milking: float
    conductivity: float
    quarter_offsets: tuple[float, float, float, float]
    lactation: int
    days_in_milk: int


def farm_sessions(
    count: int,
    *,
    cows: int = 240,
    units: int = 4,
    seed: int = 1,
    first_transaction_id: int = 4_200_000,
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC),
) -> list[dict[str, Any]]:
    """`count` sessions in transaction-id order, as an agent would read them."""
    rng = random.Random(seed)
    herd = [
        _Cow(
            number=str(rng.randint(100, 2999)),
            unit=f"VMS {1 + i % units}",
            yield_per_milking=rng.gauss(11.5, 2.5),
            conductivity=rng.gauss(5.0, 0.35),
            quarter_offsets=(rng.gauss(0, 0.15), rng.gauss(0, 0.15), rng.gauss(0, 0.15), rng.gauss(0, 0.15)),
            lactation=rng.choice((1, 1, 2, 2, 3, 3, 4, 5, 6)),
            days_in_milk=rng.randint(1, 380),
        )
        for i in range(cows)
    ]
    # ~2.8 milkings per cow and day, spread over the robots.
    mean_gap_s = 86_400 / (cows * 2.8)
    t = start
    rows = []
    transaction_id = first_transaction_id
    for _ in range(count):
        t += timedelta(seconds=rng.expovariate(1 / mean_gap_s))
        cow = rng.choice(herd)
        rows.append(_session(rng, cow, transaction_id, t))
        transaction_id += 1 if rng.random() > 0.01 else rng.randint(2, 5)  # rare gaps
    return rows


def _r(x: float, digits: int = 2, low: float = 0.0, high: float = 1e9) -> float:
    return round(min(max(x, low), high), digits)


def _session(rng: random.Random, cow: _Cow, transaction_id: int, started: datetime) -> dict[str, Any]:
    yield_kg = max(rng.gauss(cow.yield_per_milking, 1.2), 1.0)
    shares = [0.21, 0.21, 0.29, 0.29]
    quarters = [max(yield_kg * s * rng.gauss(1, 0.06), 0.0) for s in shares]
    cond = [cow.conductivity + off + rng.gauss(0, 0.12) for off in cow.quarter_offsets]
    flows = [max(rng.gauss(0.75, 0.12), 0.05) for _ in range(4)]
    duration = int(max(rng.gauss(380, 60), 90))
    ended = started + timedelta(seconds=duration + rng.randint(40, 140))
    blood = max(rng.gauss(40, 30), 0.0) if rng.random() < 0.9 else rng.uniform(200, 2500)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "transaction_id": transaction_id,
        "unit": cow.unit,
        "animal_id": cow.number,
        "started_at": started.strftime(iso),
        "ended_at": ended.strftime(iso),
        "yield_kg": _r(yield_kg, high=50),
        "expected_yield_kg": _r(cow.yield_per_milking + rng.gauss(0, 0.4), high=50),
        "conductivity_avg": _r(sum(cond) / 4, high=20),
        "conductivity_max": _r(max(cond) + abs(rng.gauss(0, 0.1)), high=20),
        "conductivity_lf": _r(cond[0], high=20),
        "conductivity_rf": _r(cond[1], high=20),
        "conductivity_lr": _r(cond[2], high=20),
        "conductivity_rr": _r(cond[3], high=20),
        "yield_lf": _r(quarters[0], high=25),
        "yield_rf": _r(quarters[1], high=25),
        "yield_lr": _r(quarters[2], high=25),
        "yield_rr": _r(quarters[3], high=25),
        "blood_avg": _r(blood, 0, high=10_000),
        "blood_max": _r(blood * rng.uniform(1.2, 2.5), 0, high=10_000),
        "flow_avg": _r(sum(flows) * 0.9, high=15),
        "flow_peak": _r(sum(flows) * rng.uniform(1.2, 1.6), high=15),
        "duration_s": duration,
        "cell_count": int(rng.lognormvariate(4.6, 0.7)) if rng.random() < 0.25 else None,
        "mdi": _r(rng.gauss(1.2, 0.3), 1, high=10) if rng.random() < 0.95 else None,
        "incomplete": rng.random() < 0.03,
        "kickoff": rng.random() < 0.01,
        "lactation_number": cow.lactation,
        "days_in_milk": cow.days_in_milk + (started.toordinal() - 739_000) % 5,
    }


def to_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The column-oriented shape of the same rows."""
    names = list(rows[0]) if rows else []
    return {name: [row[name] for row in rows] for name in names}
