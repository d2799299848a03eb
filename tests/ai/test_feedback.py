"""Farm feedback becomes labels, `train --with-feedback` stores a new version, approval in the
database decides what live scoring uses, and a tampered stored model is refused."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool
from typer.testing import CliRunner

from pecus.ai.feedback import case_labels, labels, load_feedback
from pecus.ai.model import packaged_model
from pecus.ai.registry import LiveModel, approve, load_stored, register, stored_versions
from pecus.ai.simulate import FarmSimulation
from pecus.ai.training import TrainingPlan, train_model
from pecus.cli import app
from pecus.cloud.tenancy import make_pool
from tests.ai.farm_data import insert_sessions, new_farm, recent_farm
from tests.support.herd import Herd, add_treatment


@pytest.fixture(scope="module")
def sim() -> FarmSimulation:
    return recent_farm(cows=20, days=14, seed=31, emerging=0)


def _alert(conn: psycopg.Connection[Any], farm: uuid.UUID, source: int, sim: FarmSimulation, row: int) -> int:
    s = sim.sessions.iloc[row]
    found = conn.execute(
        "INSERT INTO alerts (tenant_id, animal_id, unit, source_id, transaction_id, risk_score)"
        " VALUES (%s, %s, %s, %s, %s, 0.3) RETURNING alert_id",
        [farm, s["animal_id"], s["unit"], source, int(s["transaction_id"])],
    ).fetchone()
    assert found is not None
    return int(found[0])


def _change(conn: psycopg.Connection[Any], farm: uuid.UUID, alert: int, old: str, new: str) -> None:
    conn.execute("UPDATE alerts SET status = %s WHERE tenant_id = %s AND alert_id = %s", [new, farm, alert])
    conn.execute(
        "INSERT INTO alert_status_changes (tenant_id, alert_id, from_status, to_status)"
        " VALUES (%s, %s, %s, %s)",
        [farm, alert, old, new],
    )


@pytest.fixture
def feedback_farm(
    db_url: str, sim: FarmSimulation
) -> Iterator[tuple[uuid.UUID, dict[str, int], FarmSimulation]]:
    """A farm with three alerts: acknowledged then resolved (a real case), false positive, and
    one nobody answered."""
    with psycopg.connect(db_url) as conn:
        farm, source = new_farm(conn, "Feedback farm")
        insert_sessions(conn, farm, source, sim.sessions)
        n = len(sim.sessions)
        ids = {
            "case": _alert(conn, farm, source, sim, n - 40),
            "false": _alert(conn, farm, source, sim, n - 30),
            "silent": _alert(conn, farm, source, sim, n - 20),
        }
        _change(conn, farm, ids["case"], "new", "acknowledged")
        _change(conn, farm, ids["case"], "acknowledged", "resolved")
        _change(conn, farm, ids["false"], "new", "false_positive")
    yield farm, ids, sim
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [farm])


def test_status_history_gives_the_labels(db_url: str, feedback_farm: Any) -> None:
    farm, ids, sim = feedback_farm
    with psycopg.connect(db_url) as conn:
        found = labels(conn)
        mine = found[found["tenant_id"] == farm].set_index("alert_id")["label"].to_dict()
        assert mine == {ids["case"]: "acknowledged", ids["false"]: "false_positive"}
        data = load_feedback(conn)
    n = len(sim.sessions)
    case, false = sim.sessions.iloc[n - 40], sim.sessions.iloc[n - 30]
    key = f"{farm}/{case['animal_id']}"
    positive = data.positive & (data.animal == key)
    anchor = case["started_at"].timestamp()
    assert positive.any()
    assert (data.seconds[positive] <= anchor).all() and (data.seconds[positive] >= anchor - 48 * 3600).all()
    healthy = data.healthy & (data.animal == f"{farm}/{false['animal_id']}")
    assert healthy.any()
    assert (np.abs(data.seconds[healthy] - false["started_at"].timestamp()) <= 24 * 3600).all()
    silent_cow = f"{farm}/{sim.sessions.iloc[n - 20]['animal_id']}"
    if silent_cow not in (key, f"{farm}/{false['animal_id']}"):
        assert not (data.animal == silent_cow).any()
    # Features of feedback milkings come from their cow's history, like everywhere else.
    assert data.features.loc[positive, "history_sessions"].min() > 5
    assert "acknowledged" in data.description[0] and "false-positive" in data.description[0]


def test_treated_cases_are_labels_like_acknowledged_alerts(db_url: str, sim: FarmSimulation) -> None:
    """A mastitis treatment (with a repeat 2 days later) labels the 48 h before its onset; an
    acknowledged alert of that cow 3 days after the onset gives way to it; lameness is no label."""
    n = len(sim.sessions)
    onset_row = sim.sessions.iloc[n - 300]  # about 6 days before the end
    cow, onset = onset_row["animal_id"], onset_row["started_at"].to_pydatetime()
    later = sim.sessions[
        (sim.sessions["animal_id"] == cow) & (sim.sessions["started_at"] > onset + timedelta(days=3))
    ]
    lame = next(a for a in sim.sessions["animal_id"] if a != cow)
    with psycopg.connect(db_url) as conn:
        farm, source = new_farm(conn, "Treated farm")
        try:
            insert_sessions(conn, farm, source, sim.sessions)
            herd = Herd(farm, source, "Europe/Rome")
            add_treatment(conn, herd, cow, onset, "Mastite clinica")
            add_treatment(conn, herd, cow, onset + timedelta(days=2), "MASTITE")
            add_treatment(conn, herd, lame, onset, "Zoppia")
            alert = _alert(conn, farm, source, sim, int(later.index[0]))
            _change(conn, farm, alert, "new", "acknowledged")
            cases = case_labels(conn)
            mine = cases[cases["tenant_id"] == farm]
            assert mine[["animal_id", "label"]].values.tolist() == [[cow, "acknowledged"]]
            assert mine["anchor"].iloc[0] == onset and mine["alert_id"].isna().all()
            data = load_feedback(conn)
        finally:
            conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [farm])
    positive = data.positive & (data.animal == f"{farm}/{cow}")
    assert positive.any()
    at = onset.timestamp()
    assert (data.seconds[positive] <= at).all() and (data.seconds[positive] >= at - 48 * 3600).all()
    assert not (data.animal == f"{farm}/{lame}").any()
    assert "treated cases" in data.description[0]


def test_feedback_counts_in_training(db_url: str, feedback_farm: Any) -> None:
    with psycopg.connect(db_url) as conn:
        data = load_feedback(conn)
    result = train_model(TrainingPlan.tiny(), data)
    assert result.model.manifest["training"]["feedback_sessions"] == len(data) > 0
    assert result.model.manifest["training"]["feedback_positive_sessions"] == int(data.positive.sum()) > 0


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=2)
    await p.open()
    yield p
    await p.close()


pytestmark = pytest.mark.anyio


async def test_train_with_feedback_registers_and_approval_switches_live_scoring(
    db_url: str,
    feedback_farm: Any,
    pool: AsyncConnectionPool,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(app, ["model", "train", "--with-feedback", "--quick", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    [folder] = list(tmp_path.iterdir())
    version = folder.name
    try:
        with psycopg.connect(db_url) as conn:
            [stored] = [v for v in stored_versions(conn) if v.version == version]
        assert stored.approved_at is None
        assert f"pecus model approve {version}" in result.output.replace("\n", "")

        models = LiveModel(refresh_s=0)
        assert (await models.get(pool)).version == packaged_model().version  # not approved yet

        approved = runner.invoke(app, ["model", "approve", version, "--by", "vet@farm.test"])
        assert approved.exit_code == 0, approved.output
        with psycopg.connect(db_url) as conn:
            [stored] = [v for v in stored_versions(conn) if v.version == version]
            assert stored.approved_by == "vet@farm.test" and stored.approved_at is not None
            assert load_stored(conn, version).version == version
        assert (await models.get(pool)).version == version
        listed = runner.invoke(app, ["model", "list"])
        assert f"{version}  stored, approved" in listed.output
    finally:
        with psycopg.connect(db_url) as conn:
            conn.execute("DELETE FROM model_versions WHERE version = %s", [version])


async def test_a_tampered_stored_model_is_refused_and_the_packaged_one_used(
    db_url: str, pool: AsyncConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pecus.ai.registry")
    model = train_model(TrainingPlan.tiny()).model
    model.version = f"{model.version}-tampered-{uuid.uuid4().hex[:4]}"
    with psycopg.connect(db_url) as conn:
        register(conn, model)
        approve(conn, model.version, "test")
        conn.execute(
            "UPDATE model_versions SET artifact = overlay(artifact placing '\\x00'::bytea from 100)"
            " WHERE version = %s",
            [model.version],
        )
    try:
        models = LiveModel(refresh_s=0)
        assert (await models.get(pool)).version == packaged_model().version
        assert "refused" in caplog.text and "SHA-256" in caplog.text
    finally:
        with psycopg.connect(db_url) as conn:
            conn.execute("DELETE FROM model_versions WHERE version = %s", [model.version])


def test_approving_an_unknown_version_fails_clearly(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["model", "approve", "1999.01.01-000000", "--by", "me"])
    assert result.exit_code == 1
    assert "no stored model version '1999.01.01-000000'" in result.output


def test_feedback_needs_no_alerts(empty_db_url: str) -> None:
    from pecus.cloud.migrations import migrate

    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        data = load_feedback(conn)
    assert len(data) == 0 and data.description == ["farm feedback: none"]
