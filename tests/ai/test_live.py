"""Live scoring against real PostgreSQL: scores, alerts with reasons, episodes, thresholds, RLS,
and a hook that never fails the ingest."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pecus.ai.alerts import AlertCandidate, write_alerts
from pecus.ai.live import pg_array, score_batch, score_ingested
from pecus.ai.model import packaged_model
from pecus.ai.registry import LiveModel
from pecus.ai.simulate import FarmSimulation
from pecus.cloud.ingest import IngestedBatch as Batch
from pecus.cloud.tenancy import make_pool, service_transaction, user_transaction
from tests.ai.farm_data import insert_sessions, new_farm, recent_farm
from tests.support.seed import add_member, create_user

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=4)
    await p.open()
    yield p
    await p.close()


@pytest.fixture(scope="module")
def sim() -> FarmSimulation:
    return recent_farm(cows=30, days=12, seed=5, emerging=3)


def _ingest(db_url: str, sim: FarmSimulation, rows: slice) -> tuple[uuid.UUID, int, list[int], list[str]]:
    """A farm with the simulated milkings of `rows` already committed, as ingest leaves them."""
    with psycopg.connect(db_url) as conn:
        farm, source = new_farm(conn)
        part = sim.sessions.iloc[rows]
        insert_sessions(conn, farm, source, part)
    return farm, source, part["transaction_id"].tolist(), part["animal_id"].tolist()


def _alerts(db_url: str, farm: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM alerts WHERE tenant_id = %s ORDER BY alert_id", [farm])
        return list(cur.fetchall())


def _split(sim: FarmSimulation) -> int:
    """Index of the first milking of the history's last day."""
    starts = sim.sessions["started_at"]
    return int((starts < sim.history_end - timedelta(days=1)).sum())


async def test_emerging_cases_alert_with_reasons_and_again_means_no_duplicate(
    db_url: str, pool: AsyncConnectionPool, sim: FarmSimulation
) -> None:
    history = sim.history_rows()
    farm, source, _, _ = _ingest(db_url, sim, slice(0, history))
    last_day = sim.sessions.iloc[_split(sim) : history]
    batch = Batch(farm, source, last_day["transaction_id"].tolist(), last_day["animal_id"].tolist())
    models = LiveModel()

    result = await score_batch(pool, batch, models=models)
    assert result.scored == len(last_day)
    assert result.history_rows > result.scored  # the 7 days before came with them
    with psycopg.connect(db_url) as conn:
        scores = conn.execute(
            "SELECT count(*), count(DISTINCT model_version), min(risk_score), max(risk_score)"
            " FROM session_scores WHERE tenant_id = %s",
            [farm],
        ).fetchone()
    assert scores is not None and scores[0] == len(last_day) and scores[1] == 1
    assert 0 <= scores[2] <= scores[3] <= 1

    alerts = _alerts(db_url, farm)
    emerging = set(sim.cases.loc[sim.cases["diagnosed_at"] > sim.history_end, "animal_id"])
    alerted = {a["animal_id"] for a in alerts}
    assert alerted & emerging, (alerted, emerging)
    assert len(alerted - emerging) <= 2  # healthy cows rarely alert
    assert len(alerts) == len(alerted)  # one per cow
    version = packaged_model().version
    for alert in alerts:
        assert alert["kind"] == "mastitis" and alert["status"] == "new"
        assert alert["model_version"] == version
        assert alert["reasons"] and all(r["text"] for r in alert["reasons"])
        assert alert["transaction_id"] in batch.transaction_ids
        assert alert["last_observed_at"] is not None
    case = sim.cases[sim.cases["animal_id"].isin(alerted & emerging)].iloc[0]
    reasons = next(a["reasons"] for a in alerts if a["animal_id"] == case["animal_id"])
    assert any(r.get("quarter") == case["quarter"] for r in reasons)  # the right quarter

    again = await score_batch(pool, batch, models=models)
    assert {c.change for c in again.alerts} <= {"extended"}
    assert _alerts(db_url, farm) == alerts  # same alerts, nothing new, nothing changed


async def test_the_farm_threshold_decides(
    db_url: str, pool: AsyncConnectionPool, sim: FarmSimulation
) -> None:
    history = sim.history_rows()
    farm, source, _, _ = _ingest(db_url, sim, slice(0, history))
    last_day = sim.sessions.iloc[_split(sim) : history]
    batch = Batch(farm, source, last_day["transaction_id"].tolist())
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE tenants SET alert_threshold = 0.9999 WHERE tenant_id = %s", [farm])
    assert (await score_batch(pool, batch, models=LiveModel())).alerts == []
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE tenants SET alert_threshold = 0.001, critical_threshold = 0.001 WHERE tenant_id = %s",
            [farm],
        )
    result = await score_batch(pool, batch, models=LiveModel())
    assert result.alerts and all(c.level == "critical" and c.became_critical for c in result.alerts)


async def test_old_milkings_are_scored_but_do_not_alert(
    db_url: str, pool: AsyncConnectionPool, sim: FarmSimulation
) -> None:
    history = sim.history_rows()
    farm, source, ids, _ = _ingest(db_url, sim, slice(0, history))
    result = await score_batch(
        pool, Batch(farm, source, ids), models=LiveModel(), now=datetime.now(UTC) + timedelta(days=30)
    )
    assert result.scored == history
    assert result.alerts == [] and _alerts(db_url, farm) == []


