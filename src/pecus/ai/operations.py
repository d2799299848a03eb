"""What the `pecus simulate` and `pecus model ...` commands do (the CLI only parses and prints)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pecus.ai.model import MastitisModel, resolve, save
from pecus.ai.training import Evaluation, TrainingPlan, TrainingResult, evaluate_model, train_model

if TYPE_CHECKING:
    from pecus.cloud.schemas.accuracy import FieldAccuracy

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


def field_report(farm: str, *, days: int, database_url: str | None = None) -> FieldAccuracy:
    """The field accuracy report of a farm (id or exact name), as the operator (no RLS).
    LookupError when there is no such farm."""
    import asyncio

    from psycopg import AsyncConnection

    from pecus.ai.field_accuracy import field_accuracy
    from pecus.cloud.auth.users import find_farm
    from pecus.cloud.database import CONNECT_OPTIONS, connect
    from pecus.cloud.database import database_url as default_url

    url = database_url or default_url()
    with connect(url) as conn:
        farm_id = find_farm(conn, farm)

    async def run() -> FieldAccuracy:
        async with await AsyncConnection.connect(url, **CONNECT_OPTIONS) as conn:
            report = await field_accuracy(conn, farm_id, days)
        if report is None:  # deleted between the two statements
            raise LookupError(f"no farm with id {farm_id}")
        return report

    return asyncio.run(run())


def score(*, source: Path, target: Path, model: str | None = None) -> tuple[MastitisModel, int, int]:
    from pecus.ai.scoring import score_csv

    chosen = resolve(model)
    scores = score_csv(chosen, source, target)
    return chosen, len(scores), int(scores["alert"].sum())
