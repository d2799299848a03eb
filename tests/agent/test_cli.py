"""`pecus-agent` as a technician uses it: check, sync --once, status, resync, and its errors."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from typer.testing import CliRunner

from pecus import __version__
from pecus.agent.cli import app
from tests.agent import delpro_data
from tests.agent.conftest import Agent, SourceDB

runner = CliRunner()


def agent_cli(agent: Agent, *args: str) -> Any:
    env = {"PECUS_AGENT_CONFIG": None, "COLUMNS": "200"}
    return runner.invoke(app, ["--config", str(agent.config_path), *args], env=env)


@pytest.fixture
def sqlite_source(make_source_db: Any) -> SourceDB:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 26))
    return db


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"pecus-agent {__version__}"


def test_an_unusable_configuration_exits_2_and_says_why(tmp_path: Any) -> None:
    path = tmp_path / "agent.toml"
    path.write_text('cloud_url = "https://x.example"\ntime_zone = "Mars/Olympus"\n')
    result = runner.invoke(app, ["--config", str(path), "sync", "--once"])
    assert result.exit_code == 2
    assert "time_zone: 'Mars/Olympus' is not a known time zone" in result.output
    assert "farm_id: is required but missing" in result.output
    missing = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "status"])
    assert missing.exit_code == 2 and "the file does not exist" in missing.output


def test_check_sync_and_status(sqlite_source: SourceDB, make_agent: Any) -> None:
    agent = make_agent(sqlite_source.source_settings())
    check = agent_cli(agent, "check")
    assert check.exit_code == 0, check.output
    assert "OK   configuration is valid" in check.output
    assert "source delpro (sqlite:///" in check.output and "highest id 25" in check.output
    assert "the key is accepted; cloud watermark 0, local highest id 25 (25 ids to upload)" in check.output
    assert "clock differs from the cloud's by" in check.output
    assert "source delpro treatments: readable, no treatments yet" in check.output
    assert "source delpro treatments: cloud watermark 0, local highest id None (up to date)" in check.output
    assert "all checks passed" in check.output

    none_yet = agent_cli(agent, "status")
    assert none_yet.exit_code == 1 and "no sync cycle recorded yet" in none_yet.output

    sync = agent_cli(agent, "sync", "--once")
    assert sync.exit_code == 0, sync.output
    assert "delpro: up to date (sent 25, inserted 25, watermark 25)" in sync.output
    assert "delpro treatments: no new data (sent 0, inserted 0, watermark 0)" in sync.output
    # The cows the milkings registered already have these lactations: sent, nothing to change.
    assert "delpro animals: up to date (sent 12, inserted 0" in sync.output
    assert agent.cloud_ids() == list(range(1, 26))
    again = agent_cli(agent, "sync", "--once")
    assert again.exit_code == 0 and "delpro: no new data" in again.output

    status = agent_cli(agent, "status")
    assert status.exit_code == 0, status.output
    assert "up to date" in status.output and "no new data" in status.output and "sync --once" in status.output
    assert "treatments" in status.output and "animals" in status.output
    assert "(up to date)" in agent_cli(agent, "check").output


def test_check_names_a_refused_key_and_an_unreachable_source(
    sqlite_source: SourceDB, make_agent: Any, free_port: int
) -> None:
    down = {"name": "robots2", "url": f"postgresql+psycopg://reader:pw@127.0.0.1:{free_port}/DDM"}
    agent = make_agent(sqlite_source.source_settings(), down, api_key="pk_wrong")
    result = agent_cli(agent, "check")
    assert result.exit_code == 1
    assert "FAIL source robots2 (postgresql+psycopg://reader:***@127.0.0.1" in result.output
    assert "FAIL source delpro: the cloud refused the request (401 malformed_key)" in result.output
    assert "check farm_id and the API key" in result.output
    assert "pw@" not in result.output and "pk_wrong" not in result.output

    offline = agent_cli(agent, "check", "--offline")
    assert offline.exit_code == 1 and "offline: the cloud was not contacted" in offline.output
    agent.write(source=[sqlite_source.source_settings()])
    assert agent_cli(agent, "check", "--offline").exit_code == 0


def test_check_and_sync_when_the_cloud_is_unreachable(
    sqlite_source: SourceDB, make_agent: Any, free_port: int
) -> None:
    agent = make_agent(sqlite_source.source_settings(), url=f"http://127.0.0.1:{free_port}", retry_attempts=1)
    check = agent_cli(agent, "check")
    assert (
        check.exit_code == 1
        and f"FAIL the cloud at http://127.0.0.1:{free_port} is not reachable" in check.output
    )
    sync = agent_cli(agent, "sync", "--once")
    assert sync.exit_code == 1 and "delpro: cloud unreachable" in sync.output
    status = agent_cli(agent, "status")
    assert status.exit_code == 1 and "cloud unreachable" in status.output and "ConnectError" in status.output


def test_a_restored_database_is_a_failed_check_and_resync_is_recorded(
    sqlite_source: SourceDB, make_agent: Any
) -> None:
    agent = make_agent(sqlite_source.source_settings())
    assert agent_cli(agent, "sync", "--once").exit_code == 0
    with sqlite_source.engine.begin() as conn:
        conn.exec_driver_sql('DELETE FROM "VoluntarySessionMilkYield" WHERE "OID" > 20')
        conn.exec_driver_sql('DELETE FROM "SessionMilkYield" WHERE "OID" > 20')
    check = agent_cli(agent, "check")
    assert (
        check.exit_code == 1
        and "the cloud has ids up to 25 but the local database only up to 20" in check.output
    )
    sync = agent_cli(agent, "sync", "--once")
    assert sync.exit_code == 1 and "delpro: restored" in sync.output

    unknown = agent_cli(agent, "resync", "--source", "parlour", "--from", "3", "--yes")
    assert unknown.exit_code == 2 and "there is no source named 'parlour'" in unknown.output
    declined = runner.invoke(
        app, ["--config", str(agent.config_path), "resync", "--source", "delpro", "--from", "20"], input="n\n"
    )
    assert declined.exit_code == 1
    resync = agent_cli(agent, "resync", "--source", "delpro", "--from", "20", "--yes")
    assert resync.exit_code == 0, resync.output
    assert "resync of delpro from id 20 recorded (the cloud has up to 25)" in resync.output
    assert "resync from id 20 pending" in agent_cli(agent, "status").output
    assert agent_cli(agent, "sync", "--once").exit_code == 0


def test_an_interactive_backlog_shows_a_progress_bar(sqlite_source: SourceDB, make_agent: Any) -> None:
    agent = make_agent(sqlite_source.source_settings(), max_batch_size=5)
    env = {**os.environ, "TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "120"}
    env.pop("PECUS_AGENT_CONFIG", None)
    done = subprocess.run(
        [sys.executable, "-m", "pecus.agent.cli", "--config", str(agent.config_path), "sync", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "source delpro" in done.stdout and "25/25" in done.stdout and "ids" in done.stdout
