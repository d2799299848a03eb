"""A small herd with known milkings, written as the database owner with COPY (as bulk loads do),
plus the hand computations the dashboard's numbers are checked against."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from statistics import fmean
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from pecus.cloud.farms import create_farm

COPY_COLUMNS = (
    "tenant_id", "source_id", "transaction_id", "unit", "animal_id", "started_at", "ended_at", "yield_kg",
    "conductivity_avg", "conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr",
    "blood_avg", "flow_avg", "lactation_number", "days_in_milk", "mdi", "received_at",
)  # fmt: skip
METRICS = ("conductivity_avg", "conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr",
           "blood_avg", "flow_avg")  # fmt: skip


@dataclass
class Herd:
    farm_id: uuid.UUID
    source_id: int
    time_zone: str
    sessions: list[dict[str, Any]] = field(default_factory=list)
    next_id: int = 1

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def local_day(self, t: datetime) -> date:
        return t.astimezone(self.zone).date()


def new_herd(conn: psycopg.Connection[Any], time_zone: str = "Europe/Rome", name: str | None = None) -> Herd:
    farm = create_farm(conn, name or f"Herd {uuid.uuid4().hex[:8]}", time_zone)
    row = conn.execute(
        "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm]
    ).fetchone()
    assert row is not None
    return Herd(farm, int(row[0]), time_zone)


def milking(
    herd: Herd, animal: str, started_at: datetime, yield_kg: float, unit: str = "Robot 1", **values: Any
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tenant_id": herd.farm_id,
        "source_id": herd.source_id,
        "transaction_id": herd.next_id,
        "unit": unit,
        "animal_id": animal,
        "started_at": started_at,
        "ended_at": started_at + timedelta(minutes=7),
        "yield_kg": yield_kg,
        **{m: None for m in METRICS},
        "lactation_number": 2,
        "days_in_milk": 100,
        "mdi": None,
        "received_at": started_at + timedelta(minutes=15),  # synced as it happens (hourly cycles)
    }
    row.update(values)
    herd.next_id += 1
    return row


def random_milkings(
    herd: Herd, animals: list[str], days: int, end: datetime | None = None, seed: int = 7
) -> list[dict[str, Any]]:
    """About 2.5 milkings a cow a day over `days` days up to `end`, with sensor gaps (None)."""
    rng = random.Random(seed)
    end = end or datetime.now(UTC) - timedelta(minutes=5)
    rows = []
    t = end - timedelta(days=days)
    while t < end:
        for animal in animals:
            if rng.random() < 0.42:
                continue
            # +30 s: no milking lands within half a minute of a whole-minute window boundary.
            started = t + timedelta(minutes=rng.randrange(0, 590), seconds=30)
            if started >= end:
                continue
            values = {m: round(rng.uniform(4.0, 7.5), 2) if rng.random() > 0.1 else None for m in METRICS}
            values["blood_avg"] = round(rng.uniform(0, 300), 1) if rng.random() > 0.3 else None
            values["flow_avg"] = round(rng.uniform(1.5, 3.5), 2)
            unit = rng.choice(["Robot 1", "Robot 2"])
            rows.append(milking(herd, animal, started, round(rng.uniform(6, 18), 2), unit, **values))
        t += timedelta(hours=10)
    return rows


def copy_sessions(conn: psycopg.Connection[Any], herd: Herd, rows: list[dict[str, Any]]) -> None:
    """COPY the sessions in (one statement, as a bulk load), registering cows and robots."""
    with conn.cursor() as cur:
        with cur.copy(f"COPY milking_sessions ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([r[c] for c in COPY_COLUMNS])
        cur.execute(
            "INSERT INTO animals (tenant_id, animal_id, lactation_number, last_session_at)"
            " SELECT tenant_id, animal_id, max(lactation_number), max(ended_at) FROM milking_sessions"
            " WHERE tenant_id = %s GROUP BY 1, 2"
            " ON CONFLICT (tenant_id, animal_id) DO UPDATE SET last_session_at = EXCLUDED.last_session_at",
            [herd.farm_id],
        )
        cur.execute(
            "INSERT INTO milking_units (tenant_id, unit, source_id, last_session_at)"
            " SELECT tenant_id, unit, %s, max(ended_at) FROM milking_sessions"
            " WHERE tenant_id = %s GROUP BY 1, 2"
            " ON CONFLICT (tenant_id, unit) DO UPDATE SET last_session_at = EXCLUDED.last_session_at",
            [herd.source_id, herd.farm_id],
        )
    herd.sessions.extend(rows)


def add_alert(
    conn: psycopg.Connection[Any],
    herd: Herd,
    session: dict[str, Any],
    risk: float,
    level: str = "warning",
    status: str = "new",
    created_at: datetime | None = None,
) -> int:
    row = conn.execute(
        "INSERT INTO alerts (tenant_id, animal_id, unit, source_id, transaction_id, risk_score, level,"
        " status, reasons, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
        " '[{\"signal\": \"conductivity_rr\", \"change_pct\": 34}]', coalesce(%s, now())) RETURNING alert_id",
        [herd.farm_id, session["animal_id"], session["unit"], herd.source_id, session["transaction_id"], risk,
         level, status, created_at],
    ).fetchone()  # fmt: skip
    assert row is not None
    return int(row[0])


def add_treatment(
    conn: psycopg.Connection[Any], herd: Herd, animal: str, started_at: datetime, diagnosis: str
) -> int:
    """A treatment as the agent syncs it from DelPro's HistoryAnimalTreatment; returns its id."""
    row = conn.execute(
        "INSERT INTO treatments (tenant_id, source_id, treatment_id, animal_id, lactation_number, started_at,"
        " duration_days, diagnosis, treatment)"
        " SELECT %s, %s, coalesce(max(treatment_id), 0) + 1, %s, 2, %s, 3, %s, 'Synulox'"
        " FROM treatments WHERE tenant_id = %s RETURNING treatment_id",
        [herd.farm_id, herd.source_id, animal, started_at, diagnosis, herd.farm_id],
    ).fetchone()
    assert row is not None
    return int(row[0])


