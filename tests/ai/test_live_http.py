"""End to end through HTTP: the real API (`pecus serve` subprocess) ingests simulated milkings,
its post-commit hook scores them, and an emerging case becomes one alert with reasons; ingesting
again (the same batch, then the next milkings) adds no second alert."""

from __future__ import annotations

import gzip
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import psycopg
import pytest

from pecus.ai.model import packaged_model
from pecus.ai.simulate import simulate_farm
from tests.support.api import FarmKey, create_farm_with_key, running_api

BATCH = 400


@pytest.fixture(scope="module")
def api(db_url: str) -> Iterator[str]:
    with running_api(db_url) as url:
        yield url


def rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for record in frame.to_dict("records"):
        row = {}
        for name, value in record.items():
            if isinstance(value, pd.Timestamp):
                row[name] = value.isoformat()
            elif value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
                row[name] = None
            elif isinstance(value, np.generic):
                row[name] = value.item()
            else:
                row[name] = value
        out.append(row)
    return out


def post(client: httpx.Client, farm: FarmKey, frame: pd.DataFrame) -> dict[str, Any]:
    body = {
        "farm_id": str(farm.farm_id),
        "source": "delpro",
        "agent": {"version": "test"},
        "rows": rows(frame),
    }
    headers = {**farm.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    response = client.post("/api/v1/ingest", content=gzip.compress(orjson.dumps(body)), headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def wait_scored(db_url: str, farm: uuid.UUID, count: int, timeout: float = 60.0) -> None:
    """Hooks run after the response: wait until the farm has `count` scores."""
    deadline = time.monotonic() + timeout
    while True:
        with psycopg.connect(db_url) as conn:
            row = conn.execute("SELECT count(*) FROM session_scores WHERE tenant_id = %s", [farm]).fetchone()
        if row and row[0] >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{row[0] if row else 0} of {count} milkings scored after {timeout} s")
        time.sleep(0.2)


def alerts(db_url: str, farm: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(db_url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute("SELECT * FROM alerts WHERE tenant_id = %s ORDER BY alert_id", [farm])
        return list(cur.fetchall())


def test_ingest_an_emerging_case_gives_one_alert_with_reasons(db_url: str, api: str) -> None:
    # History up to 12 h ago; the last 12 h are the "next milkings" sent afterwards.
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=12.5)
    sim = simulate_farm(30, 12, seed=21, start=start, future_days=0.5, emerging_cases=3)
    sessions = sim.sessions[sim.sessions["ended_at"] <= pd.Timestamp.now(tz="UTC")]
    history, later = sessions.iloc[: sim.history_rows()], sessions.iloc[sim.history_rows() :]
    farm = create_farm_with_key(db_url, time_zone="Europe/Rome")
    emerging = set(sim.cases.loc[sim.cases["diagnosed_at"] > sim.history_end, "animal_id"])

    with httpx.Client(base_url=api, timeout=60) as client:
        for i in range(0, len(history), BATCH):
            post(client, farm, history.iloc[i : i + BATCH])
        wait_scored(db_url, farm.farm_id, len(history))
        first = alerts(db_url, farm.farm_id)
        alerted = {a["animal_id"] for a in first}
        assert alerted & emerging, f"alerts for {alerted}, emerging cases {emerging}"
        assert len(first) == len(alerted)
        for alert in first:
            assert alert["model_version"] == packaged_model().version
            assert alert["reasons"] and alert["reasons"][0]["text"]

        # The agent re-sends the last batch (a lost response): nothing new, no second alert.
        again = post(client, farm, history.iloc[-BATCH:])
        assert again["inserted"] == 0
        time.sleep(1.0)
        assert alerts(db_url, farm.farm_id) == first

        # The next milkings of the same cows: the open alerts are updated, never doubled.
        assert len(later) > 0
        post(client, farm, later)
        wait_scored(db_url, farm.farm_id, len(sessions))
        after = alerts(db_url, farm.farm_id)
        by_cow = pd.Series([a["animal_id"] for a in after]).value_counts()
        assert (by_cow == 1).all(), by_cow
        kept = {a["animal_id"]: a["alert_id"] for a in first}
        for alert in after:
            if alert["animal_id"] in kept:
                assert alert["alert_id"] == kept[alert["animal_id"]]
                assert alert["last_observed_at"] >= next(
                    a["last_observed_at"] for a in first if a["alert_id"] == alert["alert_id"]
                )