async def test_scores_are_readable_by_members_of_their_farm_only(
    db_url: str, pool: AsyncConnectionPool, sim: FarmSimulation
) -> None:
    farm, source, ids, _ = _ingest(db_url, sim, slice(0, 200))
    other, other_source, other_ids, _ = _ingest(db_url, sim, slice(0, 150))
    await score_batch(pool, Batch(farm, source, ids[-50:]), models=LiveModel())
    await score_batch(pool, Batch(other, other_source, other_ids[-30:]), models=LiveModel())
    with psycopg.connect(db_url) as conn:
        member = create_user(conn)
        add_member(conn, farm, member, "viewer")
    claims = {"sub": str(member), "role": "authenticated"}
    async with user_transaction(pool, claims) as conn:
        rows = await (
            await conn.execute("SELECT tenant_id, count(*) FROM session_scores GROUP BY 1")
        ).fetchall()
        assert rows == [(farm, 50)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # not tenant data
            await conn.execute("SELECT count(*) FROM model_versions")
    async with user_transaction(pool, {"role": "anon"}) as conn:
        assert await (await conn.execute("SELECT count(*) FROM session_scores")).fetchone() == (0,)


async def test_the_hook_logs_and_returns_when_scoring_fails(
    db_url: str, pool: AsyncConnectionPool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pecus.ai.live")
    missing_farm = Batch(uuid.uuid4(), 1, [1, 2, 3])
    with pytest.raises(LookupError):
        await score_batch(pool, missing_farm, models=LiveModel())
    assert await score_ingested(pool, missing_farm) is None
    assert "scoring 3 new milkings of farm" in caplog.text


async def test_the_hook_survives_a_database_that_is_gone(
    empty_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="pecus.ai.live")
    from pecus.cloud.database import drop_database
    from tests.support.pg import server_url

    pool = AsyncConnectionPool(empty_db_url, min_size=1, max_size=1, timeout=2, open=False)
    await pool.open()
    try:
        name = psycopg.conninfo.conninfo_to_dict(empty_db_url)["dbname"]
        drop_database(server_url(), str(name))  # the database disappears under the pool
        assert await score_ingested(pool, Batch(uuid.uuid4(), 1, [1])) is None
    finally:
        await pool.close()
    assert "failed; they stay unscored" in caplog.text


# --- the episode rule, on write_alerts directly ------------------------------------------------
def _candidate(animal: str, risk: float, at: datetime, tx: int = 1) -> AlertCandidate:
    reasons = [{"signal": "conductivity", "text": f"risk {risk}", "value": risk}]
    return AlertCandidate(animal, 1, tx, risk, at, at, reasons)


async def _write(pool: AsyncConnectionPool, farm: uuid.UUID, *candidates: AlertCandidate) -> list[Any]:
    async with service_transaction(pool) as conn:
        return await write_alerts(conn, farm, list(candidates), critical_threshold=0.5, model_version="m1")


async def test_one_open_alert_per_cow_and_episode(db_url: str, pool: AsyncConnectionPool) -> None:
    with psycopg.connect(db_url) as conn:
        farm, _ = new_farm(conn)
    t0 = datetime(2026, 1, 10, 6, tzinfo=UTC)
    [created] = await _write(pool, farm, _candidate("7", 0.1, t0))
    assert (created.change, created.level) == ("created", "warning")

    [same] = await _write(pool, farm, _candidate("7", 0.05, t0 + timedelta(hours=20)))
    assert (same.change, same.alert_id) == ("extended", created.alert_id)
    [worse] = await _write(pool, farm, _candidate("7", 0.6, t0 + timedelta(hours=40), tx=9))
    assert (worse.change, worse.alert_id, worse.level, worse.became_critical) == (
        "escalated", created.alert_id, "critical", True,
    )  # fmt: skip
    [alert] = _alerts(db_url, farm)
    assert alert["risk_score"] == pytest.approx(0.6) and alert["transaction_id"] == 9
    assert alert["reasons"][0]["text"] == "risk 0.6"
    assert alert["last_observed_at"] == t0 + timedelta(hours=40)

    # 72 h after the newest alerting milking, a new episode begins.
    [later] = await _write(pool, farm, _candidate("7", 0.1, t0 + timedelta(hours=40 + 73)))
    assert later.change == "created" and later.alert_id != created.alert_id


async def test_a_false_positive_holds_for_its_episode_unless_critical(
    db_url: str, pool: AsyncConnectionPool
) -> None:
    with psycopg.connect(db_url) as conn:
        farm, _ = new_farm(conn)
    t0 = datetime(2026, 2, 1, 6, tzinfo=UTC)
    [first] = await _write(pool, farm, _candidate("8", 0.2, t0))
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE alerts SET status = 'false_positive' WHERE alert_id = %s", [first.alert_id])
    assert await _write(pool, farm, _candidate("8", 0.3, t0 + timedelta(hours=10))) == []
    assert len(_alerts(db_url, farm)) == 1
    [critical] = await _write(pool, farm, _candidate("8", 0.7, t0 + timedelta(hours=20)))
    assert critical.change == "created" and critical.level == "critical"
    with psycopg.connect(db_url) as conn:
        conn.execute("UPDATE alerts SET status = 'resolved' WHERE tenant_id = %s", [farm])
    [fresh] = await _write(pool, farm, _candidate("8", 0.2, t0 + timedelta(hours=30)))
    assert fresh.change == "created"


def test_array_literals_round_trip_through_postgres(db_url: str) -> None:
    texts = ["plain", 'with "quotes"', "back\\slash", "comma, here", "{braces}", "Kuh 12 ü", "NULL", " "]
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT %s::text[]", [pg_array(texts)]).fetchone() == (texts,)
        assert conn.execute("SELECT %s::bigint[]", [pg_array([1, 2**40])]).fetchone() == ([1, 2**40],)
        row = conn.execute("SELECT %s::float8[]", [pg_array(np.array([0.1, float("nan"), 1e-9]))]).fetchone()
    assert row is not None and row[0] == [0.1, None, 1e-9]
