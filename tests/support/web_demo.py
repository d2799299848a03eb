"""Farms with a month of milkings, a few sick cows with alerts, and people who can sign in: the
data the browser tests and the web benchmark look at.

Milkings go in through the product's own door, the ingest API (`POST /api/v1/ingest`, gzip, with
the farm's agent key), as the farm agent would send them. Where the AI engine scores ingested
milkings it raises the alerts itself; where it does not (yet), the sick cows' alerts are written
as the database owner, with reasons that match their milkings.
"""

from __future__ import annotations

import gzip
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson

from pecus.cloud.database import connect
from tests.support.api import FarmKey, create_farm_with_key

PASSWORD = "barn-at-5am"
BATCH_ROWS = 2000
QUARTER_WORDS = {"lf": "front-left", "rf": "front-right", "lr": "rear-left", "rr": "rear-right"}
ALERT_COLUMNS = (
    "tenant_id, animal_id, unit, source_id, transaction_id, risk_score, level, status, reasons, created_at"
)


@dataclass
class SickCow:
    animal_id: str
    quarter: str
    onset: datetime
    level: str
    risk: float


@dataclass
class DemoFarm:
    key: FarmKey
    name: str
    time_zone: str
    owner_email: str
    cows: list[str]
    units: list[str]
    sick: list[SickCow] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    """Open mastitis alerts, highest risk first."""
    alert_cows: list[str] = field(default_factory=list)
    """The cows of `alert_ids`, in the same order."""

    @property
    def farm_id(self) -> uuid.UUID:
        return self.key.farm_id


def _cow_milkings(
    rng: random.Random, farm: DemoFarm, animal: str, unit: str, days: int, now: datetime, sick: SickCow | None
) -> list[dict[str, Any]]:
    """One cow's milkings every ~8 h for `days` days; a sick cow's quarter turns from its onset."""
    base_yield = rng.uniform(9.0, 14.0)
    base_cond = {q: rng.uniform(4.5, 5.3) for q in ("lf", "rf", "lr", "rr")}
    lactation = rng.randint(1, 5)
    calved = now - timedelta(days=rng.randint(days + 10, 300))
    rows = []
    t = now - timedelta(days=days) + timedelta(minutes=rng.randint(0, 540))
    while t < now - timedelta(minutes=10):
        ill = sick is not None and t >= sick.onset
        severity = min(1.0, (t - sick.onset).total_seconds() / 86_400) if ill and sick else 0.0
        cond = {q: round(v + rng.gauss(0, 0.12), 2) for q, v in base_cond.items()}
        yield_kg = base_yield + rng.gauss(0, 0.8)
        blood = max(0.0, rng.gauss(25, 15))
        if ill and sick:
            cond[sick.quarter] = round(cond[sick.quarter] * (1 + 0.35 * severity), 2)
            yield_kg *= 1 - 0.25 * severity
            blood += 900 * severity
        low = sick.quarter if ill and sick else None
        quarter_yield = {q: round(yield_kg / 4 * (0.6 if q == low else 1.0), 2) for q in cond}
        duration = rng.randint(320, 480)
        rows.append(
            {
                "transaction_id": 0,  # numbered in time order below
                "unit": unit,
                "animal_id": animal,
                "started_at": t.isoformat(),
                "ended_at": (t + timedelta(seconds=duration)).isoformat(),
                "yield_kg": round(max(yield_kg, 1.0), 2),
                "expected_yield_kg": round(base_yield, 2),
                "conductivity_avg": round(sum(cond.values()) / 4, 2),
                "conductivity_max": max(cond.values()),
                **{f"conductivity_{q}": v for q, v in cond.items()},
                **{f"yield_{q}": v for q, v in quarter_yield.items()},
                "blood_avg": round(blood, 1),
                "blood_max": round(blood * 1.6, 1),
                "flow_avg": round(rng.uniform(2.0, 3.0), 2),
                "flow_peak": round(rng.uniform(3.2, 4.2), 2),
                "duration_s": duration,
                "incomplete": False,
                "kickoff": False,
                "lactation_number": lactation,
                "days_in_milk": (t - calved).days,
            }
        )
        t += timedelta(hours=rng.uniform(7.4, 8.8))
    return rows


