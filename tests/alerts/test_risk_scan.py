"""The scheduled risk scan on a real PostgreSQL: recovered cows, silent milking units, idempotence,
one run at a time, and `pecus risk-scan` as the cron job runs it."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from pecus.cloud.locks import RISK_SCAN_LOCK_ID
from pecus.cloud.notify.config import NotifySettings
from pecus.cloud.notify.dispatcher import Dispatcher
from pecus.cloud.risk_scan import run_scan_job
from tests.ai.farm_data import insert_sessions, new_farm, recent_farm
from tests.support.alerting import add_target, make_farm, pecus, store_sessions, summary_of
from tests.support.receiver import receiver
from tests.support.sessions import session_row

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
BASE = {"conductivity_lf": 5.1, "conductivity_rf": 5.3, "conductivity_lr": 5.0, "conductivity_rr": 5.2}


class Ids:
    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def milkings(
    ids: Ids, animal: str, start: datetime, end: datetime, *, unit: str = "Robot 1", **values: Any
) -> list[dict[str, Any]]:
    """A cow milked every 8 hours from `start` up to `end`, with the given sensor values."""
    rows = []
    t = start
    while t < end:
        rows.append(
            session_row(
                ids(),
                animal=animal,
                unit=unit,
                started_at=t.isoformat(),
                ended_at=(t + timedelta(minutes=7)).isoformat(),
                **{"yield_kg": 12.0, **BASE, **values},
            )
        )
        t += timedelta(hours=8)
    return rows


def cow_with_episode(ids: Ids, animal: str, *, sick_until: datetime) -> list[dict[str, Any]]:
    """Two weeks of a cow whose rear-left quarter rose +50 % from 7 days ago until `sick_until`."""
    return (
        milkings(ids, animal, NOW - timedelta(days=14), NOW - timedelta(days=7))
        + milkings(ids, animal, NOW - timedelta(days=7), sick_until, conductivity_lr=7.5, yield_kg=9.5)
        + milkings(ids, animal, sick_until, NOW)
    )


def raise_on_session(url: str, farm: uuid.UUID, animal: str, at: datetime) -> int:
    """A mastitis alert tied to the cow's milking at `at`, as the AI engine raises it."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "INSERT INTO alerts (tenant_id, animal_id, unit, source_id, transaction_id, risk_score, reasons)"
            " SELECT tenant_id, animal_id, unit, source_id, transaction_id, 0.8, '[]' FROM milking_sessions"
            " WHERE tenant_id = %s AND animal_id = %s AND started_at >= %s ORDER BY started_at LIMIT 1"
            " RETURNING alert_id",
            [farm, animal, at],
        ).fetchone()
    assert row is not None
    return int(row[0])


