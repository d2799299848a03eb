"""Run the real agent (`pecus-agent sync --once` in its own process) against the real API."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pecus.agent.state import StateStore
from pecus.cloud.agent_keys import create_agent_key
from pecus.cloud.database import connect
from pecus.cloud.farms import create_farm


@dataclass
class AgentRun:
    farm_id: uuid.UUID
    seconds: float
    peak_rss_bytes: int
    rows_in_cloud: int
    bytes_sent: int
    """The gzip request bodies the agent uploaded (from its state file)."""
    cpu_seconds: dict[str, float]
    """CPU time spent while the agent ran: the agent process, the API process(es), and the
    PostgreSQL backends of the database (where the time of a catch-up goes on this machine)."""


def sync_once(database_url: str, api_url: str, source: Path, *, batch: int | None = None) -> AgentRun:
    """A new farm, an agent.toml for it, one `sync --once`: wall time and the process's peak RSS.
    `batch` sets max_batch_size; None leaves the agent's default."""
    with connect(database_url) as conn:
        farm_id = create_farm(conn, f"bench agent {uuid.uuid4().hex[:6]}", "Europe/Rome")
        key = create_agent_key(conn, farm_id, "bench").key
    with tempfile.TemporaryDirectory(prefix="pecus-bench-agent-") as folder:
        config = Path(folder) / "agent.toml"
        config.write_text(
            f'cloud_url = "{api_url}"\nfarm_id = "{farm_id}"\napi_key = "{key}"\ntime_zone = "Europe/Rome"\n'
            + (f"max_batch_size = {batch}\n" if batch is not None else "")
            + "request_timeout = 120\n"
            + f'log_dir = "{Path(folder) / "logs"}"\nstate_file = "{Path(folder) / "state.json"}"\n'
            + f'[[source]]\nname = "delpro"\nurl = "sqlite:///{source}"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PECUS_AGENT_")}
        kinds = dict(_api_pids() + _backend_pids(database_url))
        before = _cpu_of(kinds)
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "pecus.agent.cli", "--config", str(config), "sync", "--once"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        peak, usage = 0, None
        while usage is None:
            peak = max(peak, peak_rss(process.pid))
            time.sleep(0.05)
            pid, status, rusage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                usage = rusage
                process.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        kinds.update(_backend_pids(database_url))  # and those the API opened meanwhile
        after = _cpu_of(kinds)
        cpu = {"agent": usage.ru_utime + usage.ru_stime, "api": 0.0, "postgres": 0.0}
        for pid, kind in kinds.items():
            cpu[kind] += after[pid] - before.get(pid, 0.0)
        if process.returncode != 0:
            log = (Path(folder) / "logs" / "agent.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"the agent failed:\n{log}")
        state = StateStore(Path(folder) / "state.json").read()
        bytes_sent = sum(s.bytes_sent for s in state.cycles[-1].sources)
    with connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM milking_sessions WHERE tenant_id = %s", [farm_id]).fetchone()
    assert row is not None
    return AgentRun(farm_id, seconds, peak, int(row[0]), bytes_sent, cpu)


def peak_rss(pid: int) -> int:
    """The process's resident-set high-water mark (VmHWM), in bytes; 0 once it has exited.

    Read from /proc rather than from wait4's ru_maxrss, which on Linux carries over the parent's
    peak from before the exec (it would report the benchmark's own size)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _cpu_of(pids: Iterable[int]) -> dict[int, float]:
    """CPU seconds (user + system) each process has used so far (from /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


def _api_pids() -> list[tuple[int, str]]:
    """The `pecus serve` processes this process started (tests.support.api.running_api)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == os.getpid() and b"pecus.cli" in command and b"serve" in command:
            found.append((int(entry.name), "api"))
    return found


def _backend_pids(database_url: str) -> list[tuple[int, str]]:
    """The PostgreSQL backends connected to the database (the API's pool), other than ours."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return [(int(r[0]), "postgres") for r in rows]
