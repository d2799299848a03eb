"""Faults on the wire and in the process: a proxy between agent and API drops connections,
answers 503 with Retry-After, hangs past the timeout and loses answers after the API committed;
the agent process is SIGKILLed mid-backlog and restarted. Every scenario ends with the cloud
holding exactly the source's rows, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pecus.cloud.database import connect
from tests.agent import delpro_data
from tests.agent.conftest import Agent, SourceDB
from tests.agent.fault_proxy import DROP, HANG, HOLD_RESPONSE, LOST_RESPONSE, Busy, FaultProxy

INGEST, STATUS = "POST /api/v1/ingest", "GET /api/v1/sync/status"


def assert_converged(agent: Agent, db: SourceDB) -> None:
    with connect(agent.db_url) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (source_id, transaction_id)) FROM milking_sessions"
            " WHERE tenant_id = %s",
            [agent.farm.farm_id],
        ).fetchone() or (0, 0)
    assert total == distinct  # no duplicates
    assert agent.cloud_ids() == delpro_data.source_ids(db.engine)  # no gaps


@pytest.fixture
def backlog(make_source_db: Any) -> SourceDB:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 81))
    return db


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_every_network_fault_in_one_cycle(backlog: SourceDB, make_agent: Any, cloud_url: str) -> None:
    sleeps = Sleeps()
    with FaultProxy(cloud_url).running() as proxy:
        proxy.plan(STATUS, DROP)
        proxy.plan(INGEST, "pass", DROP, "pass", Busy(3), Busy(3), LOST_RESPONSE, "pass", HANG, DROP, "pass")
        agent = make_agent(backlog.source_settings(), url=proxy.url, max_batch_size=10, request_timeout=1)
        record = agent.cycle(sleep=sleeps)
        assert proxy.faults_seen(INGEST) == [
            DROP,
            "Busy(retry_after=3)",
            "Busy(retry_after=3)",
            LOST_RESPONSE,
            HANG,
            DROP,
        ]
        assert proxy.faults_seen(STATUS) == [DROP]
    assert record.ok and record.sources[0].result == "up_to_date"
    assert sleeps.count(3.0) == 2  # Retry-After honoured
    assert len(sleeps) == 7  # one wait before each retry
    assert_converged(agent, backlog)
    # The batch whose answer was lost was stored once; its re-send counted as already present.
    assert record.sources[0].already_present >= 10


def test_when_every_attempt_fails_the_cycle_stops_and_the_next_one_resumes(
    backlog: SourceDB, make_agent: Any, cloud_url: str
) -> None:
    sleeps = Sleeps()
    with FaultProxy(cloud_url).running() as proxy:
        proxy.plan(INGEST, "pass", "pass", *[Busy(1)] * 5)
        agent = make_agent(backlog.source_settings(), url=proxy.url, max_batch_size=10, retry_attempts=5)
        failed = agent.cycle(sleep=sleeps)
        assert failed.sources[0].result == "cloud_unreachable" and not failed.ok
        assert sleeps == [1.0] * 4
        assert agent.cloud_ids() == list(range(1, 21))  # two batches made it before the outage
        resumed = agent.cycle(sleep=sleeps)
    assert resumed.ok
    assert_converged(agent, backlog)


def test_the_api_going_away_mid_backlog(backlog: SourceDB, make_agent: Any, cloud_url: str) -> None:
    with FaultProxy(cloud_url).running() as proxy:
        proxy.plan(INGEST, "pass", "pass", "pass", *[DROP] * 5)
        agent = make_agent(backlog.source_settings(), url=proxy.url, max_batch_size=10)
        assert agent.cycle().sources[0].result == "cloud_unreachable"
    # The proxy is gone now: nothing listens there any more.
    assert agent.cycle().sources[0].result == "cloud_unreachable"
    agent.write(cloud_url=cloud_url)
    assert agent.cycle().ok
    assert_converged(agent, backlog)


def _agent_process(agent: Agent, *args: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PECUS_AGENT_")}
    return subprocess.Popen(
        [sys.executable, "-m", "pecus.agent.cli", "--config", str(agent.config_path), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _count(agent: Agent) -> int:
    return len(agent.cloud_ids())


def _wait(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigkill_mid_backlog_and_after_the_api_committed(
    make_source_db: Any, make_agent: Any, cloud_url: str
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 1501))
    with FaultProxy(cloud_url).running() as proxy:
        agent = make_agent(db.source_settings(), url=proxy.url, max_batch_size=20)

        # 1. Killed while the answer to an upload the API has committed is on its way.
        proxy.plan(INGEST, *["pass"] * 9, HOLD_RESPONSE)
        process = _agent_process(agent, "sync", "--once")
        assert proxy.held.wait(60), "the agent never reached the held upload"
        committed = _count(agent)
        assert committed == 200  # ten batches of 20, the tenth committed but unanswered
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        proxy.release.set()

        # 2. Killed at whatever it is doing mid-backlog: reading, encoding or uploading.
        process = _agent_process(agent, "sync", "--once")
        _wait(lambda: _count(agent) >= 600)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert _count(agent) < 1500

        # 3. Restarted: it converges.
        process = _agent_process(agent, "sync", "--once")
        output = process.communicate(timeout=120)[0].decode()
        assert process.returncode == 0, output
    assert_converged(agent, db)


def test_run_serves_until_sigterm(backlog: SourceDB, make_agent: Any, tmp_path: Path) -> None:
    agent = make_agent(backlog.source_settings(), interval="1h", log_level="DEBUG")
    process = _agent_process(agent, "run")
    try:
        _wait(lambda: _count(agent) == 80)
        time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert_converged(agent, backlog)
    log_file = (tmp_path / "logs" / "agent.log").read_text()
    assert "sync cycle" in log_file and "(start)" in log_file and "stopped" in log_file
    assert agent.farm.key not in log_file and agent.farm.key not in output