def add_score(
    conn: psycopg.Connection[Any],
    herd: Herd,
    session: dict[str, Any],
    risk: float,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """The AI engine's score of one milking, as live scoring writes it (`tenant_id` overrides the
    farm: a row keyed like one of this herd's milkings but belonging to another farm)."""
    conn.execute(
        "INSERT INTO session_scores (tenant_id, source_id, transaction_id, animal_id, started_at, risk_score,"
        " model_version) VALUES (%s, %s, %s, %s, %s, %s, 'test')",
        [tenant_id or herd.farm_id, herd.source_id, session["transaction_id"], session["animal_id"],
         session["started_at"], risk],
    )  # fmt: skip


# --- hand computations ---------------------------------------------------------------------------


def herd_days_by_hand(herd: Herd, since_day: date) -> dict[date, dict[str, float | None]]:
    """The average cow's day: milk per milked cow, mean of each metric over the day's milkings."""
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for s in herd.sessions:
        day = herd.local_day(s["started_at"])
        if day >= since_day:
            by_day[day].append(s)
    result: dict[date, dict[str, float | None]] = {}
    for day, rows in by_day.items():
        cows = {r["animal_id"] for r in rows}
        out: dict[str, float | None] = {
            "cows": len(cows),
            "milkings": len(rows) / len(cows),
            "yield_kg": sum(r["yield_kg"] for r in rows) / len(cows),
        }
        for m in METRICS:
            values = [r[m] for r in rows if r[m] is not None]
            out[m] = fmean(values) if values else None
        result[day] = out
    return result


def cow_days_by_hand(herd: Herd, animal: str, since_day: date) -> dict[date, dict[str, float | None]]:
    by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for s in herd.sessions:
        if s["animal_id"] == animal and herd.local_day(s["started_at"]) >= since_day:
            by_day[herd.local_day(s["started_at"])].append(s)
    result: dict[date, dict[str, float | None]] = {}
    for day, rows in by_day.items():
        out: dict[str, float | None] = {"milkings": len(rows), "yield_kg": sum(r["yield_kg"] for r in rows)}
        for m in METRICS:
            values = [r[m] for r in rows if r[m] is not None]
            out[m] = fmean(values) if values else None
        result[day] = out
    return result
