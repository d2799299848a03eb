"""The agent benchmarks' local DelPro: a simulated robot farm (`pecus.ai.simulate`) written into
SQLite with the simulator's own `write_delpro`, exactly the tables the agent reads.

A year of 1,350 cows (≈ 23 robots) is ≈ 1.1 M milkings, the catch-up of issue 4. The farm
starts on a fixed date, so the file depends only on its parameters and the simulator; it is cached
by them under `bench/results/cache/` (writing it takes about a minute). Bump VERSION when the
simulator's output changes.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from pecus.ai.simulate import simulate_farm, write_delpro

CACHE = Path(__file__).resolve().parents[1] / "results" / "cache"
COWS, DAYS, SEED = 1350, 365, 7
START = datetime(2025, 1, 1, tzinfo=UTC)  # a year that holds both daylight-saving changes
VERSION = 2  # 2: with the farmer's treatments (HistoryAnimalTreatment)


def source_database(*, cows: int = COWS, days: int = DAYS, seed: int = SEED) -> Path:
    """The simulated farm's DelPro in SQLite (from the cache when already written); its path."""
    path = CACHE / f"simulated-delpro-v{VERSION}-{cows}-{days}-{seed}.db"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        write_delpro(simulate_farm(cows, days, seed, start=START), f"sqlite:///{partial}")
        partial.rename(path)
    return path


def milkings(source: Path) -> int:
    with sqlite3.connect(source) as conn:
        row = conn.execute('SELECT count(*) FROM "SessionMilkYield"').fetchone()
    return int(row[0])


def take(source: Path, rows: int, target: Path) -> Path:
    """A copy of `source` holding only its first `rows` milkings (a smaller backlog)."""
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(source)
    conn.execute(f"VACUUM INTO '{target}'")
    conn.close()
    conn = sqlite3.connect(target)
    (last,) = conn.execute(
        'SELECT max("OID") FROM (SELECT "OID" FROM "SessionMilkYield" ORDER BY "OID" LIMIT ?)', [rows]
    ).fetchone()
    # Treatments recorded after the last kept milking had not happened yet either.
    conn.execute(
        'DELETE FROM "HistoryAnimalTreatment" WHERE "TreatStartDate" >'
        ' (SELECT "EndTime" FROM "SessionMilkYield" WHERE "OID" = ?)',
        [last],
    )
    conn.execute('DELETE FROM "VoluntarySessionMilkYield" WHERE "OID" > ?', [last])
    conn.execute('DELETE FROM "SessionMilkYield" WHERE "OID" > ?', [last])
    conn.commit()
    conn.execute("VACUUM")
    conn.close()
    return target
