"""A plain generator of DelPro-shaped source databases for the agent's benchmarks.

The simulator (`pecus.ai.simulate`) had not landed when these benchmarks were written, so this
writes the same tables (`pecus.agent.delpro`) with plain SQL into SQLite: a robot farm whose
cows are milked about three times a day, with realistic sensor noise (so the wire size is honest)
and local times in Europe/Rome (a year holds both daylight-saving changes). Deterministic for a
seed; the file is cached by row count and seed, since writing a million rows takes a while.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine

from pecus.agent import delpro

CACHE = Path(__file__).resolve().parents[1] / "results" / "cache"
START = datetime(2025, 1, 1)
FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's storage format for DateTime on SQLite
VERSION = 1  # bump when the generated data changes


def _ts(value: datetime) -> str:
    return value.strftime(FORMAT)


def source_database(rows: int, *, cows: int = 1000, robots: int = 16, seed: int = 7) -> Path:
    """A SQLite DelPro with `rows` milkings (from the cache when already made); returns its path."""
    path = CACHE / f"delpro-v{VERSION}-{rows}-{cows}-{robots}-{seed}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _write(partial, rows, cows, robots, seed)
        partial.rename(path)
    return path


def _write(path: Path, rows: int, cows: int, robots: int, seed: int) -> None:
    engine = create_engine(f"sqlite:///{path}")
    delpro.metadata.create_all(engine)
    engine.dispose()
    rng = random.Random(seed)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=OFF")
    conn.execute("PRAGMA synchronous=OFF")

    robot_of = {cow: 1 + cow % robots for cow in range(1, cows + 1)}
    calving: dict[int, list[datetime]] = {}
    animals: list[tuple[int, int, str, str]] = []
    lactations: list[tuple[int, int, int, str, str | None]] = []
    for cow in range(1, cows + 1):
        animals.append((cow, 1000 + cow, f"Cow {cow}", _ts(START - timedelta(days=rng.randint(900, 3000)))))
        first = START - timedelta(days=rng.randint(5, 380))
        starts = [first]
        while starts[-1] < START + timedelta(days=800):
            starts.append(starts[-1] + timedelta(days=rng.randint(330, 410)))
        calving[cow] = starts
        number = rng.randint(1, 5)
        for i, begin in enumerate(starts):
            closed = _ts(starts[i + 1]) if i + 1 < len(starts) else None
            lactations.append((len(lactations) + 1, cow, min(20, number + i), _ts(begin), closed))
    conn.executemany(
        'INSERT INTO "BasicAnimal" ("OID", "Number", "Name", "BirthDate") VALUES (?, ?, ?, ?)', animals
    )
    conn.executemany(
        'INSERT INTO "AnimalLactationSummary" ("OID", "Animal", "LactationNumber", "StartDate", "EndDate")'
        " VALUES (?, ?, ?, ?, ?)",
        lactations,
    )
    # Each cow has her own level; each day's milkings are ordered by time, so OIDs rise with time.
    level = {cow: rng.gauss(11.0, 2.0) for cow in range(1, cows + 1)}
    base_cond = {cow: rng.gauss(4.8, 0.3) for cow in range(1, cows + 1)}
    oid, day = 0, 0
    smy_sql = (
        'INSERT INTO "SessionMilkYield" ("OID", "BasicAnimal", "MilkingDevice", "BeginTime", "EndTime",'
        ' "TotalYield", "ExpectedYield", "AvgConductivity", "MaxConductivity", "MilkFlowDuration")'
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    vsmy_sql = f'INSERT INTO "VoluntarySessionMilkYield" VALUES ({", ".join("?" * 23)})'
    while oid < rows:
        today = START + timedelta(days=day)
        events = []
        for cow in range(1, cows + 1):
            times = 3 if rng.random() < 0.5 else rng.choice((2, 4))
            for k in range(times):
                minute = int((k + rng.random()) * 1440 / times)
                events.append((today + timedelta(minutes=minute, seconds=rng.randint(0, 59)), cow))
        events.sort()
        smy, vsmy = [], []
        for begin, cow in events:
            oid += 1
            if oid > rows:
                break
            total = max(0.5, min(40.0, rng.gauss(level[cow], 1.8)))
            duration = int(max(120, min(1500, rng.gauss(420, 90))))
            quarters = [max(0.1, total / 4 * rng.gauss(1.0, 0.12)) for _ in range(4)]
            conds = [max(2.0, min(15.0, rng.gauss(base_cond[cow], 0.25))) for _ in range(4)]
            mean_flows = [max(0.2, min(6.0, rng.gauss(1.6, 0.3))) for _ in range(4)]
            end = begin + timedelta(seconds=duration + 60)
            smy.append((
                oid, cow, robot_of[cow], _ts(begin), _ts(end), round(total, 2), round(level[cow], 1),
                round(sum(conds) / 4, 2), round(max(conds), 2), duration,
            ))  # fmt: skip
            peaks = [f * rng.uniform(1.3, 1.9) for f in mean_flows]
            vsmy.append((
                oid, *(round(c, 2) for c in conds), *(round(q, 2) for q in quarters),
                *(round(f, 2) for f in mean_flows), *(round(f, 2) for f in peaks),
                round(rng.uniform(0, 300), 0), round(rng.uniform(100, 900), 0),
                int(rng.lognormvariate(4.5, 0.8)) % 20000, round(rng.uniform(0.5, 3.5), 2),
                1 if rng.random() < 0.03 else 0, 1 if rng.random() < 0.01 else 0,
            ))  # fmt: skip
        conn.executemany(smy_sql, smy)
        conn.executemany(vsmy_sql, vsmy)
        day += 1
    conn.commit()
    conn.close()


def take(source: Path, rows: int, target: Path) -> Path:
    """A copy of `source` holding only its first `rows` milkings (for a smaller backlog)."""
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(source)
    conn.execute(f"VACUUM INTO '{target}'")
    conn.close()
    conn = sqlite3.connect(target)
    conn.execute('DELETE FROM "VoluntarySessionMilkYield" WHERE "OID" > ?', [rows])
    conn.execute('DELETE FROM "SessionMilkYield" WHERE "OID" > ?', [rows])
    conn.commit()
    conn.close()
    return target
