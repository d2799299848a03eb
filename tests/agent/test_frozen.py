"""The single-file executable, built for real with PyInstaller from deploy/linux/pecus-agent.spec
(once per test session: it takes a minute or two), then run as a technician would: --version,
check --offline and a real `sync --once` against the API, rows checked in PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pecus import __version__
from tests.agent import delpro_data
from tests.agent.conftest import SourceDB

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "deploy" / "linux" / "pecus-agent.spec"
# What the agent must never carry (import-linter checks the source; this checks the file).
FORBIDDEN = {"fastapi", "starlette", "uvicorn", "psycopg", "psycopg_pool", "sklearn", "pandas", "numpy"}

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("frozen")]


@pytest.fixture(scope="session")
def executable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    work = tmp_path_factory.mktemp("pyinstaller")
    build = subprocess.run(
        [
            sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
            "--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(SPEC),
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    yield work / "dist" / "pecus-agent"


def frozen(executable: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PECUS_AGENT_")}
    env["COLUMNS"] = "200"
    return subprocess.run(
        [str(executable), *args], env=env, capture_output=True, text=True, timeout=120, cwd=executable.parent
    )


def test_version_and_the_command_line_without_arguments(executable: Path) -> None:
    version = frozen(executable, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"pecus-agent {__version__}"
    bare = frozen(executable)  # not a service on Linux: the command line's help
    assert "Usage" in bare.stdout + bare.stderr and "sync" in bare.stdout + bare.stderr


def test_check_and_a_real_sync(executable: Path, make_source_db: Any, make_agent: Any) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 31))
    agent = make_agent(db.source_settings())
    check = frozen(executable, "--config", str(agent.config_path), "check", "--offline")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "highest id 30" in check.stdout and "offline: the cloud was not contacted" in check.stdout

    sync = frozen(executable, "--config", str(agent.config_path), "sync", "--once")
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "delpro: up to date (sent 30, inserted 30" in sync.stdout
    assert agent.cloud_ids() == list(range(1, 31))  # in PostgreSQL, each once

    with db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(31, 36))
    again = frozen(executable, "--config", str(agent.config_path), "sync", "--once")
    assert again.returncode == 0, again.stdout + again.stderr
    assert agent.cloud_ids() == list(range(1, 36))


def test_the_file_holds_the_agent_and_nothing_of_the_cloud(executable: Path) -> None:
    viewer = Path(sys.executable).parent / "pyi-archive_viewer"
    listing = subprocess.run(
        [str(viewer), "--recursive", "--brief", str(executable)], capture_output=True, text=True, timeout=120
    )
    assert listing.returncode == 0, listing.stderr
    names = {line.strip() for line in listing.stdout.splitlines() if line.startswith(" ")}
    modules = {n.split("/")[0].split(".")[0] for n in names}
    assert {"pecus.agent.cycle", "pecus.agent.service", "sqlalchemy.dialects.mssql.pymssql"} <= names
    assert "pymssql" in modules  # the SQL Server driver, FreeTDS inside
    assert not modules & FORBIDDEN, sorted(modules & FORBIDDEN)
    assert not {n for n in names if n.startswith(("pecus.cloud", "pecus.ai"))}
