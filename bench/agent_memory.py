"""Agent memory: peak RSS of the agent process (`pecus-agent sync --once`) over a 100 k and a
1 M row backlog, into a fresh farm each; flat means the backlog is streamed, never loaded.

    python bench/run.py agent-memory --json [--small 100000] [--large 1000000]

Sources are prefixes of the catch-up benchmark's simulated DelPro (SQLite). `baseline_mb` is the
RSS of a process that only imports the agent (the interpreter and its libraries, no work),
measured in the same run, so the cost of the work itself shows as the difference. Peaks are the
kernel's high-water mark (VmHWM) of the agent process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.api import running_api
from tests.support.pg import server_url

from bench.support.agent_run import peak_rss, sync_once
from bench.support.simulated_delpro import milkings, source_database, take
from pecus.cloud.database import create_database, drop_database
from pecus.cloud.migrations import migrate

MB = 2**20


def _baseline_rss() -> int:
    """A process that imports what `pecus-agent sync` imports, then waits: its resident size."""
    code = "import pecus.agent.cli, pecus.agent.cycle, pecus.agent.check, sys; sys.stdin.read()"
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE)
    peak, deadline = 0, time.monotonic() + 30
    while time.monotonic() < deadline:  # until the imports are done (the size stops growing)
        time.sleep(0.3)
        now = peak_rss(process.pid)
        if now and now == peak:
            break
        peak = now
    assert process.stdin is not None
    process.stdin.close()
    process.wait()
    return peak


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run.py agent-memory")
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args(argv)

    full = source_database()
    server = server_url()
    name = f"pecus_bench_{uuid.uuid4().hex[:8]}"
    database_url = create_database(server, name)
    peaks: dict[int, tuple[int, int]] = {}
    try:
        migrate(database_url)
        with (
            tempfile.TemporaryDirectory(prefix="pecus-bench-memory-") as folder,
            running_api(database_url, {"PECUS_AI_ENABLED": "0"}) as api_url,
        ):
            for size in (args.small, args.large):
                source = take(full, size, Path(folder) / f"delpro-{size}.db")
                rows = milkings(source)
                agent = sync_once(database_url, api_url, source)
                if agent.rows_in_cloud != rows:
                    raise RuntimeError(f"the cloud holds {agent.rows_in_cloud} rows, the source {rows}")
                peaks[size] = (rows, agent.peak_rss_bytes)
                source.unlink()
    finally:
        drop_database(server, name)
    (rows_small, small), (rows_large, large) = peaks[args.small], peaks[args.large]
    return {
        "rows_small": rows_small,
        "peak_rss_mb_small": round(small / MB, 1),
        "rows_large": rows_large,
        "peak_rss_mb_large": round(large / MB, 1),
        "growth_mb": round((large - small) / MB, 1),
        "baseline_mb": round(_baseline_rss() / MB, 1),
        "target_mb": 80,
    }
