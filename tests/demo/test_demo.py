"""`pecus demo` as a newcomer runs it: a subprocess on a fresh database and an empty PECUS_HOME.

A small farm (`--cows/--days`) and a short agent interval keep each run to tens of seconds; the
code paths are those of the default demo.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg
import pytest

from tests.support.api import free_port
from tests.support.pg import fresh_database

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SMALL_FARM = ["--cows", "16", "--days", "9", "--interval", "4"]
RUN_TIMEOUT_S = 240.0


@dataclass
class DemoRun:
    proc: subprocess.Popen[bytes]
    output: Path
    home: Path
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, needle: str, timeout: float = RUN_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"the demo exited ({self.proc.returncode}) before {needle!r}:\n{self.text()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.text()}")
            time.sleep(0.2)

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the demo did not exit within {timeout} s:\n{self.text()}") from None

    def state(self) -> dict[str, Any]:
        return dict(json.loads((self.home / "demo" / "demo.json").read_text()))


def start_demo(home: Path, database_url: str, *args: str) -> DemoRun:
    port = free_port()
    output = home.parent / f"demo-{port}.out"
    env = {**os.environ, "DATABASE_URL": database_url, "PECUS_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    pecus = Path(sys.executable).with_name("pecus")
    with output.open("wb") as out:
        proc = subprocess.Popen(
            [str(pecus), "demo", "--no-browser", "--port", str(port), *SMALL_FARM, *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            start_new_session=True,  # its own process group, as a terminal's foreground job
        )
    return DemoRun(proc, output, home, port)


@pytest.fixture
def fresh_db() -> Iterator[str]:
    """An empty, unmigrated database: the demo migrates it."""
    with fresh_database("pecus_demo") as url:
        yield url


def source_rows(home: Path) -> dict[int, float]:
    with sqlite3.connect(home / "demo" / "delpro.sqlite") as conn:
        return {
            int(oid): float(y)
            for oid, y in conn.execute('SELECT "OID", "TotalYield" FROM "SessionMilkYield"')
        }


def cloud_rows(database_url: str, farm_id: str) -> dict[int, float]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT m.transaction_id, m.yield_kg FROM public.milking_sessions m"
            " JOIN public.sources s USING (tenant_id, source_id)"
            " WHERE m.tenant_id = %s AND s.name = 'delpro'",
            [farm_id],
        ).fetchall()
    return {int(t): float(y) for t, y in rows}


def emerging_cases(home: Path) -> set[str]:
    """The simulated cases diagnosed around the end of the history (the demo's answer key)."""
    now = datetime.now(UTC)
    with (home / "demo" / "cases.csv").open(newline="") as f:
        return {
            r["animal_id"]
            for r in csv.DictReader(f)
            if abs(datetime.fromisoformat(r["diagnosed_at"].replace("Z", "+00:00")) - now) < timedelta(days=2)
        }


def assert_cloud_holds_the_source(run: DemoRun, database_url: str) -> None:
    local = source_rows(run.home)
    cloud = cloud_rows(database_url, run.state()["farm_id"])
    assert len(local) > 100
    missing, extra = sorted(set(local) - set(cloud)), sorted(set(cloud) - set(local))
    assert not missing and not extra, f"missing in the cloud: {missing[:10]}, extra: {extra[:10]}"
    wrong = [oid for oid, y in local.items() if abs(cloud[oid] - round(y, 3)) > 1e-3]
    assert not wrong, f"yields differ for OIDs {wrong[:10]}"


def test_demo_runs_the_whole_platform_and_exits_after_n_cycles(tmp_path: Path, fresh_db: str) -> None:
    run = start_demo(tmp_path / "home", fresh_db, "--exit-after", "2")
    run.wait_for("Pecus Chain demo is running")
    assert f"dashboard   {run.base_url}" in run.text()
    assert "sign in     demo@pecus.example  /  " in run.text()

    # One URL: the API, and the dashboard when it is built.
    if (REPO / "web" / "package-lock.json").exists():
        index = httpx.get(f"{run.base_url}/", timeout=10)
        assert index.status_code == 200 and "text/html" in index.headers["content-type"], index.text[:200]
        assert '<div id="root"' in index.text
    else:  # no web app in this tree yet: the API's own pages are what the URL serves
        assert httpx.get(f"{run.base_url}/docs", timeout=10).status_code == 200
    assert httpx.get(f"{run.base_url}/readyz", timeout=10).status_code == 200

    assert run.wait() == 0, run.text()
    out = run.text()
    assert "2 agent cycle(s) done" in out
    assert "Traceback" not in out, out

    assert_cloud_holds_the_source(run, fresh_db)

    # The simulated cases emerging now are what the alerts name.
    cases = emerging_cases(run.home)
    assert cases, "the demo farm must have mastitis cases emerging now"
    with psycopg.connect(fresh_db) as conn:
        alerted = {
            r[0]
            for r in conn.execute(
                "SELECT animal_id FROM public.alerts WHERE tenant_id = %s AND kind = 'mastitis'",
                [run.state()["farm_id"]],
            )
        }
    assert alerted & cases, f"alerts for {sorted(alerted)}, simulated cases {sorted(cases)}"
    for cow in alerted & cases:
        assert f"alert  cow {cow} " in out

    # Each alert reached the local inbox through the notification outbox and apprise's json://.
    lines = (run.home / "demo" / "inbox.jsonl").read_text().splitlines()
    messages = [json.loads(line)["message"] for line in lines]
    for cow in alerted:
        assert any(f"cow {cow} " in m for m in messages), f"no message for cow {cow}: {messages}"
        assert f"inbox  Pecus: cow {cow} " in out

    # Everything it started has stopped: the port is free again.
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{run.base_url}/healthz", timeout=2)


def test_ctrl_c_stops_everything_and_the_next_run_resumes(tmp_path: Path, fresh_db: str) -> None:
    home = tmp_path / "home"
    first = start_demo(home, fresh_db)
    first.wait_for("sync cycle")
    first.wait_for("finished in")
    farm_id = first.state()["farm_id"]
    children = psutil.Process(first.proc.pid).children(recursive=True)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "serve" in names and "pecus-agent" in names

    os.killpg(first.proc.pid, signal.SIGINT)  # Ctrl+C in the terminal
    assert first.wait(60) == 0, first.text()
    assert "demo stopped" in first.text()
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, f"still running after Ctrl+C: {[p.cmdline() for p in alive]}"

    second = start_demo(home, fresh_db, "--exit-after", "1")
    assert second.wait() == 0, second.text()
    out = second.text()
    assert f"farm: Demo farm {farm_id} (resumed)" in out
    assert second.state()["farm_id"] == farm_id
    assert_cloud_holds_the_source(second, fresh_db)
    with psycopg.connect(fresh_db) as conn:
        farms = conn.execute("SELECT count(*) FROM public.tenants").fetchone()
        keys = conn.execute(
            "SELECT count(*) FROM public.agent_keys WHERE tenant_id = %s", [farm_id]
        ).fetchone()
        targets = conn.execute(
            "SELECT count(*) FROM public.notification_targets WHERE tenant_id = %s", [farm_id]
        ).fetchone()
        users = conn.execute("SELECT count(*) FROM auth.users").fetchone()
    # The same farm, owner, agent key and inbox target: nothing made twice.
    assert (farms, keys, targets, users) == ((1,), (1,), (1,), (1,))


def test_a_part_that_dies_stops_the_demo_with_its_output(tmp_path: Path, fresh_db: str) -> None:
    """The agent killed under the demo: the demo says so, shows its last lines, stops the rest
    and exits 1 instead of running on without it."""
    run = start_demo(tmp_path / "home", fresh_db)
    run.wait_for("finished in")
    children = psutil.Process(run.proc.pid).children(recursive=True)
    (agent,) = [c for c in children if "pecus-agent" in " ".join(c.cmdline())]
    agent.kill()
    assert run.wait(90) == 1, run.text()
    out = run.text()
    assert "demo failed: the agent stopped unexpectedly (exit code -9)" in out
    shown = out.split("demo failed:")[1]
    assert "pecus.agent" in shown, "the agent's last lines are shown"
    _, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, f"still running: {[p.cmdline() for p in alive]}"
