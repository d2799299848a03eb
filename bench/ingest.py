"""Ingest throughput: batches of 1,000 realistic rows through the real HTTP path (gzip, a `pecus
serve` subprocess on loopback) against, in the same run, a raw binary COPY of the same rows into
the same table.

    python bench/run.py ingest --json [--batches N] [--rounds R] [--shape columns|rows]

Each round loads the N batches twice, into two new farms: through the API and by raw COPY (one
transaction per batch, as the API does), alternating batch by batch so both see the same load of
the machine. Figures are medians over the rounds; `ratio` is api_rows_per_s / copy_rows_per_s.
Batch latencies (p50, p95) pool every API batch of every round. The AI engine is switched off (no
ingest hooks run; PECUS_AI_ENABLED=0 is passed for when it registers one)."""

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


def _new_farm(database_url: str, label: str) -> tuple[uuid.UUID, str, int]:
    """A farm with an agent key (for the API path) and a source row (for the COPY path)."""
    with connect(database_url) as conn:
        farm_id = create_farm(conn, f"bench {label} {uuid.uuid4().hex[:6]}")
        key = create_agent_key(conn, farm_id, "bench").key
        row = conn.execute(
            "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm_id]
        ).fetchone()
    assert row is not None
    return farm_id, key, int(row[0])


def _round(
    url: str, database_url: str, batches: list[list[dict[str, Any]]], shape: str
) -> tuple[float, float, list[float]]:
    """Load every batch through the API into one new farm and by raw COPY into another, batch by
    batch in alternation (so both paths see the same machine load). Returns both rates in rows/s
    and the API batch latencies in ms."""
    api_farm, key, _ = _new_farm(database_url, "api")
    copy_farm, _, copy_source = _new_farm(database_url, "copy")
    # Untimed preparation: the agent's serialisation and gzip; for COPY, Python values ready to write.
    bodies = [_body(api_farm, b, shape) for b in batches]
    values = [[tuple(MilkingSession.model_validate(r).model_dump().values()) for r in b] for b in batches]
    cols = ", ".join(("tenant_id", "source_id", *SESSION_COLUMNS))
    types = ["uuid", "integer", *COLUMN_TYPES.values()]
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Encoding": "gzip",
        "Content-Type": "application/json",
    }
    api_s = copy_s = 0.0
    latencies = []
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client, connect(database_url) as conn:
        psycopg.types.json.set_json_dumps(orjson.dumps, context=conn)
        client.get("/healthz")  # open the keep-alive connection before timing
        for body, batch in zip(bodies, values, strict=True):
            t0 = time.perf_counter()
            r = client.post("/api/v1/ingest", content=body)
            t1 = time.perf_counter()
            if r.status_code != 200 or r.json()["inserted"] != len(batch):
                raise RuntimeError(f"ingest failed: {r.status_code} {r.text[:500]}")
            with (
                conn.transaction(),
                conn.cursor().copy(
                    f"COPY public.milking_sessions ({cols}) FROM STDIN (FORMAT BINARY)"
                ) as copy,
            ):
                copy.set_types(types)
                for row in batch:
                    copy.write_row((copy_farm, copy_source, *row))
            t2 = time.perf_counter()
            api_s += t1 - t0
            copy_s += t2 - t1
            latencies.append((t1 - t0) * 1000)
    rows = sum(map(len, batches))
    return rows / api_s, rows / copy_s, latencies


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
            _round(url, database_url, batches[:3], args.shape)  # warm up both paths
            for _ in range(args.rounds):
                api_rate, copy_rate, batch_ms = _round(url, database_url, batches, args.shape)
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