def _ingest(client: httpx.Client, farm: DemoFarm, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH_ROWS):
        body = {
            "farm_id": str(farm.farm_id),
            "source": "delpro",
            "agent": {"version": "1.0.0", "host": "farm-pc"},
            "rows": rows[start : start + BATCH_ROWS],
        }
        response = client.post(
            "/api/v1/ingest",
            content=gzip.compress(orjson.dumps(body)),
            headers={**farm.key.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        response.raise_for_status()


def _add_alerts(database_url: str, farm: DemoFarm, now: datetime) -> None:
    """Open alerts for the sick cows (reasons from their own milkings), and older closed ones."""
    with connect(database_url) as conn:
        for cow in farm.sick:
            # The AI engine's shape (pecus.ai.reasons): {signal, value, quarter?, text}.
            words = QUARTER_WORDS[cow.quarter]
            reasons = [
                {"signal": "conductivity", "quarter": cow.quarter, "value": 0.31,
                 "text": f"{words} conductivity +31 % vs her 7-day level"},
                {"signal": "blood", "value": 820.0, "text": "blood in milk (820 ppm)"},
                {"signal": "yield", "value": -0.19, "text": "yield −19 % vs expected"},
            ]  # fmt: skip
            created = cow.onset + timedelta(hours=10)
            # The alert is raised on the milking nearest to its time (the model scores milkings).
            row = conn.execute(
                f"INSERT INTO alerts ({ALERT_COLUMNS})"
                " SELECT %s, %s, unit, source_id, transaction_id, %s, %s, 'new', %s, %s"
                " FROM milking_sessions WHERE tenant_id = %s AND animal_id = %s"
                " ORDER BY abs(extract(epoch FROM started_at - %s)) LIMIT 1 RETURNING alert_id",
                [farm.farm_id, cow.animal_id, cow.risk, cow.level, orjson.dumps(reasons).decode(), created,
                 farm.farm_id, cow.animal_id, created],
            ).fetchone()  # fmt: skip
            assert row is not None
        for status, days_ago in (("false_positive", 12), ("resolved", 20)):
            conn.execute(
                f"INSERT INTO alerts ({ALERT_COLUMNS})"
                " VALUES (%s, %s, %s, NULL, NULL, 0.61, 'warning', %s, %s, %s)",
                [farm.farm_id, farm.cows[5], farm.units[0], status,
                 orjson.dumps([{"signal": "conductivity", "quarter": "rf", "value": 0.18,
                               "text": "front-right conductivity +18 % vs her 7-day level"}]).decode(),
                 now - timedelta(days=days_ago)],
            )  # fmt: skip


def _add_owner(database_url: str, farm: DemoFarm) -> None:
    from pecus.cloud.auth.users import create_user

    with connect(database_url) as conn:
        create_user(conn, farm.owner_email, str(farm.farm_id), "owner", PASSWORD)


def seed_demo_farm(
    database_url: str,
    api_url: str,
    *,
    name: str,
    cows: int = 40,
    days: int = 35,
    sick: int = 3,
    seed: int = 1,
    time_zone: str = "Europe/Rome",
    first_cow: int = 1000,
    silent_unit_hours: float = 0,
) -> DemoFarm:
    """A farm with `cows` cows milked on two robots for `days` days, `sick` of them sick for about a
    day with open alerts, and an owner. `silent_unit_hours`: Robot 2 stopped milking that long ago."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    full_name = f"{name} {uuid.uuid4().hex[:6]}"
    key = create_farm_with_key(database_url, full_name, time_zone)
    farm = DemoFarm(
        key=key,
        name=full_name,
        time_zone=time_zone,
        owner_email=f"owner-{uuid.uuid4().hex[:8]}@example.it",
        cows=[str(first_cow + 7 * i) for i in range(cows)],
        units=["Robot 1", "Robot 2"],
    )
    levels = [("critical", 0.93), ("warning", 0.78), ("warning", 0.66), ("warning", 0.62)]
    for i in range(sick):
        level, risk = levels[i % len(levels)]
        onset = now - timedelta(hours=30 + 9 * i)
        farm.sick.append(SickCow(farm.cows[i * 3 + 1], ("lf", "rr", "rf", "lr")[i % 4], onset, level, risk))
    sick_by_cow = {s.animal_id: s for s in farm.sick}
    rows: list[dict[str, Any]] = []
    for index, animal in enumerate(farm.cows):
        unit = farm.units[index % len(farm.units)]
        milkings = _cow_milkings(rng, farm, animal, unit, days, now, sick_by_cow.get(animal))
        if silent_unit_hours and unit == farm.units[1]:
            stop = (now - timedelta(hours=silent_unit_hours)).isoformat()
            milkings = [m for m in milkings if m["started_at"] < stop]
        rows.extend(milkings)
    rows.sort(key=lambda r: r["started_at"])
    for number, row in enumerate(rows, start=1):
        row["transaction_id"] = number
    with httpx.Client(base_url=api_url, timeout=60) as client:
        _ingest(client, farm, rows)
    _wait_for_scoring(database_url, farm.farm_id)
    raised = "SELECT count(*) FROM alerts WHERE tenant_id = %s AND kind = 'mastitis'"
    if not _count(database_url, raised, farm.farm_id):
        _add_alerts(database_url, farm, now)
    farm.alert_ids, farm.alert_cows = _open_alerts(database_url, farm.farm_id)
    _add_owner(database_url, farm)
    return farm


def _count(database_url: str, sql: str, farm_id: uuid.UUID) -> int:
    with connect(database_url) as conn:
        row = conn.execute(sql, [farm_id]).fetchone()
    assert row is not None
    return int(row[0] or 0)


def _wait_for_scoring(database_url: str, farm_id: uuid.UUID, stalled_s: float = 5.0) -> None:
    """Where the AI engine scores milkings after each ingest commit (in the background), wait until
    every milking has its score, or until scoring has made no progress for `stalled_s` (no model
    loaded, say); at most 120 s. Without the engine's score table there is nothing to wait for."""
    with connect(database_url) as conn:
        row = conn.execute("SELECT to_regclass('public.session_scores') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return
    sessions = _count(database_url, "SELECT count(*) FROM milking_sessions WHERE tenant_id = %s", farm_id)
    scored_sql = "SELECT count(*) FROM session_scores WHERE tenant_id = %s"
    deadline = time.monotonic() + 120
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        scored = _count(database_url, scored_sql, farm_id)
        if scored >= sessions:
            return
        if scored != last:
            last, since = scored, time.monotonic()
        elif time.monotonic() - since > stalled_s:
            return
        time.sleep(0.25)


def _open_alerts(database_url: str, farm_id: uuid.UUID) -> tuple[list[int], list[str]]:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT alert_id, animal_id FROM alerts WHERE tenant_id = %s AND kind = 'mastitis'"
            " AND status IN ('new', 'acknowledged') ORDER BY risk_score DESC NULLS LAST, alert_id",
            [farm_id],
        ).fetchall()
    return [int(r[0]) for r in rows], [str(r[1]) for r in rows]


def add_vet(database_url: str, *farms: DemoFarm) -> str:
    """A vet invited on several farms; returns the e-mail (password: PASSWORD)."""
    from pecus.cloud.auth.users import create_user

    email = f"vet-{uuid.uuid4().hex[:8]}@example.it"
    with connect(database_url) as conn:
        for farm in farms:
            create_user(conn, email, str(farm.farm_id), "vet", PASSWORD)
    return email


def cows_at_risk(database_url: str, farm_id: uuid.UUID) -> int:
    """What the headline must say: cows with an open mastitis alert, counted by the database."""
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT animal_id) FROM alerts WHERE tenant_id = %s AND kind = 'mastitis'"
            " AND status IN ('new', 'acknowledged')",
            [farm_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


def alert_status(database_url: str, farm_id: uuid.UUID, alert_id: int) -> str:
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT status FROM alerts WHERE tenant_id = %s AND alert_id = %s", [farm_id, alert_id]
        ).fetchone()
    assert row is not None
    return str(row[0])
