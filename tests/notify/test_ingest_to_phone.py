"""The whole path through real processes: an agent's upload (HTTP) is scored by the API's
post-commit hook, the emerging case becomes an alert, its outbox row is delivered by the API's own
dispatcher to the farm's notification target (a local receiver), once."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pandas as pd
import psycopg
from psycopg.rows import dict_row

from pecus.ai.simulate import simulate_farm
from tests.ai.test_live_http import post, wait_scored
from tests.support.alerting import add_target
from tests.support.api import create_farm_with_key, running_api
from tests.support.receiver import receiver

PUBLIC_URL = "https://app.pecus.example"
JOBS = {
    "PECUS_BACKGROUND_JOBS": "on",
    "PECUS_RISK_SCAN_MINUTES": "0",
    "PECUS_PUBLIC_URL": PUBLIC_URL,
    "PECUS_NOTIFY_POLL_SECONDS": "0.5",
}


def outbox_settled(url: str, farm: object) -> list[dict[str, Any]] | None:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT n.*, a.animal_id, a.unit, a.risk_score, a.level, a.reasons FROM notifications n"
            " JOIN alerts a USING (tenant_id, alert_id) WHERE n.tenant_id = %s ORDER BY n.notification_id",
            [farm],
        ).fetchall()
    return rows if rows and all(r["status"] == "sent" for r in rows) else None


def test_an_alert_raised_on_ingest_reaches_the_farmer_once(own_db_url: str) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=12)
    sim = simulate_farm(30, 12, seed=21, start=start, emerging_cases=3)
    history = sim.sessions.iloc[: sim.history_rows()]
    history = history[history["ended_at"] <= pd.Timestamp.now(tz="UTC")]
    farm = create_farm_with_key(own_db_url, time_zone="Europe/Rome")
    with (
        receiver() as rec,
        running_api(own_db_url, JOBS) as api,
        httpx.Client(base_url=api, timeout=60) as client,
    ):
        add_target(own_db_url, farm.farm_id, rec.url("json"))
        # One upload (the agent's first sync of a farm): one scoring, so each alert is sent as
        # it stays (a later batch could raise a risk without crossing the critical threshold).
        assert len(history) <= 5000
        post(client, farm, history)
        wait_scored(own_db_url, farm.farm_id, len(history))

        deadline = time.monotonic() + 60
        while (rows := outbox_settled(own_db_url, farm.farm_id)) is None:
            assert time.monotonic() < deadline, "the outbox was not delivered"
            time.sleep(0.2)
        requests = rec.wait_for(len(rows))

        # The agent re-sends its last batch (a lost response): no new alert, no second message.
        assert post(client, farm, history)["inserted"] == 0
        time.sleep(1.5)

    assert len(rec.requests) == len(requests) == len(rows) > 0
    assert len({r.idempotency_key for r in requests}) == len(rows)
    texts = {r.text for r in requests}
    for row in rows:
        link = f"{PUBLIC_URL}/farms/{farm.farm_id}/cows/{row['animal_id']}"
        risk = "HIGH risk" if row["level"] == "critical" else "risk"
        head = f"Pecus: cow {row['animal_id']} ({row['unit']}) {risk} {round(row['risk_score'] * 100)}%. "
        [text] = [t for t in texts if t.startswith(head)]
        assert text.endswith(f". {link}") and len(text) <= 160 and text.isascii()
        assert (row["attempts"], row["message"]) == (1, text)
        first = row["reasons"][0]
        if first.get("quarter"):  # what moved, in the quarter names of the robot's screen
            assert first["quarter"].upper() in text[len(head) :]
