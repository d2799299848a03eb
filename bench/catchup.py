"""Catch-up: a year of a robot farm (~1.1 M milkings) in a local DelPro, a fresh cloud, one
`pecus-agent sync --once`; in the same run, a raw COPY of the same rows into the same table.

    python bench/run.py catchup --json [--rows N] [--batch N] [--ai]

The source is the simulator's farm (`pecus.ai.simulate`: 1,350 cows × 365 days, ≈ 1.1 M milkings)
written into SQLite by `write_delpro` (`bench/support/simulated_delpro.py`, cached); `--rows` takes
only its first N milkings. The API runs as a `pecus serve` subprocess with the AI engine off
(unless `--ai`); the agent in its own process. `copy_seconds` is one binary COPY of exactly the
rows the agent stored (exported first, untimed), into the same partitioned table under a new
farm, its rollups kept by the same triggers. `wire_bytes_per_row` is what the agent uploaded
(gzip bodies) per row; `cpu_us_per_row` the CPU time the agent, the API and the database's
backends spent per row while the agent ran (all three share this machine's cores, so their sum
bounds the throughput).

`--ai` runs the API as in production, scoring each batch after its commit (in the background:
the agent's time includes the competition for the cores, not the wait); `scoring_lag_s` is how
long after the agent finished every milking had its score.
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.api import running_api
from tests.support.pg import server_url

from bench.support.agent_run import sync_once
from bench.support.simulated_delpro import COWS, DAYS, milkings, source_database, take
from pecus.agent.config import AgentConfig
from pecus.cloud.database import connect, create_database, drop_database
from pecus.cloud.farms import create_farm
from pecus.cloud.migrations import migrate
from pecus.contract import SESSION_COLUMNS

CHUNK = 1 << 20


def copy_seconds(database_url: str, farm_id: uuid.UUID) -> float:
    """Time a binary COPY of the farm's stored sessions into the same table, as another farm."""
    columns = ", ".join(("tenant_id", "source_id", *SESSION_COLUMNS))
    with connect(database_url) as conn:
        copy_farm = create_farm(conn, f"bench copy {uuid.uuid4().hex[:6]}", "Europe/Rome")
        row = conn.execute(
            "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [copy_farm]
        ).fetchone()
        assert row is not None
        conn.commit()
        select = (
            f"SELECT %s::uuid, %s::integer, {', '.join(SESSION_COLUMNS)} FROM milking_sessions"
            " WHERE tenant_id = %s ORDER BY transaction_id"
        )
        with tempfile.TemporaryFile() as dump:
            with conn.cursor().copy(
                f"COPY ({select}) TO STDOUT (FORMAT BINARY)", [copy_farm, row[0], farm_id]
            ) as out:
                for data in out:
                    dump.write(data)
            dump.seek(0)
            started = time.perf_counter()
            with (
                conn.transaction(),
                conn.cursor().copy(
                    f"COPY public.milking_sessions ({columns}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                while data := dump.read(CHUNK):
                    copy.write(data)
            return time.perf_counter() - started


def scores_complete(database_url: str, farm_id: uuid.UUID, rows: int, timeout: float = 1800) -> float | None:
    """Seconds from now until every stored milking has a risk score (None: not within `timeout`)."""
    started = time.perf_counter()
    with connect(database_url, autocommit=True) as conn:
        while time.perf_counter() - started < timeout:
            row = conn.execute(
                "SELECT count(*) FROM session_scores WHERE tenant_id = %s", [farm_id]
            ).fetchone()
            if row is not None and row[0] >= rows:
                return round(time.perf_counter() - started, 1)
            time.sleep(0.5)
    return None


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run.py catchup")
    parser.add_argument("--rows", type=int, help="only the first N milkings of the simulated year")
    parser.add_argument("--batch", type=int, help="the agent's max_batch_size (default: the agent's own)")
    parser.add_argument(
        "--ai", action="store_true", help="the API scores every batch after its commit, as in production"
    )
    args = parser.parse_args(argv)

    full = source_database()
    server = server_url()
    name = f"pecus_bench_{uuid.uuid4().hex[:8]}"
    database_url = create_database(server, name)
    with contextlib.ExitStack() as stack:
        source = full
        if args.rows is not None:
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="pecus-bench-catchup-")))
            source = take(full, args.rows, folder / "delpro.db")
        rows = milkings(source)
        try:
            migrate(database_url)
            with running_api(database_url, {"PECUS_AI_ENABLED": "1" if args.ai else "0"}) as api_url:
                agent = sync_once(database_url, api_url, source, batch=args.batch)
                scoring_lag = scores_complete(database_url, agent.farm_id, rows) if args.ai else None
            if agent.rows_in_cloud != rows:
                raise RuntimeError(f"the cloud holds {agent.rows_in_cloud} rows, the source {rows}")
            copy = copy_seconds(database_url, agent.farm_id)
        finally:
            drop_database(server, name)
    return {
        "rows": rows,
        "seconds": round(agent.seconds, 2),
        "rows_per_s": round(rows / agent.seconds),
        "copy_seconds": round(copy, 2),
        "ratio_to_copy": round(agent.seconds / copy, 2),
        "agent_peak_rss_mb": round(agent.peak_rss_bytes / 2**20, 1),
        "wire_bytes_per_row": round(agent.bytes_sent / rows, 1),
        "cpu_us_per_row": {k: round(v * 1e6 / rows, 1) for k, v in agent.cpu_seconds.items()},
        **({"ai": True, "scoring_lag_s": scoring_lag} if args.ai else {}),
        "batch": args.batch or AgentConfig.model_fields["max_batch_size"].default,
        "source": f"simulated DelPro in SQLite ({COWS} cows x {DAYS} days)",
    }
