"""What an accepted batch does: stores exactly its rows once, registers cows and robots, moves the
watermark, records the run."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import psycopg
import pytest
from psycopg.pq import TransactionStatus

from pecus.cloud.batch_validation import parse_envelope, validate_rows
from pecus.cloud.database import connect
from pecus.cloud.ingest import store_batch
from pecus.cloud.tenancy import make_pool
from pecus.contract import SESSION_COLUMNS, MilkingSession
from tests.api.conftest import error_of, post_batch
from tests.support.api import FarmKey, create_farm_with_key, farm_snapshot, stored_transaction_ids
from tests.support.sessions import as_columns, batch, session_row


def status(client: httpx.Client, farm: FarmKey, source: str = "delpro") -> dict[str, Any]:
    r = client.get(
        "/api/v1/sync/status", params={"farm_id": str(farm.farm_id), "source": source}, headers=farm.headers
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def stored_sessions(db_url: str, farm: FarmKey) -> list[dict[str, Any]]:
    cols = ", ".join(SESSION_COLUMNS)
    with connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            f"SELECT {cols} FROM milking_sessions WHERE tenant_id = %s ORDER BY transaction_id",
            [farm.farm_id],
        )
        names = [d.name for d in cur.description or []]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def test_resending_a_batch_changes_nothing(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    body = batch(farm.farm_id, [session_row(i) for i in range(1, 51)])
    first = post_batch(client, farm, body)
    assert first.json() == {"received": 50, "inserted": 50, "already_present": 0, "watermark": 50}
    stored = stored_sessions(db_url, farm)
    again = post_batch(client, farm, body)  # as after a lost response
    assert again.status_code == 200
    assert again.json() == {"received": 50, "inserted": 0, "already_present": 50, "watermark": 50}
    assert stored_sessions(db_url, farm) == stored
    overlap = post_batch(client, farm, batch(farm.farm_id, [session_row(i) for i in range(41, 61)]))
    assert overlap.json() == {"received": 20, "inserted": 10, "already_present": 10, "watermark": 60}
    assert stored_transaction_ids(db_url, farm.farm_id) == list(range(1, 61))


def test_an_already_stored_row_is_not_overwritten(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    post_batch(client, farm, batch(farm.farm_id, [session_row(1, yield_kg=10.0)]))
    r = post_batch(client, farm, batch(farm.farm_id, [session_row(1, yield_kg=20.0)]))
    assert r.json()["already_present"] == 1
    assert stored_sessions(db_url, farm)[0]["yield_kg"] == 10.0


def test_watermark_never_moves_back(client: httpx.Client, farm: FarmKey) -> None:
    assert post_batch(client, farm, batch(farm.farm_id, [session_row(500)])).json()["watermark"] == 500
    # Late-committed rows below the watermark (the agent's lookback) are stored; the watermark stays.
    late = post_batch(client, farm, batch(farm.farm_id, [session_row(i) for i in (480, 490)]))
    assert late.json() == {"received": 2, "inserted": 2, "already_present": 0, "watermark": 500}
    assert status(client, farm)["watermark"] == 500


def test_sources_are_separate(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    post_batch(client, farm, batch(farm.farm_id, [session_row(i, unit="VMS 1") for i in (1, 2, 3)]))
    r = post_batch(
        client, farm, batch(farm.farm_id, [session_row(i, unit="AMS 1") for i in (1, 2)], source="lely")
    )
    assert r.json() == {"received": 2, "inserted": 2, "already_present": 0, "watermark": 2}
    assert status(client, farm)["watermark"] == 3
    assert status(client, farm, "lely")["watermark"] == 2
    assert status(client, farm, "never-seen")["watermark"] == 0
    assert stored_transaction_ids(db_url, farm.farm_id, "lely") == [1, 2]


def test_values_are_stored_as_sent(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    full = session_row(
        7,
        started_at="2026-03-01T06:12:00+01:00",
        ended_at="2026-03-01T06:19:30+01:00",
        yield_kg=12.25,
        expected_yield_kg=13.0,
        conductivity_avg=5.5,
        conductivity_max=6.25,
        blood_avg=10.0,
        blood_max=250.0,
        flow_peak=3.5,
        cell_count=180,
        mdi=1.4,
        incomplete=True,
        kickoff=False,
        extra={"robot_fw": "4.2", "teats": [1, 2]},
    )
    bare = {k: full[k] for k in ("transaction_id", "unit", "animal_id", "started_at", "ended_at", "yield_kg")}
    bare["transaction_id"] = 8
    post_batch(client, farm, batch(farm.farm_id, [full, bare]))
    stored = stored_sessions(db_url, farm)
    expected = [
        MilkingSession.model_validate(full).model_dump(),
        MilkingSession.model_validate(bare).model_dump(),
    ]
    assert stored == expected
    assert stored[0]["started_at"] == datetime(2026, 3, 1, 5, 12, tzinfo=UTC)
    # A missing sensor stays missing (NULL), never 0.
    assert all(stored[1][c] is None for c in SESSION_COLUMNS if c not in bare)


def test_rows_and_columns_store_the_same(db_url: str, client: httpx.Client) -> None:
    a, b = create_farm_with_key(db_url), create_farm_with_key(db_url)
    rows = [
        session_row(i, mdi=None if i % 3 else 1.5, extra=None if i % 2 else {"i": i}) for i in range(1, 31)
    ]
    ra = post_batch(client, a, batch(a.farm_id, rows))
    rb = post_batch(client, b, as_columns(batch(b.farm_id, rows)))
    assert ra.json() == rb.json() == {"received": 30, "inserted": 30, "already_present": 0, "watermark": 30}
    assert stored_sessions(db_url, a) == stored_sessions(db_url, b)


def test_cows_robots_and_runs_are_recorded(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    rows = [
        session_row(1, animal="101", unit="Robot 1", lactation_number=2, days_in_milk=30),
        session_row(2, animal="102", unit="Robot 2", lactation_number=1, days_in_milk=10),
        session_row(3, animal="101", unit="Robot 2", lactation_number=3, days_in_milk=1),
    ]
    body = batch(farm.farm_id, rows, cycle_id="cycle-1")
    body["agent"] = {"version": "2.3.4", "host": "DELPRO-PC"}
    assert post_batch(client, farm, body).status_code == 200
    ended = [datetime.fromisoformat(r["ended_at"]) for r in rows]
    with connect(db_url) as conn:
        cows = conn.execute(
            "SELECT animal_id, lactation_number, calving_date, last_session_at FROM animals"
            " WHERE tenant_id = %s ORDER BY animal_id",
            [farm.farm_id],
        ).fetchall()
        robots = conn.execute(
            "SELECT unit, s.name, last_session_at FROM milking_units"
            " JOIN sources s USING (tenant_id, source_id) WHERE tenant_id = %s ORDER BY unit",
            [farm.farm_id],
        ).fetchall()
        runs = conn.execute(
            "SELECT result, rows_received, rows_inserted, agent_version, agent_host, cycle_id, agent_key_id,"
            " finished_at >= started_at FROM sync_runs WHERE tenant_id = %s",
            [farm.farm_id],
        ).fetchall()
        last_ingest = conn.execute(
            "SELECT last_ingest_at FROM sources WHERE tenant_id = %s", [farm.farm_id]
        ).fetchone()
    started_3 = datetime.fromisoformat(rows[2]["started_at"])
    assert cows == [
        ("101", 3, (started_3 - timedelta(days=1)).date(), ended[2]),  # from her newest milking
        ("102", 1, (datetime.fromisoformat(rows[1]["started_at"]) - timedelta(days=10)).date(), ended[1]),
    ]
    assert robots == [("Robot 1", "delpro", ended[0]), ("Robot 2", "delpro", ended[2])]
    assert runs == [("ok", 3, 3, "2.3.4", "DELPRO-PC", "cycle-1", farm.key_id, True)]
    assert last_ingest is not None and last_ingest[0] is not None

    # An older milking sent late does not roll the cow's lactation back.
    late = session_row(0, animal="101", unit="Robot 1", lactation_number=2, days_in_milk=29)
    post_batch(client, farm, batch(farm.farm_id, [late]))
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT lactation_number, last_session_at FROM animals"
            " WHERE tenant_id = %s AND animal_id = '101'",
            [farm.farm_id],
        ).fetchone()
    assert row == (3, ended[2])


def test_an_empty_batch_is_a_heartbeat(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    r = post_batch(client, farm, batch(farm.farm_id, []))
    assert r.json() == {"received": 0, "inserted": 0, "already_present": 0, "watermark": 0}
    with connect(db_url) as conn:
        runs = conn.execute("SELECT count(*) FROM sync_runs WHERE tenant_id = %s", [farm.farm_id]).fetchone()
    assert runs == (1,)


def test_a_thousand_row_round_trip(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    rng = random.Random(7)
    rows = [
        session_row(
            10_000 + i,
            animal=str(rng.randint(1, 250)),
            unit=f"Robot {rng.randint(1, 4)}",
            yield_kg=round(rng.uniform(4, 20), 2),
            conductivity_lf=round(rng.uniform(4, 7), 2),
            mdi=None if rng.random() < 0.3 else round(rng.uniform(0, 3), 1),
        )
        for i in range(1000)
    ]
    r = post_batch(client, farm, batch(farm.farm_id, rows))
    assert r.json() == {"received": 1000, "inserted": 1000, "already_present": 0, "watermark": 10_999}
    expected = [MilkingSession.model_validate(row).model_dump() for row in rows]
    stored = stored_sessions(db_url, farm)
    # float4 columns: compare at float4 precision.
    for got, want in zip(stored, expected, strict=True):
        for name, value in want.items():
            if isinstance(value, float):
                assert got[name] == pytest.approx(value, rel=1e-6), (want["transaction_id"], name)
            else:
                assert got[name] == value, (want["transaction_id"], name)
    assert status(client, farm)["watermark"] == 10_999


def test_two_farms_ingest_concurrently(db_url: str, api_url: str) -> None:
    farms = [create_farm_with_key(db_url) for _ in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(farms))

    def agent(farm: FarmKey) -> None:
        try:
            with httpx.Client(base_url=api_url, timeout=60) as c:
                barrier.wait()
                for start in range(1, 1001, 200):
                    r = post_batch(
                        c, farm, batch(farm.farm_id, [session_row(i) for i in range(start, start + 200)])
                    )
                    assert r.status_code == 200, r.text
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=agent, args=(f,)) for f in farms]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for farm in farms:
        assert stored_transaction_ids(db_url, farm.farm_id) == list(range(1, 1001))


def test_the_same_batch_posted_twice_at_once_is_stored_once(db_url: str, api_url: str, farm: FarmKey) -> None:
    body = batch(farm.farm_id, [session_row(i, animal=str(i % 97)) for i in range(1, 801)])
    results: list[httpx.Response] = []
    barrier = threading.Barrier(2)

    def send() -> None:
        with httpx.Client(base_url=api_url, timeout=60) as c:
            barrier.wait()
            results.append(post_batch(c, farm, body))

    for _ in range(3):  # a few rounds: the first stores, the next ones find everything present
        results.clear()
        threads = [threading.Thread(target=send) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in results] == [200, 200]
        assert (
            sum(r.json()["inserted"] for r in results) + sum(r.json()["already_present"] for r in results)
            == 1600
        )
    assert stored_transaction_ids(db_url, farm.farm_id) == list(range(1, 801))
    with connect(db_url) as conn:
        cows = conn.execute("SELECT count(*) FROM animals WHERE tenant_id = %s", [farm.farm_id]).fetchone()
    assert cows == (97,)


def test_a_batch_the_database_refuses_is_not_stored(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    """A farm whose time zone PostgreSQL does not know (set behind the API's back) makes the daily
    rollups fail inside the insert: the batch is refused whole, and goes in once the farm is fixed."""
    post_batch(client, farm, batch(farm.farm_id, [session_row(i) for i in range(1, 4)]))
    before = farm_snapshot(db_url, farm.farm_id)
    with connect(db_url) as conn:
        conn.execute("UPDATE tenants SET time_zone = 'Mars/Olympus' WHERE tenant_id = %s", [farm.farm_id])
    body = batch(farm.farm_id, [session_row(i) for i in range(4, 9)])
    refused = post_batch(client, farm, body)
    assert refused.status_code == 422 and error_of(refused)["code"] == "unstorable_value", refused.text
    assert "Mars/Olympus" in error_of(refused)["message"]
    assert farm_snapshot(db_url, farm.farm_id) == before
    with connect(db_url) as conn:
        conn.execute("UPDATE tenants SET time_zone = 'UTC' WHERE tenant_id = %s", [farm.farm_id])
    again = post_batch(client, farm, body)
    assert again.json() == {"received": 5, "inserted": 5, "already_present": 0, "watermark": 8}
    assert stored_transaction_ids(db_url, farm.farm_id) == list(range(1, 9))


@pytest.mark.anyio
async def test_a_refused_transaction_leaves_its_connection_ready(db_url: str) -> None:
    """store_batch rolls back what it began when a statement fails, in either pipeline: the one
    pooled connection serves the next batch."""
    farm = create_farm_with_key(db_url)
    body = batch(farm.farm_id, [session_row(i) for i in range(1, 6)])
    parsed = validate_rows(parse_envelope(orjson.dumps(body)), 100)
    now = datetime.now(UTC)
    pool = make_pool(db_url, min_size=1, max_size=1)
    await pool.open()
    try:
        with pytest.raises(psycopg.errors.ForeignKeyViolation):  # the first pipeline: no such farm
            await store_batch(pool, uuid.uuid4(), parsed, key_id=None, started_at=now)
        with connect(db_url) as conn:
            conn.execute("UPDATE tenants SET time_zone = 'Mars/Olympus' WHERE tenant_id = %s", [farm.farm_id])
        with pytest.raises(psycopg.DataError):  # the second pipeline: the rollup trigger fails
            await store_batch(pool, farm.farm_id, parsed, key_id=None, started_at=now)
        with connect(db_url) as conn:
            conn.execute("UPDATE tenants SET time_zone = 'UTC' WHERE tenant_id = %s", [farm.farm_id])
        assert stored_transaction_ids(db_url, farm.farm_id) == []
        stored = await store_batch(pool, farm.farm_id, parsed, key_id=None, started_at=now)
        assert (stored.result.inserted, stored.result.watermark) == (5, 5)
        async with pool.connection() as conn:
            assert conn.info.transaction_status == TransactionStatus.IDLE
    finally:
        await pool.close()
    assert stored_transaction_ids(db_url, farm.farm_id) == [1, 2, 3, 4, 5]
