"""The demo farm's DelPro: a simulated SQLite database, and a "live robot" that keeps milking.

The source is written once with the AI engine's simulator (`pecus.ai.simulate`), history ending
now, with a few mastitis cases emerging in its last days. On the next run it is caught up to the
present and the live robot goes on from there: milkings are appended only once they have ended in
real time (`append_milkings(until=now)`), never ahead of it, as a robot would write them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

EMERGING_CASES = 3
LIVE_DAYS = 30.0  # milkings simulated ahead for the live robot: a month of resumed demos
ROBOTS = 2


@dataclass(frozen=True)
class SourceReady:
    url: str
    created: bool
    rows: int
    appended: int  # milkings added now to catch up with the present (an existing source)
    exhausted: bool  # the simulated horizon is used up: the live robot has nothing more to add


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def ensure_source(path: Path, *, cows: int, days: float, seed: int, time_zone: str) -> SourceReady:
    """The simulated DelPro at `path`: created (history ending now) or caught up to now."""
    from pecus.ai.simulate import append_milkings

    url = sqlite_url(path)
    if path.exists():
        result = append_milkings(url, until=datetime.now(UTC))
        return SourceReady(url, False, count_rows(path)[0], result.rows, result.exhausted)
    _create(path, cows=cows, days=days, seed=seed, time_zone=time_zone)
    return SourceReady(url, True, count_rows(path)[0], 0, False)


def _create(path: Path, *, cows: int, days: float, seed: int, time_zone: str) -> None:
    from pecus.ai.simulate import FarmParams, simulate_farm, write_delpro, write_files

    params = dataclasses.replace(
        FarmParams(), time_zone=time_zone, cows_per_robot=max(1, math.ceil(cows / ROBOTS))
    )
    sim = simulate_farm(cows, days, seed, params=params, future_days=LIVE_DAYS, emerging_cases=EMERGING_CASES)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside and renamed into place: an interrupted first run leaves no half source behind.
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    write_delpro(sim, sqlite_url(partial))
    write_files(sim, path.parent)  # sessions.csv and cases.csv: the answer key
    os.replace(partial, path)
    with sqlite3.connect(path) as conn:
        # Readers (the agent) and the writer (the live robot) do not block each other.
        conn.execute("PRAGMA journal_mode=WAL")


def count_rows(path: Path) -> tuple[int, int]:
    """(milkings, highest OID) in the source, read-only."""
    with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as conn:
        row = conn.execute('SELECT count(*), coalesce(max("OID"), 0) FROM "SessionMilkYield"').fetchone()
    return int(row[0]), int(row[1])


class LiveRobot:
    """Every `every` seconds, append the milkings that ended since the last time."""

    def __init__(
        self,
        url: str,
        every: float,
        on_milkings: Callable[[int, int | None], None],
        on_exhausted: Callable[[], None],
    ) -> None:
        self.url = url
        self.every = every
        self.on_milkings = on_milkings
        self.on_exhausted = on_exhausted
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-robot", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for an append in progress to commit."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        from pecus.ai.simulate import append_milkings

        while not self._stop.wait(self.every):
            try:
                result = append_milkings(self.url, until=datetime.now(UTC))
            except Exception:
                log.exception("live robot: could not append milkings; trying again")
                continue
            if result.rows:
                self.on_milkings(result.rows, result.last_oid)
            if result.exhausted:
                self.on_exhausted()
                return
