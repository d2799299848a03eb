"""Ingest throughput: batches of 1,000 realistic rows through the real HTTP path (gzip, a `pecus
serve` subprocess on loopback) against, in the same run, a raw binary COPY of the same rows into
the same table.

    python bench/run.py ingest --json [--batches N] [--rounds R] [--shape columns|rows]

Each round loads the N batches twice, into two new farms: through the API, then by raw COPY (one
transaction per batch, as the API does). Figures are medians over the rounds; `ratio` is
api_rows_per_s / copy_rows_per_s. Batch latencies (p50, p95) pool every API batch of every round.
The AI engine is switched off (no ingest hooks run)."""

from __future__ import annotations

import argparse
import gzip
import statistics
import time
import uuid
from typing import Any

import httpx
import orjson
import psycopg
from tests.support.api import running_api
from tests.support.pg import server_url

from bench.support.sessions import farm_sessions, to_columns
from pecus.cloud.agent_keys import create_agent_key
from pecus.cloud.database import connect, create_database, drop_database
from pecus.cloud.farms import create_farm
from pecus.cloud.ingest import COLUMN_TYPES
from pecus.cloud.migrations import migrate
from pecus.contract import SESSION_COLUMNS, MilkingSession

BATCH_ROWS = 1000
GZIP_LEVEL = 6  # what the agent sends (zlib's default)


def _body(farm_id: uuid.UUID, rows: list[dict[str, Any]], shape: str) -> bytes:
    envelope: dict[str, Any] = {
        "farm_id": str(farm_id),
        "source": "delpro",
        "agent": {"version": "bench", "host": "bench"},
    }
    envelope[shape] = rows if shape == "rows" else to_columns(rows)
    return gzip.compress(orjson.dumps(envelope), GZIP_LEVEL)


def _wire_bytes_per_row(batches: list[list[dict[str, Any]]], shape: str) -> float:
    farm = uuid.uuid4()
    total = sum(len(_body(farm, b, shape)) for b in batches)
    return round(total / sum(len(b) for b in batches), 1)


def _api_round(
    url: str, database_url: str, batches: list[list[dict[str, Any]]], shape: str
) -> tuple[float, list[float]]:
    with connect(database_url) as conn:
        farm_id = create_farm(conn, f"bench api {uuid.uuid4().hex[:6]}")
        key = create_agent_key(conn, farm_id, "bench").key
    bodies = [_body(farm_id, b, shape) for b in batches]  # the agent's work, not timed
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    latencies = []
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        client.get("/healthz")  # open the keep-alive connection before timing
        start = time.perf_counter()
        for body in bodies:
            t0 = time.perf_counter()
            r = client.post("/api/v1/ingest", content=body)
            latencies.append((time.perf_counter() - t0) * 1000)
            if r.status_code != 200 or r.json()["inserted"] != BATCH_ROWS:
                raise RuntimeError(f"ingest failed: {r.status_code} {r.text[:500]}")
        elapsed = time.perf_counter() - start
    return sum(map(len, batches)) / elapsed, latencies


def _copy_round(database_url: str, batches: list[list[dict[str, Any]]]) -> float:
    # Python values ready for COPY, prepared before timing: the baseline is the database's own speed.
    prepared = [
        [tuple(MilkingSession.model_validate(r).model_dump().values()) for r in batch] for batch in batches
    ]
    cols = ", ".join(("tenant_id", "source_id", *SESSION_COLUMNS))
    types = ["uuid", "integer", *COLUMN_TYPES.values()]
    with connect(database_url) as conn:
        farm_id = create_farm(conn, f"bench copy {uuid.uuid4().hex[:6]}")
        row = conn.execute(
            "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm_id]
        ).fetchone()
        assert row is not None
        source_id = row[0]
        conn.commit()
        psycopg.types.json.set_json_dumps(orjson.dumps, context=conn)
        start = time.perf_counter()
        for batch in prepared:
            with (
                conn.transaction(),
                conn.cursor().copy(
                    f"COPY public.milking_sessions ({cols}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(types)
                for values in batch:
                    copy.write_row((farm_id, source_id, *values))
        elapsed = time.perf_counter() - start
    return sum(map(len, batches)) / elapsed


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run.py ingest")
    parser.add_argument("--batches", type=int, default=150, help="batches of 1,000 rows per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shape", choices=("columns", "rows"), default="columns")
    args = parser.parse_args(argv)

    rows = farm_sessions(args.batches * BATCH_ROWS)
    batches = [rows[i : i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]
    server = server_url()
    name = f"pecus_bench_{uuid.uuid4().hex[:8]}"
    database_url = create_database(server, name)
    try:
        migrate(database_url)
        api_rates, copy_rates, ratios, latencies = [], [], [], []
        with running_api(database_url, {"PECUS_AI_ENABLED": "0"}) as url:
            _api_round(url, database_url, batches[:2], args.shape)  # warm up both paths
            for _ in range(args.rounds):
                api_rate, batch_ms = _api_round(url, database_url, batches, args.shape)
                copy_rate = _copy_round(database_url, batches)
                api_rates.append(api_rate)
                copy_rates.append(copy_rate)
                ratios.append(api_rate / copy_rate)
                latencies.extend(batch_ms)
    finally:
        drop_database(server, name)
    wire = {shape: _wire_bytes_per_row(batches, shape) for shape in ("rows", "columns")}
    return {
        "rows": len(rows),
        "rounds": args.rounds,
        "shape": args.shape,
        "api_rows_per_s": round(statistics.median(api_rates)),
        "copy_rows_per_s": round(statistics.median(copy_rates)),
        "ratio": round(statistics.median(ratios), 3),
        "p50_batch_ms": round(statistics.median(latencies), 1),
        "p95_batch_ms": round(_percentile(latencies, 0.95), 1),
        "wire_bytes_per_row": wire[args.shape],
        "wire_bytes_per_row_rows": wire["rows"],
        "wire_bytes_per_row_columns": wire["columns"],
    }
