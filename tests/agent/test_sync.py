"""The agent end to end: real source databases, the real API over HTTP, the real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, update

from pecus.agent import delpro
from pecus.cloud.agent_keys import revoke_agent_key
from pecus.cloud.database import connect
from tests.agent import delpro_data
from tests.agent.conftest import DIALECTS, Agent, SourceDB
from tests.agent.delpro_data import MILKING_SESSIONS, PLAIN_MAPPING, MilkingSessions
from tests.support.api import running_api


def source_ids(db: SourceDB) -> list[int]:
    return delpro_data.source_ids(db.engine)


def cloud_rows(agent: Agent, columns: str = "transaction_id") -> list[tuple[Any, ...]]:
    with connect(agent.db_url) as conn:
        return conn.execute(
            f"SELECT {columns} FROM milking_sessions WHERE tenant_id = %s ORDER BY transaction_id",
            [agent.farm.farm_id],
        ).fetchall()


def assert_cloud_equals_source(agent: Agent, db: SourceDB, source: str = "delpro") -> None:
    ids = agent.cloud_ids(source)
    assert ids == source_ids(db)
    assert len(ids) == len(set(ids))  # no duplicates


def test_n_rows_then_m_more(source_db: SourceDB, make_agent: Any) -> None:
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(1, 31))
    agent = make_agent(source_db.source_settings(), max_batch_size=8)
    first = agent.cycle()
    assert first.ok and first.sources[0].result == "up_to_date"
    assert (first.sources[0].sent, first.sources[0].inserted) == (30, 30)
    assert agent.cloud_ids() == list(range(1, 31))

    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(31, 36))
    second = agent.cycle()
    item = second.sources[0]
    assert item.inserted == 5 and item.watermark == 35
    # Everything else sent was the late-commit lookback (re-read below the watermark, deduplicated).
    assert item.sent - item.inserted == item.already_present == 30
    assert_cloud_equals_source(agent, source_db)

    nothing = agent.cycle().sources[0]
    assert nothing.result == "no_new_data" and nothing.inserted == 0


def test_without_lookback_only_the_new_rows_travel(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 21))
    agent = make_agent(db.source_settings(), late_commit_lookback=0)
    assert agent.cycle().sources[0].sent == 20
    with db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(21, 24))
    item = agent.cycle().sources[0]
    assert (item.sent, item.inserted, item.already_present) == (3, 3, 0)
    assert agent.cycle().sources[0].sent == 0


def test_the_cloud_holds_what_the_source_says(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("postgresql")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 5))
    agent = make_agent(db.source_settings())
    assert agent.cycle().ok
    rows = cloud_rows(
        agent, "transaction_id, unit, animal_id, started_at, yield_kg, flow_avg, lactation_number"
    )
    s = delpro_data.session_row(1)
    assert rows[0] == (
        1,
        "2",
        "102",
        datetime(2026, 3, 1, 4, 10, tzinfo=UTC),  # 05:10 in Rome, winter time
        pytest.approx(s["TotalYield"]),
        pytest.approx(1.3),
        2,
    )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_rows_committed_out_of_order_are_not_lost(make_source_db: Any, make_agent: Any, dialect: str) -> None:
    db = make_source_db(dialect)
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 11))
    agent = make_agent(db.source_settings(), late_commit_lookback=50)
    assert agent.cycle().ok
    with db.engine.connect() as robot_a:
        if dialect != "sqlite":  # SQLite has one writer at a time: there robot A simply commits later
            robot_a.begin()
            delpro_data.add_session(robot_a, 11)
        with db.engine.begin() as robot_b:
            delpro_data.add_session(robot_b, 12)
        during = agent.cycle().sources[0]
        assert during.watermark == 12 and agent.cloud_ids() == [*range(1, 11), 12]
        if dialect == "sqlite":
            with db.engine.begin() as late:
                delpro_data.add_session(late, 11)
        else:
            robot_a.commit()
    after = agent.cycle().sources[0]
    assert after.inserted == 1 and after.result == "up_to_date"
    assert_cloud_equals_source(agent, db)


def test_a_new_robot_needs_no_configuration(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 10))
    agent = make_agent(db.source_settings())
    agent.cycle()
    with db.engine.begin() as conn:
        conn.execute(insert(delpro.SessionMilkYield), [{**delpro_data.session_row(10), "MilkingDevice": 7}])
    agent.cycle()
    with connect(agent.db_url) as conn:
        units = conn.execute(
            "SELECT unit FROM milking_units WHERE tenant_id = %s ORDER BY unit", [agent.farm.farm_id]
        ).fetchall()
    assert [u[0] for u in units] == ["1", "2", "3", "7"]


def test_two_sources_each_with_its_own_watermark(make_source_db: Any, make_agent: Any) -> None:
    delpro_db, parlour_db = make_source_db("mariadb"), make_source_db("sqlite", tables=False)
    with delpro_db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 16))
    MILKING_SESSIONS.create_all(parlour_db.engine)
    start = datetime(2026, 6, 1, 6, 0)
    with parlour_db.engine.begin() as conn:
        conn.execute(
            insert(MilkingSessions),
            [
                {
                    "TransactionID": 5000 + i,
                    "Robot": "Parlour",
                    "CowNo": i,
                    "StartTime": start + timedelta(minutes=i),
                    "EndTime": start + timedelta(minutes=i + 6),
                    "Kg": 9.5,
                    "Operator": "anna",
                }
                for i in range(1, 4)
            ],
        )
    agent = make_agent(
        delpro_db.source_settings("delpro"),
        {**parlour_db.source_settings("parlour"), "mapping": PLAIN_MAPPING},
    )
    record = agent.cycle()
    assert record.ok and [s.watermark for s in record.sources] == [15, 5003]
    assert agent.cloud_ids("delpro") == list(range(1, 16))
    assert agent.cloud_ids("parlour") == [5001, 5002, 5003]
    with connect(agent.db_url) as conn:
        extra = conn.execute(
            "SELECT extra FROM milking_sessions WHERE tenant_id = %s AND transaction_id = 5001",
            [agent.farm.farm_id],
        ).fetchone()
    assert extra is not None and extra[0] == {"Operator": "anna", "Kg": 9.5}


def test_a_restored_database_uploads_nothing_until_resync(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 21))
    agent = make_agent(db.source_settings(), late_commit_lookback=5)
    assert agent.cycle().ok

    # Restore last week's backup: ids 11..20 are gone, and new milkings reuse ids from 11.
    with db.engine.begin() as conn:
        conn.execute(
            delpro.VoluntarySessionMilkYield.delete().where(delpro.VoluntarySessionMilkYield.c.OID > 10)
        )
        conn.execute(delpro.SessionMilkYield.delete().where(delpro.SessionMilkYield.c.OID > 10))
        delpro_data.add_sessions(conn, range(11, 14))
    before = cloud_rows(agent, "transaction_id, started_at")
    record = agent.cycle()
    item = record.sources[0]
    assert not record.ok and item.result == "restored" and item.sent == 0
    assert "pecus-agent resync --source delpro --from ID" in item.message
    assert cloud_rows(agent, "transaction_id, started_at") == before

    syncer = agent.syncer()
    marker = asyncio.run(syncer.request_resync("delpro", 10))
    assert marker.cloud_watermark == 20
    item = agent.cycle().sources[0]
    assert item.result == "up_to_date" and item.already_present == 3 and item.inserted == 0
    assert "delpro" in syncer.state.read().resync  # the cloud's watermark is still ahead

    with db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(14, 26))
    item = agent.cycle().sources[0]
    assert item.inserted == 5 and item.watermark == 25  # 21..25 are new to the cloud
    assert "delpro" not in syncer.state.read().resync  # past the old watermark: back to normal
    assert agent.cloud_ids() == list(range(1, 26))
    assert agent.cycle().sources[0].result == "no_new_data"


def test_an_invalid_row_stops_the_source_and_is_named(
    make_source_db: Any, make_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 21))
        conn.execute(
            update(delpro.SessionMilkYield).where(delpro.SessionMilkYield.c.OID == 14).values(TotalYield=75.0)
        )
    agent = make_agent(db.source_settings(), max_batch_size=5)
    record = agent.cycle()
    item = record.sources[0]
    assert not record.ok and item.result == "rejected" and "422" in item.message
    assert agent.cloud_ids() == list(range(1, 11))  # the batches before the bad one are in
    assert "row 3 (OID 14), yield_kg" in caplog.text
    assert agent.cycle().sources[0].result == "rejected"  # not skipped: it fails again, visibly

    with db.engine.begin() as conn:
        conn.execute(
            update(delpro.SessionMilkYield).where(delpro.SessionMilkYield.c.OID == 14).values(TotalYield=15.0)
        )
    assert agent.cycle().ok
    assert agent.cloud_ids() == list(range(1, 21))


def test_a_refused_key_skips_the_other_sources(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
    agent = make_agent(db.source_settings("a"), db.source_settings("b"))
    with connect(agent.db_url) as conn:
        revoke_agent_key(conn, agent.farm.farm_id, agent.farm.key_id)
        conn.commit()
    record = agent.cycle()
    assert [(s.source, s.result) for s in record.sources] == [("a", "key_rejected"), ("b", "skipped")]
    assert "revoked" in record.sources[0].message
    assert agent.cloud_ids(None) == []


def test_an_unreachable_source_does_not_stop_the_others(
    make_source_db: Any, make_agent: Any, free_port: int
) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
    down = {"name": "down", "url": f"postgresql+psycopg://reader:hunter2@127.0.0.1:{free_port}/DDM"}
    agent = make_agent(down, db.source_settings())
    record = agent.cycle()
    assert [s.result for s in record.sources] == ["source_failed", "up_to_date"]
    assert "source down: reading the highest id failed" in record.sources[0].message
    assert agent.cloud_ids() == [1, 2, 3]


def test_milkings_across_the_autumn_clock_change(make_source_db: Any, make_agent: Any) -> None:
    db = make_source_db("sqlite")
    times = [datetime(2026, 10, 25, 2, 50), datetime(2026, 10, 25, 2, 55), datetime(2026, 10, 25, 2, 10)]
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        for oid, begin in enumerate(times, 1):
            delpro_data.add_session(conn, oid, begin=begin, minutes=12)
    agent = make_agent(db.source_settings())
    assert agent.cycle().ok
    rows = cloud_rows(agent, "transaction_id, started_at, ended_at")
    assert all(end - start == timedelta(minutes=12) for _, start, end in rows)
    # Ending at 03:02 / 03:07 (after the repeated hour, winter time), they began in its second pass;
    # 02:10-02:22 lies wholly inside it and takes the first.
    assert [start for _, start, _ in rows] == [
        datetime(2026, 10, 25, 1, 50, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 55, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 10, tzinfo=UTC),
    ]


def test_the_servers_limits_are_obeyed(make_source_db: Any, make_agent: Any, db_url: str) -> None:
    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 61))
    limits = {"PECUS_MAX_BATCH_SIZE": "9", "PECUS_MAX_BODY_BYTES": "1500"}
    with running_api(db_url, limits) as url:
        agent = make_agent(db.source_settings(), url=url, max_batch_size=1000)
        record = agent.cycle()
    assert record.ok and agent.cloud_ids() == list(range(1, 61))
    with connect(db_url) as conn:
        uploads = conn.execute(
            "SELECT rows_received FROM sync_runs WHERE tenant_id = %s AND cycle_id = %s",
            [agent.farm.farm_id, record.cycle_id],
        ).fetchall()
    assert sum(r[0] for r in uploads) == 60
    assert max(r[0] for r in uploads) < 9  # 9 rows of JSON exceed 1,500 bytes: the agent split them
    assert len(uploads) > 60 / 9


def test_an_unreadable_key_file_fails_the_cycle_without_crashing(
    make_source_db: Any, make_agent: Any
) -> None:
    db = make_source_db("sqlite")
    agent = make_agent(db.source_settings())
    key = agent.folder / "agent.key"
    key.write_text(agent.farm.key)
    agent.settings = {k: v for k, v in agent.settings.items() if k != "api_key"}
    agent.settings["api_key_file"] = str(key)
    syncer = agent.syncer()
    key.unlink()  # e.g. someone tightened its permissions after the service started
    record = asyncio.run(syncer.cycle("test"))
    assert [s.result for s in record.sources] == ["error"]
    assert "api_key_file: cannot read" in record.sources[0].message
    assert syncer.state.read().cycles[-1].cycle_id == record.cycle_id


def test_a_cancelled_cycle_is_recorded(make_source_db: Any, make_agent: Any, cloud_url: str) -> None:
    from tests.agent.fault_proxy import HANG, FaultProxy

    db = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))

    async def stop_while_uploading(agent: Agent, proxy: FaultProxy) -> None:
        syncer = agent.syncer()
        task = asyncio.create_task(syncer.cycle("test"))
        while "hang" not in proxy.faults_seen("POST /api/v1/ingest"):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with FaultProxy(cloud_url).running() as proxy:
        proxy.plan("POST /api/v1/ingest", HANG)
        agent = make_agent(db.source_settings(), url=proxy.url, request_timeout=60)
        asyncio.run(stop_while_uploading(agent, proxy))
    (last,) = agent.syncer().state.read().cycles
    assert [s.result for s in last.sources] == ["cancelled"] and last.finished_at is not None
