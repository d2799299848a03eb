"""What the `pecus simulate` and `pecus model ...` commands do (the CLI only parses and prints)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pecus.ai.model import MastitisModel, resolve, save
from pecus.ai.training import Evaluation, TrainingPlan, TrainingResult, evaluate_model, train_model

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SimulationFiles:
    delpro_url: str
    sessions_csv: Path
    cases_csv: Path
    sessions: int
    cases: int
    cows: int


def simulate_to(
    out: Path,
    *,
    cows: int,
    days: float,
    seed: int,
    start: datetime | None = None,
    time_zone: str = "Europe/Rome",
    emerging_cases: int = 0,
    live_days: float = 0.0,
    delpro_url: str | None = None,
) -> SimulationFiles:
    """A simulated farm in `out`: DelPro database (SQLite file unless `delpro_url`), the
    labelled sessions CSV and the cases CSV."""
    from pecus.ai.simulate import FarmParams, simulate_farm, write_delpro, write_files

    sim = simulate_farm(
        cows,
        days,
        seed,
        start=start,
        params=dataclasses.replace(FarmParams(), time_zone=time_zone),
        future_days=live_days,
        emerging_cases=emerging_cases,
    )
    out.mkdir(parents=True, exist_ok=True)
    url = delpro_url or f"sqlite:///{(out / 'delpro.sqlite').resolve()}"
    written = write_delpro(sim, url)
    sessions_csv, cases_csv = write_files(sim, out)
    return SimulationFiles(url, sessions_csv, cases_csv, written, len(sim.cases), cows)


def plan_for(quick: bool) -> TrainingPlan:
    return TrainingPlan.tiny() if quick else TrainingPlan()


def train(
    *,
    out: Path,
    quick: bool = False,
    with_feedback: bool = False,
    register: bool = False,
    database_url: str | None = None,
) -> tuple[TrainingResult, Path]:
    feedback = None
    if with_feedback or register:
        from pecus.cloud.database import connect

        if with_feedback:
            from pecus.ai.feedback import load_feedback

            with connect(database_url) as conn:
                feedback = load_feedback(conn)
            log.info("%s", feedback.description[0])
    result = train_model(plan_for(quick), feedback)
    path = save(result.model, out)
    if register:
        from pecus.ai.registry import register as store
        from pecus.cloud.database import connect

        with connect(database_url) as conn:
            store(conn, result.model)
    return result, path


def evaluate(
    *, model: str | None = None, quick: bool = False, card: Path | None = None
) -> tuple[MastitisModel, Evaluation]:
    chosen = resolve(model)
    evaluation = evaluate_model(chosen, plan_for(quick))
    if card is not None:
        from pecus.ai.card import write_card

        card.parent.mkdir(parents=True, exist_ok=True)
        write_card(chosen, evaluation, card)
    return chosen, evaluation


def score(*, source: Path, target: Path, model: str | None = None) -> tuple[MastitisModel, int, int]:
    from pecus.ai.scoring import score_csv

    chosen = resolve(model)
    scores = score_csv(chosen, source, target)
    return chosen, len(scores), int(scores["alert"].sum())
