"""Live scoring speed: milkings scored per second, history hydration from PostgreSQL included.

A simulated farm (default 1,000 cows x 40 days) is seeded into a fresh database with COPY; then
its last days are scored in ingest-sized batches (default 5,000, the API's max batch size) with
`pecus.ai.live.score_batch`, exactly what runs after each ingest: one hydration query (the
batch's cows, 7 days + the interval before), features, risk, scores upserted, alerts written.

Baseline, measured in the same run: hydrating the same batches with one query per cow (the
obvious way) instead of one query per batch. Figures are medians over the batches.

Also measured: two farms' batches scored at once (the API serves many farms; one batch's
database work overlaps the other's Python work).

Wall-clock rates depend on what else runs on the machine (its load average is reported); the CPU
seconds spent by this process and by the PostgreSQL backends of the benchmark database give a
load-independent figure: sessions per CPU-second, what one dedicated core would score.

    python bench/run.py inference --json [--cows 1000] [--days 40] [--scored-days 10] [--batch 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import math
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from pecus.ai.live import hydrate, score_batch
from pecus.ai.registry import LiveModel
from pecus.ai.simulate import simulate_farm
from pecus.cloud.database import create_database, database_url, drop_database
from pecus.cloud.farms import create_farm
from pecus.cloud.ingest import IngestedBatch
from pecus.cloud.migrations import migrate
from pecus.cloud.tenancy import make_pool
from pecus.contract.session import SESSION_COLUMNS

TARGET_PER_SECOND = 20_000
COLUMNS = [c for c in SESSION_COLUMNS if c != "extra"]


def _seed(url: str, sessions: pd.DataFrame) -> tuple[uuid.UUID, int, float]:
    """A farm and source with `sessions`, loaded with COPY. Returns (farm, source, seconds)."""
    with psycopg.connect(url) as conn:
        farm = create_farm(conn, f"Bench farm {uuid.uuid4().hex[:6]}", "Europe/Rome")
        row = conn.execute(
            "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm]
        ).fetchone()
        assert row is not None
        source = int(row[0])
        frame = sessions[COLUMNS].copy()
        frame.insert(0, "source_id", source)
        frame.insert(0, "tenant_id", str(farm))
        text = io.StringIO()
        frame.to_csv(text, index=False, header=False)
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                f"COPY milking_sessions (tenant_id, source_id, {', '.join(COLUMNS)})"
                " FROM STDIN WITH (FORMAT csv)"
            ) as copy,
        ):
            copy.write(text.getvalue())
        conn.commit()
        conn.execute("ANALYZE milking_sessions")
        return farm, source, time.perf_counter() - started


def _cpu_seconds(database: str) -> tuple[float, float | None]:
    """CPU seconds so far of this process, and of the PostgreSQL backends serving `database`
    (when the server runs on this machine and psutil is installed)."""
    own = time.process_time()
    try:
        import psutil
    except ImportError:
        return own, None
    total, found = 0.0, False
    for proc in psutil.process_iter(["cmdline"]):
        try:
            cmdline = " ".join(proc.info["cmdline"] or [])
            if database in cmdline and "postgres" in cmdline:
                times = proc.cpu_times()
                total += times.user + times.system
                found = True
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return own, total if found else None


def _per_cow_hydration(url: str, farm: uuid.UUID, batch: pd.DataFrame) -> float:
    """Baseline: the same history, one query per cow."""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        for animal, rows in batch.groupby("animal_id"):
            since = rows["started_at"].min() - timedelta(hours=7 * 24 + 48)
            until = rows["started_at"].max()
            conn.execute(
                "SELECT * FROM milking_sessions WHERE tenant_id = %s AND animal_id = %s"
                " AND started_at >= %s AND started_at <= %s",
                [farm, animal, since.to_pydatetime(), until.to_pydatetime()],
            ).fetchall()
    return time.perf_counter() - started


async def _measure(
    url: str, database: str, farm: uuid.UUID, source: int, batches: list[pd.DataFrame], now: datetime
) -> dict[str, Any]:
    pool = make_pool(url, min_size=4, max_size=4)
    await pool.open(wait=True)
    models = LiveModel()
    try:
        await models.get(pool)  # load the model before timing
        totals, hydrations, history, alerts = [], [], [], 0
        own_cpu, pg_cpu = 0.0, 0.0
        for frame in batches:
            batch = IngestedBatch(farm, source, frame["transaction_id"].tolist(), frame["animal_id"].tolist())
            async with pool.connection() as conn:
                started = time.perf_counter()
                await hydrate(conn, farm, source, batch.transaction_ids)
                hydrations.append(time.perf_counter() - started)
            own_before, pg_before = _cpu_seconds(database)
            started = time.perf_counter()
            result = await score_batch(pool, batch, models=models, now=now)
            totals.append(time.perf_counter() - started)
            own_after, pg_after = _cpu_seconds(database)
            own_cpu += own_after - own_before
            pg_cpu = (
                pg_cpu + (pg_after - pg_before)
                if pg_after is not None and pg_before is not None
                else float("nan")
            )
            history.append(result.history_rows)
            alerts += len(result.alerts)
    finally:
        await pool.close()
    return {
        "totals": totals,
        "hydrations": hydrations,
        "history": history,
        "alerts": alerts,
        "model": result.model_version,
        "own_cpu": own_cpu,
        "pg_cpu": pg_cpu,
    }


async def _measure_concurrent(
    url: str, farms: list[tuple[uuid.UUID, int]], batches: list[pd.DataFrame], now: datetime
) -> float:
    """Seconds to score every batch for every farm, the farms' batches at the same time."""
    pool = make_pool(url, min_size=4, max_size=4)
    await pool.open(wait=True)
    models = LiveModel()
    try:
        await models.get(pool)
        started = time.perf_counter()
        for frame in batches:
            ids = frame["transaction_id"].tolist()
            await asyncio.gather(
                *(
                    score_batch(pool, IngestedBatch(farm, source, ids), models=models, now=now)
                    for farm, source in farms
                )
            )
        return time.perf_counter() - started
    finally:
        await pool.close()


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="inference")
    parser.add_argument("--cows", type=int, default=1000)
    parser.add_argument("--days", type=float, default=40)
    parser.add_argument("--scored-days", type=float, default=10)
    parser.add_argument("--batch", type=int, default=5000)
    args = parser.parse_args(argv)

    now = datetime.now(UTC).replace(microsecond=0)
    sim = simulate_farm(args.cows, args.days, seed=7, start=now - timedelta(days=args.days), emerging_cases=5)
    sessions = sim.sessions.iloc[: sim.history_rows()]
    server = database_url()
    name = f"pecus_bench_{uuid.uuid4().hex[:10]}"
    url = create_database(server, name)
    try:
        migrate(url)
        farm, source, seed_s = _seed(url, sessions)
        scored = sessions[
            sessions["started_at"] >= sessions["started_at"].max() - pd.Timedelta(days=args.scored_days)
        ]
        batches = [scored.iloc[i : i + args.batch] for i in range(0, len(scored), args.batch)]
        figures = asyncio.run(_measure(url, name, farm, source, batches, now))
        per_cow = [_per_cow_hydration(url, farm, frame) for frame in batches]
        farms = [_seed(url, sessions)[:2] for _ in range(2)]
        concurrent_s = asyncio.run(_measure_concurrent(url, farms, batches, now))
    finally:
        drop_database(server, name)

    sizes = [len(b) for b in batches]
    total_s = sum(figures["totals"])
    one_query = statistics.median(figures["hydrations"])
    per_cow_median = statistics.median(per_cow)
    rate = sum(sizes) / total_s
    cpu = figures["own_cpu"] + figures["pg_cpu"]
    return {
        "sessions_per_second": round(rate),
        "target_sessions_per_second": TARGET_PER_SECOND,
        "meets_target": rate >= TARGET_PER_SECOND,
        "concurrent_two_farms_sessions_per_second": round(2 * sum(sizes) / concurrent_s),
        "median_batch_seconds": round(statistics.median(figures["totals"]), 4),
        "batch_size": args.batch,
        "batches": len(batches),
        "sessions_scored": sum(sizes),
        "median_history_rows_per_batch": int(statistics.median(figures["history"])),
        "median_hydration_seconds": round(one_query, 4),
        "baseline_per_cow_hydration_seconds": round(per_cow_median, 4),
        "hydration_speedup_vs_per_cow_queries": round(per_cow_median / one_query, 1),
        "cpu_seconds_scoring": round(figures["own_cpu"], 3),
        "cpu_seconds_postgres": None if math.isnan(figures["pg_cpu"]) else round(figures["pg_cpu"], 3),
        "sessions_per_cpu_second": None if math.isnan(cpu) else round(sum(sizes) / cpu),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpu_cores": os.cpu_count(),
        "alert_changes": figures["alerts"],
        "model_version": figures["model"],
        "seeded_rows": len(sessions),
        "seed_copy_rows_per_second": round(len(sessions) / seed_s),
        "cows": args.cows,
    }