def alerts_of(url: str, farm: uuid.UUID) -> dict[int, dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        rows = conn.execute("SELECT * FROM alerts WHERE tenant_id = %s ORDER BY alert_id", [farm]).fetchall()
    return {r["alert_id"]: r for r in rows}


def history(url: str, farm: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT alert_id, from_status, to_status, changed_by, note FROM alert_status_changes"
            " WHERE tenant_id = %s ORDER BY change_id",
            [farm],
        ).fetchall()


async def scan(url: str, at: datetime) -> dict[str, Any]:
    return await run_scan_job(url, force=True, clock=lambda: at)


async def test_scan_resolves_a_recovered_cow_raises_a_stale_feed_alert_and_is_idempotent(
    own_db_url: str,
) -> None:
    url = own_db_url
    farm = make_farm(url, stale_after_minutes=600)
    ids = Ids()
    rows = (
        cow_with_episode(ids, "501", sick_until=NOW - timedelta(days=4))  # normal for 4 days now
        + cow_with_episode(ids, "502", sick_until=NOW)  # still high
        + milkings(ids, "503", NOW - timedelta(days=14), NOW)  # never sick, alert only 1 day old
        + milkings(ids, "601", NOW - timedelta(days=3), NOW - timedelta(hours=12), unit="Robot 9")
    )
    await store_sessions(url, farm, rows)
    recovered = raise_on_session(url, farm, "501", NOW - timedelta(days=6))
    sick = raise_on_session(url, farm, "502", NOW - timedelta(days=6))
    recent = raise_on_session(url, farm, "503", NOW - timedelta(days=1))

    first = await scan(url, NOW)

    assert first["ran"] is True
    assert (first["cows_recovered"], first["data_feed_alerts"], first["data_feed_resolved"]) == (1, 1, 0)
    alerts = alerts_of(url, farm)
    assert alerts[recovered]["status"] == "resolved"
    assert alerts[recovered]["status_changed_by"] is None
    assert alerts[sick]["status"] == "new" and alerts[recent]["status"] == "new"
    [feed] = [a for a in alerts.values() if a["kind"] == "data_feed"]
    assert (feed["unit"], feed["status"], feed["level"]) == ("Robot 9", "new", "warning")
    assert feed["reasons"][0]["text"] == "no milkings from Robot 9 for 15 h 53 min"  # Robot 1: 8 h
    assert history(url, farm) == [
        {
            "alert_id": recovered,
            "from_status": "new",
            "to_status": "resolved",
            "changed_by": None,
            "note": "back to her baseline for 3 days (risk scan)",
        }
    ]

    second = await scan(url, NOW + timedelta(minutes=1))
    assert (second["cows_recovered"], second["data_feed_alerts"], second["data_feed_resolved"]) == (0, 0, 0)
    assert alerts_of(url, farm) == alerts
    assert len(history(url, farm)) == 1


async def test_a_silent_unit_is_one_alert_per_silence_resolved_when_milkings_return(own_db_url: str) -> None:
    url = own_db_url
    farm = make_farm(url, stale_after_minutes=120)
    ids = Ids()
    await store_sessions(url, farm, milkings(ids, "7", NOW - timedelta(days=1), NOW - timedelta(hours=4)))
    assert (await scan(url, NOW))["data_feed_alerts"] == 1
    [feed_id] = alerts_of(url, farm)

    # Someone dismisses it: the same silence does not come back.
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE alerts SET status = 'false_positive' WHERE alert_id = %s", [feed_id])
    assert (await scan(url, NOW + timedelta(hours=1)))["data_feed_alerts"] == 0

    # Milkings arrive again; then the unit falls silent once more: a new silence, a new alert.
    await store_sessions(url, farm, milkings(ids, "7", NOW - timedelta(minutes=30), NOW))
    assert (await scan(url, NOW + timedelta(minutes=5)))["data_feed_alerts"] == 0
    later = await scan(url, NOW + timedelta(hours=3))
    assert later["data_feed_alerts"] == 1
    new_feed = max(alerts_of(url, farm))
    assert new_feed != feed_id

    # It is resolved by the scan itself when milkings return.
    await store_sessions(url, farm, milkings(ids, "7", NOW + timedelta(hours=2), NOW + timedelta(hours=3)))
    back = await scan(url, NOW + timedelta(hours=3, minutes=5))
    assert (back["data_feed_resolved"], back["data_feed_alerts"]) == (1, 0)
    assert alerts_of(url, farm)[new_feed]["status"] == "resolved"
    assert history(url, farm)[-1]["note"] == "milkings arrive again (risk scan)"


async def test_a_stale_feed_alert_reaches_the_farmer(own_db_url: str) -> None:
    url = own_db_url
    farm = make_farm(url, time_zone="Europe/Rome", stale_after_minutes=60)
    last = datetime(2026, 11, 30, 2, 12, tzinfo=UTC)  # 03:12 in Rome
    await store_sessions(
        url, farm, milkings(Ids(), "12", last - timedelta(hours=8), last + timedelta(hours=1))
    )
    with receiver() as rec:
        add_target(url, farm, rec.url("json"))
        await scan(url, NOW)
        settings = NotifySettings(public_url="https://app.pecus.example")
        assert (await Dispatcher(url, settings).run_once()) is not None
        [request] = rec.wait_for(1)
    assert request.text == (
        "Pecus: no milkings from Robot 1 since 30/11 03:19. Check the robot and the farm PC agent."
        f" https://app.pecus.example/farms/{farm}"
    )


async def test_the_scan_runs_once_at_a_time_and_once_per_period(own_db_url: str) -> None:
    url = own_db_url
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", [RISK_SCAN_LOCK_ID])  # another instance scanning
        busy = await run_scan_job(url, force=True)
        other.execute("SELECT pg_advisory_unlock(%s)", [RISK_SCAN_LOCK_ID])
    assert busy == {"ran": False, "reason": "another risk scan is running"}

    first = await run_scan_job(url, force=False, every=timedelta(hours=1), clock=lambda: NOW)
    soon = await run_scan_job(
        url, force=False, every=timedelta(hours=1), clock=lambda: NOW + timedelta(minutes=5)
    )
    due = await run_scan_job(
        url, force=False, every=timedelta(hours=1), clock=lambda: NOW + timedelta(hours=2)
    )
    assert (first["ran"], soon["ran"], due["ran"]) == (True, False, True)
    assert soon["reason"] == "ran less than a period ago"


def test_pecus_risk_scan_as_the_cron_job_runs_it(own_db_url: str) -> None:
    farm = make_farm(own_db_url, stale_after_minutes=30)
    with psycopg.connect(own_db_url) as conn:
        source = conn.execute(
            "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm]
        ).fetchone()
        assert source is not None
        conn.execute(
            "INSERT INTO milking_units (tenant_id, unit, source_id, last_session_at)"
            " VALUES (%s, 'Robot 1', %s, now() - interval '2 hours')",
            [farm, source[0]],
        )
    first = summary_of(pecus("risk-scan", database_url=own_db_url))
    second = summary_of(pecus("risk-scan", database_url=own_db_url))
    assert (first["ran"], first["data_feed_alerts"], first["farms"]) == (True, 1, 1)
    assert (second["ran"], second["data_feed_alerts"]) == (True, 0)


async def test_scan_scores_missed_milkings_and_raises_the_alerts_they_call_for(own_db_url: str) -> None:
    url = own_db_url
    sim = recent_farm(cows=20, days=10, seed=5, emerging=2)
    history = sim.sessions.iloc[: sim.history_rows()]
    with psycopg.connect(url) as conn:  # stored while scoring was down: no scores, no alerts
        farm, source = new_farm(conn)
        insert_sessions(conn, farm, source, history)
    add_target(url, farm, "json://notify.example.test/hook")
    now = datetime.now(UTC)
    recent = int((history["started_at"] > now - timedelta(hours=72)).sum())

    first = await scan(url, now)

    assert (first["sessions_scored"], first["scoring_failed"]) == (recent, 0)
    alerts = alerts_of(url, farm)
    emerging = set(sim.cases.loc[sim.cases["diagnosed_at"] > sim.history_end, "animal_id"])
    alerted = {a["animal_id"] for a in alerts.values()}
    assert first["alerts_raised"] == len(alerts) and alerted & emerging, (alerted, emerging)
    assert all(a["reasons"] and a["model_version"] for a in alerts.values())
    with psycopg.connect(url) as conn:
        scored = conn.execute("SELECT count(*) FROM session_scores WHERE tenant_id = %s", [farm]).fetchone()
        queued = conn.execute(
            "SELECT count(*) FROM notifications WHERE tenant_id = %s AND event = 'created'", [farm]
        ).fetchone()
    assert scored == (recent,) and queued == (len(alerts),)  # each raised alert is on its way

    second = await scan(url, now + timedelta(minutes=1))
    assert (second["sessions_scored"], second["alerts_raised"], second["cows_recovered"]) == (0, 0, 0)
    assert alerts_of(url, farm) == alerts


def test_pecus_risk_scan_refuses_a_transaction_pooler_with_a_clear_message() -> None:
    proc = pecus("risk-scan", database_url="postgresql://postgres@127.0.0.1:6543/postgres")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    words = " ".join(re.sub("[│╭╮╰╯─]", " ", err.decode()).split())  # rich draws a box around it
    assert "transaction pooler, which cannot hold the advisory locks" in words
    assert "set DATABASE_DIRECT_URL to the direct connection" in words
