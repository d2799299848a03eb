"""`python bench/run.py web --json`: the dashboard's weight and speed.

* `entry_gzip_kb`: the entry chunk (the script index.html loads), gzip; `initial_js_gzip_kb` adds
  the chunks it imports statically (what a first visit downloads before any page).
* `largest_route_gzip_kb` / `largest_route`: the heaviest page, counting its own chunks and what they
  import that the entry does not (the cow page includes its charts chunk).
* `first_chart_ms`: median time from navigation start to the cow page's first drawn chart line, in
  headless Chromium with a cold cache, against `pecus serve` on a local PostgreSQL seeded through
  the ingest API; `series_api_ms` is the median of the chart's API call alone in the same run, and
  `first_chart_over_api` their ratio (what the browser adds on top of the data).
Targets: entry ≤ 200 KB gzip, first chart ≤ 1 500 ms.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.api import running_api
from tests.support.pg import fresh_database
from tests.support.web_demo import PASSWORD, seed_demo_farm

from pecus.cloud.migrations import migrate

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
DIST = WEB / "dist"


def gzip_kb(path: Path) -> float:
    return round(len(gzip.compress(path.read_bytes(), compresslevel=9)) / 1024, 1)


def _closure(manifest: dict[str, Any], key: str, with_lazy_parts: bool) -> set[str]:
    """A chunk and every chunk it imports statically; with `with_lazy_parts`, also the lazy parts
    the chunk itself loads (the cow page's charts), but never another page nor what shared code
    loads only on demand (supabase-js, in supabase mode only)."""
    seen: set[str] = set()
    stack = [key]
    while stack:
        item = stack.pop()
        if item in seen:
            continue
        seen.add(item)
        chunk = manifest[item]
        stack.extend(chunk.get("imports", []))
        if with_lazy_parts and item == key:
            stack.extend(d for d in chunk.get("dynamicImports", []) if not _is_page(manifest[d]))
    return seen


def _is_page(chunk: dict[str, Any]) -> bool:
    return bool(chunk.get("src", "").endswith("Page.tsx"))


def bundle_sizes() -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((DIST / ".vite" / "manifest.json").read_text())
    entry_key = next(k for k, v in manifest.items() if v.get("isEntry"))
    entry_closure = _closure(manifest, entry_key, with_lazy_parts=False)
    pages = {k: v for k, v in manifest.items() if v.get("isDynamicEntry") and _is_page(v)}
    routes = {}
    for key, chunk in pages.items():
        own = _closure(manifest, key, with_lazy_parts=True) - entry_closure
        routes[Path(chunk["src"]).stem] = round(sum(gzip_kb(DIST / manifest[k]["file"]) for k in own), 1)
    largest = max(routes, key=lambda name: routes[name])
    return {
        "entry_gzip_kb": gzip_kb(DIST / manifest[entry_key]["file"]),
        "initial_js_gzip_kb": round(sum(gzip_kb(DIST / manifest[k]["file"]) for k in entry_closure), 1),
        "largest_route": largest,
        "largest_route_gzip_kb": routes[largest],
        "route_gzip_kb": routes,
    }


def build() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed to build the dashboard"
    if not (WEB / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True, stdout=subprocess.DEVNULL)


def first_chart(cows: int, days: int, runs: int) -> dict[str, Any]:
    with fresh_database("pecus_bench_web") as db_url:
        migrate(db_url)
        with running_api(db_url, {"PECUS_WEB_DIST": str(DIST)}) as api_url:
            farm = seed_demo_farm(db_url, api_url, name="Bench farm", cows=cows, days=days, sick=3)
            with httpx.Client(base_url=api_url, timeout=30) as client:
                credentials = {"email": farm.owner_email, "password": PASSWORD}
                login = client.post("/api/v1/auth/login", json=credentials)
                login.raise_for_status()
                tokens = login.json()
                cow = farm.alert_cows[0]
                headers = {"Authorization": f"Bearer {tokens['access_token']}"}
                series_path = f"/api/v1/farms/{farm.farm_id}/cows/{cow}/series?days=30"
                client.get(series_path, headers=headers).raise_for_status()  # warm the pool
                api_ms = []
                for _ in range(max(runs, 5)):
                    start = time.perf_counter()
                    client.get(series_path, headers=headers).raise_for_status()
                    api_ms.append((time.perf_counter() - start) * 1000)
            session = json.dumps(
                {
                    "accessToken": tokens["access_token"],
                    "refreshToken": tokens["refresh_token"],
                    "expiresAt": tokens["expires_at"] * 1000,
                }
            )
            out = subprocess.run(
                ["node", "e2e/first-chart.mjs", f"{api_url}/farms/{farm.farm_id}/cows/{cow}", str(runs)],
                cwd=WEB,
                env={**os.environ, "PECUS_SESSION": session},
                capture_output=True,
                text=True,
                check=True,
                timeout=300,
            )
            chart_ms = json.loads(out.stdout.strip().splitlines()[-1])["runs_ms"]
    chart = statistics.median(chart_ms)
    api = statistics.median(api_ms)
    return {
        "first_chart_ms": round(chart, 1),
        "first_chart_runs_ms": [round(x, 1) for x in chart_ms],
        "series_api_ms": round(api, 2),
        "first_chart_over_api": round(chart / api, 1),
        "cows": cows,
        "days": days,
    }


def run(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="bench/run.py web")
    parser.add_argument("--cows", type=int, default=120)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-build", action="store_true", help="measure the existing web/dist")
    args = parser.parse_args(argv)
    if not args.no_build or not (DIST / ".vite" / "manifest.json").is_file():
        build()
    figures = bundle_sizes()
    figures.update(first_chart(args.cows, args.days, args.runs))
    figures["entry_target_met"] = figures["entry_gzip_kb"] <= 200
    figures["first_chart_target_met"] = figures["first_chart_ms"] <= 1500
    return figures
