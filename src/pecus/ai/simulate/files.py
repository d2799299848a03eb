"""The simulated farm as files: sessions in the contract's columns and the case labels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pecus.ai.simulate.farm import FarmSimulation
from pecus.contract.session import SESSION_COLUMNS

CASE_COLUMNS = ("animal_id", "quarter", "diagnosed_at", "severity")


def _iso(times: pd.Series) -> pd.Series:
    return times.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def sessions_csv_frame(sessions: pd.DataFrame) -> pd.DataFrame:
    """Sessions as the contract's CSV: UTC ISO-8601 times, true/false flags, empty = null."""
    out = sessions[[c for c in SESSION_COLUMNS if c in sessions.columns]].copy()
    for name in ("started_at", "ended_at"):
        out[name] = _iso(out[name])
    for name in ("incomplete", "kickoff"):
        out[name] = out[name].map({True: "true", False: "false"})
    return out


def write_files(sim: FarmSimulation, folder: Path, *, rows: int | None = None) -> tuple[Path, Path]:
    """`sessions.csv` (the history, or the first `rows` milkings) and `cases.csv` (every case of
    the simulated horizon; a case diagnosed after the last milking is still emerging)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = sim.history_rows() if rows is None else rows
    sessions_path, cases_path = folder / "sessions.csv", folder / "cases.csv"
    sessions_csv_frame(sim.sessions.iloc[:count]).to_csv(sessions_path, index=False)
    cases = sim.cases[list(CASE_COLUMNS)].copy()
    cases["diagnosed_at"] = _iso(cases["diagnosed_at"])
    cases.to_csv(cases_path, index=False)
    return sessions_path, cases_path
