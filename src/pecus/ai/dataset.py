"""Labelled feature sets: simulated farms (truth from the simulator) and farm feedback.

A session is *positive* when it lies in the 48 h before a clinical diagnosis (the window of the
field's target, Hogeveen et al. 2010) and *healthy* when no clinical case of its cow is within
7 days before or 14 days after it. Everything else (the days just before the window, treatment
and recovery) counts as neither, in training and in evaluation, as in Kamphuis et al. 2010.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from pecus.ai.features import CONTEXT, FEATURES, compute_features
from pecus.ai.simulate import FarmParams, SimulationConfig, simulate
from pecus.ai.simulate.farm import FarmSimulation

log = logging.getLogger(__name__)

WINDOW_H = 48.0
# Sessions from 7 days before to 14 days after a diagnosis belong to its case (not healthy).
CASE_BEFORE_H = 7 * 24.0
CASE_AFTER_H = 14 * 24.0


@dataclass
class LabelledSet:
    """Features of sessions with their truth. `case` is -1 for healthy sessions, a case number
    (unique within the set) for sessions near a case; `hours_to_diagnosis` is positive before."""

    features: pd.DataFrame
    farm: np.ndarray
    animal: np.ndarray
    seconds: np.ndarray
    case: np.ndarray
    hours_to_diagnosis: np.ndarray
    weight: np.ndarray
    # One row per case: farm, case, severity (for per-severity figures).
    cases: pd.DataFrame = field(default_factory=pd.DataFrame)
    description: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def positive(self) -> np.ndarray:
        return (self.hours_to_diagnosis >= 0) & (self.hours_to_diagnosis <= WINDOW_H)

    @property
    def healthy(self) -> np.ndarray:
        return self.case < 0

    @property
    def trainable(self) -> np.ndarray:
        return self.positive | self.healthy

    def subset(self, mask: np.ndarray) -> LabelledSet:
        return LabelledSet(
            self.features[mask].reset_index(drop=True),
            self.farm[mask],
            self.animal[mask],
            self.seconds[mask],
            self.case[mask],
            self.hours_to_diagnosis[mask],
            self.weight[mask],
            self.cases,
            self.description,
        )

    @staticmethod
    def concat(sets: Sequence[LabelledSet]) -> LabelledSet:
        offset = 0
        cases, frames = [], []
        case_ids = []
        for s in sets:
            case_ids.append(np.where(s.case >= 0, s.case + offset, -1))
            if len(s.cases):
                c = s.cases.copy()
                c["case"] = c["case"] + offset
                cases.append(c)
            frames.append(s.features)
            offset += int(max(s.case.max(initial=-1), s.cases["case"].max() if len(s.cases) else -1)) + 1
        return LabelledSet(
            pd.concat(frames, ignore_index=True),
            np.concatenate([s.farm for s in sets]),
            np.concatenate([s.animal for s in sets]),
            np.concatenate([s.seconds for s in sets]),
            np.concatenate(case_ids),
            np.concatenate([s.hours_to_diagnosis for s in sets]),
            np.concatenate([s.weight for s in sets]),
            pd.concat(cases, ignore_index=True)
            if cases
            else pd.DataFrame(columns=["farm", "case", "severity"]),
            [d for s in sets for d in s.description],
        )


def from_simulation(sim: FarmSimulation, farm: int) -> LabelledSet:
    """The farm's history (not its future part) with features and truth."""
    rows = sim.history_rows()
    sessions = sim.sessions.iloc[:rows]
    labels = sim.labels.iloc[:rows]
    features = compute_features(sessions)[[*FEATURES, *CONTEXT]].reset_index(drop=True)
    cases = sim.cases[["case", "severity"]].copy()
    cases.insert(0, "farm", farm)
    cfg = sim.config
    return LabelledSet(
        features=features,
        farm=np.full(rows, farm),
        animal=sessions["animal_id"].to_numpy(dtype=str),
        seconds=sessions["started_at"].dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64),
        case=labels["case"].to_numpy(),
        hours_to_diagnosis=labels["hours_to_diagnosis"].to_numpy(),
        weight=np.ones(rows),
        cases=cases,
        description=[f"seed {cfg.seed}: {cfg.cows} cows x {cfg.days:g} days, {len(sim.cases)} cases"],
    )


def _farm_set(args: tuple[SimulationConfig, int]) -> LabelledSet:
    config, farm = args
    return from_simulation(simulate(config), farm)


@dataclass(frozen=True)
class FarmPlan:
    """A group of simulated farms: seeds `first_seed`, `first_seed + 1`, ...; each farm's
    parameters drawn around the defaults with `variation` (0 = defaults). `incidence_scale`
    enriches training farms with cases (calibration and test farms keep the real incidence)."""

    farms: int
    cows: int
    days: float
    first_seed: int
    variation: float = 1.0
    incidence_scale: float = 1.0

    def configs(self) -> list[SimulationConfig]:
        from datetime import UTC, datetime

        out = []
        for i in range(self.farms):
            seed = self.first_seed + i
            params = FarmParams().varied(seed * 7919, self.variation) if self.variation else FarmParams()
            params = dataclasses.replace(params, incidence=params.incidence * self.incidence_scale)
            out.append(SimulationConfig(self.cows, self.days, seed, datetime(2025, 1, 1, tzinfo=UTC), params))
        return out


def simulated_set(plan: FarmPlan, *, workers: int = 1, farm_offset: int = 0) -> LabelledSet:
    """Simulate the plan's farms and label them (in `workers` processes)."""
    jobs = [(cfg, farm_offset + i) for i, cfg in enumerate(plan.configs())]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            sets = list(pool.map(_farm_set, jobs))
    else:
        sets = [_farm_set(job) for job in jobs]
    for s in sets:
        log.info("simulated %s", s.description[0])
    return LabelledSet.concat(sets)


def day_index(seconds: np.ndarray) -> np.ndarray:
    return seconds // 86_400


def cow_days(data: LabelledSet, scores: np.ndarray) -> pd.DataFrame:
    """One row per cow-day: its highest score, and whether it is healthy (every session of the
    day healthy) or a case day (a session in a case's 48 h window)."""
    frame = pd.DataFrame(
        {
            "farm": data.farm,
            "animal": data.animal,
            "day": day_index(data.seconds),
            "score": scores,
            "healthy": data.healthy,
            "positive": data.positive,
        }
    )
    return frame.groupby(["farm", "animal", "day"], sort=False).agg(
        score=("score", "max"), healthy=("healthy", "all"), positive=("positive", "any")
    )


def iter_chunks(n: int, size: int) -> Iterable[slice]:
    for i in range(0, n, size):
        yield slice(i, min(i + size, n))
