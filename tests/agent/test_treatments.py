"""The treatments stream, agent -> real API -> `treatments`: DelPro 5.x, DelPro 3.7 and a table
mapping, in real source databases; re-sends, a bad row, faults on the wire, a killed agent, an
older cloud and a source without treatment tables."""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import Any

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert, update

from pecus.agent import delpro
from pecus.agent.check import run_checks
from pecus.agent.config import SourceConfig
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.state import CycleRecord, SourceRecord
from pecus.agent.treatments import treatment_reader
from pecus.cloud.database import connect
from tests.agent import delpro_data
from tests.agent.conftest import Agent, SourceDB
from tests.agent.fault_proxy import DROP, HOLD_RESPONSE, LOST_RESPONSE, FaultProxy
from tests.agent.scripted_server import Answer, ScriptedServer
from tests.agent.test_faults import _agent_process
from tests.agent.test_source import ROME, compile_mssql

START = delpro_data.START
TREATMENTS = "POST /api/v1/ingest/treatments"


def cloud_treatments(agent: Agent) -> list[tuple[Any, ...]]:
    with connect(agent.db_url) as conn:
        rows = conn.execute(
            "SELECT treatment_id, animal_id, lactation_number, started_at, duration_days, diagnosis,"
            " treatment FROM treatments WHERE tenant_id = %s ORDER BY treatment_id",
            [agent.farm.farm_id],
        ).fetchall()
    return [tuple(r) for r in rows]


def stream(record: CycleRecord, kind: str, source: str = "delpro") -> SourceRecord:
    (found,) = [s for s in record.streams if s.stream == kind and s.source == source]
    return found


def test_delpro5_treatments_reach_the_cloud_once(source_db: SourceDB, make_agent: Any) -> None:
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(1, 6))
        delpro_data.add_treatments(conn, range(1, 8))
    agent = make_agent(source_db.source_settings())
    first = agent.cycle()
    treated = stream(first, "treatments")
    assert first.ok and first.sources[0].result == "up_to_date"
    assert (treated.result, treated.sent, treated.inserted, treated.watermark) == ("up_to_date", 7, 7, 7)
    assert cloud_treatments(agent) == [delpro_data.expected_treatment(oid) for oid in range(1, 8)]

    # Re-read below the watermark (the lookback) and re-sent: nothing changes.
    again = stream(agent.cycle(), "treatments")
    assert (again.result, again.sent, again.inserted, again.already_present) == ("no_new_data", 7, 0, 7)
    with source_db.engine.begin() as conn:
        delpro_data.add_treatments(conn, [8, 9])
    more = stream(agent.cycle(), "treatments")
    assert (more.result, more.inserted, more.watermark) == ("up_to_date", 2, 9)
    assert [r[0] for r in cloud_treatments(agent)] == list(range(1, 10))


def _delpro37_only(make_source_db: Any, dialect: str) -> SourceDB:
    db: SourceDB = make_source_db(dialect, tables=False)
    tables = [t for t in delpro.metadata.sorted_tables if t.name != "HistoryAnimalTreatment"]
    delpro.metadata.create_all(db.engine, tables=tables)
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
    return db


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_delpro37_events_found_by_auto(make_source_db: Any, make_agent: Any, dialect: str) -> None:
    db = _delpro37_only(make_source_db, dialect)
    with db.engine.begin() as conn:
        treated = delpro_data.add_events37(conn, range(1, 10))
    agent = make_agent(db.source_settings())  # treatments = "auto": finds the 3.7 tables
    record = agent.cycle()
    assert record.ok and stream(record, "treatments").inserted == len(treated)
    rows = cloud_treatments(agent)
    assert [r[0] for r in rows] == treated  # the other kinds of events are not treatments
    oid, animal, lactation, started, duration, diagnosis, treatment = rows[0]
    assert (oid, animal, lactation, duration, diagnosis, treatment) == (
        1,
        "102",
        2,
        4,
        "Mastite clinica",
        None,
    )
    assert started.isoformat() == "2026-03-01T09:00:00+00:00"  # 10:00 in Rome


Behandlungen = Table(
    "Behandlungen",
    MetaData(),
    Column("Nr", Integer, primary_key=True, autoincrement=False),
    Column("Kuh", String(10), nullable=False),
    Column("Datum", DateTime, nullable=False),
    Column("Diagnose", String(300)),
    Column("Tage", Integer),
)
TABLE_MAPPING = {
    "table": "Behandlungen",
    "id": "Nr",
    "columns": {"animal_id": "Kuh", "started_at": "Datum", "diagnosis": "Diagnose", "duration_days": "Tage"},
}


def test_a_table_mapping(make_source_db: Any, make_agent: Any) -> None:
    db: SourceDB = make_source_db("postgresql")
    Behandlungen.create(db.engine)
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        conn.execute(
            insert(Behandlungen),
            [
                {
                    "Nr": 10,
                    "Kuh": "D-7",
                    "Datum": delpro_data.START,
                    "Diagnose": "Euterentzündung",
                    "Tage": 2,
                },
                {"Nr": 11, "Kuh": "D-8", "Datum": delpro_data.START, "Diagnose": "x" * 300, "Tage": None},
            ],
        )
    agent = make_agent({**db.source_settings(), "treatments": TABLE_MAPPING})
    record = agent.cycle()
    assert record.ok and stream(record, "treatments").watermark == 11
    rows = cloud_treatments(agent)
    assert [(r[0], r[1], r[2], r[4], r[5][:16], r[6]) for r in rows] == [
        (10, "D-7", None, 2, "Euterentzündung", None),
        (11, "D-8", None, None, "x" * 16, None),
    ]
    assert len(rows[1][5]) == 200  # a farm's over-long name is clipped, not a stuck stream


def test_a_bad_row_is_named_and_nothing_is_stored(
    make_source_db: Any, make_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
        delpro_data.add_treatments(conn, range(1, 6))
        conn.execute(
            update(delpro.HistoryAnimalTreatment).where(delpro.HistoryAnimalTreatment.c.OID == 3),
            {"DurationInDays": 999},
        )
    agent = make_agent(db.source_settings())
    with caplog.at_level(logging.ERROR, logger="pecus.agent"):
        record = agent.cycle()
    treated = stream(record, "treatments")
    assert treated.result == "rejected" and "422 invalid_rows" in treated.message
    assert "row 2 (OID 3), duration_days: Input should be less than or equal to 365" in caplog.text
    assert record.sources[0].result == "up_to_date" and not record.ok  # the milkings went through
    assert cloud_treatments(agent) == []


def test_lost_answers_and_dropped_connections_converge(
    make_source_db: Any, make_agent: Any, cloud_url: str
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_treatments(conn, range(1, 11))
    with FaultProxy(cloud_url).running() as proxy:
        # The API commits the second batch but the answer is lost; then a connection drops.
        proxy.plan(TREATMENTS, "pass", LOST_RESPONSE, DROP)
        agent = make_agent(db.source_settings(), url=proxy.url, max_batch_size=3)
        record = agent.cycle()
        assert proxy.faults_seen(TREATMENTS) == [LOST_RESPONSE, DROP]
    treated = stream(record, "treatments")
    assert record.ok and treated.already_present == 3 and treated.watermark == 10
    assert [r[0] for r in cloud_treatments(agent)] == list(range(1, 11))  # none twice, none missing


def test_killed_after_the_api_committed_converges(
    make_source_db: Any, make_agent: Any, cloud_url: str
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_treatments(conn, range(1, 31))
    with FaultProxy(cloud_url).running() as proxy:
        agent = make_agent(db.source_settings(), url=proxy.url, max_batch_size=5)
        proxy.plan(TREATMENTS, "pass", HOLD_RESPONSE)
        process = _agent_process(agent, "sync", "--once")
        assert proxy.held.wait(60), "the agent never reached the held upload"
        assert len(cloud_treatments(agent)) == 10  # the second batch committed, its answer held
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        proxy.release.set()
        process = _agent_process(agent, "sync", "--once")
        output = process.communicate(timeout=120)[0].decode()
        assert process.returncode == 0, output
    assert [r[0] for r in cloud_treatments(agent)] == list(range(1, 31))


def test_an_older_cloud_skips_treatments_with_one_warning(
    make_source_db: Any, make_agent: Any, caplog: pytest.LogCaptureFixture
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
        delpro_data.add_treatments(conn, range(1, 4))
    # A cloud from before the treatments stream: its handshake has no treatments_watermark.
    answer = Answer(
        200,
        {"farm_id": "x", "source": "delpro", "watermark": 0, "max_batch_size": 1000,
         "max_body_bytes": 1_000_000, "received": 3, "inserted": 3, "already_present": 0},
    )  # fmt: skip
    with ScriptedServer([], default=answer).running() as server:
        agent = make_agent(db.source_settings(), url=server.url)
        with caplog.at_level(logging.WARNING, logger="pecus.agent"):
            record = agent.cycle()
        paths = [r.path.split("?")[0] for r in server.requests]
    assert record.ok and record.sources[0].result == "up_to_date"
    assert [s.result for s in record.streams] == ["not_available", "not_available"]
    assert paths == ["/api/v1/sync/status", "/api/v1/ingest"]  # no treatment or animal upload
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [w for w in warnings if "older" in w] == [
        "source delpro (treatments): the cloud is older than the treatments stream: treatments are not synced"
    ]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_source_without_treatment_tables_still_syncs_its_milkings(
    make_source_db: Any, make_agent: Any, dialect: str
) -> None:
    db: SourceDB = make_source_db(dialect, tables=False)
    kept = {"BasicAnimal", "AnimalLactationSummary", "SessionMilkYield", "VoluntarySessionMilkYield"}
    delpro.metadata.create_all(db.engine, tables=[t for t in delpro.metadata.sorted_tables if t.name in kept])
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 6))
    agent = make_agent(db.source_settings())
    record = agent.cycle()
    assert record.ok and record.sources[0].inserted == 5
    assert stream(record, "treatments").result == "not_available"
    # Named in the config, the missing table is a failure of that stream alone.
    agent.settings["source"][0]["treatments"] = "delpro5"
    record = agent.cycle()
    assert record.sources[0].result == "no_new_data" and not record.ok
    failed = stream(record, "treatments")
    assert failed.result == "source_failed" and "HistoryAnimalTreatment" in failed.message


def test_sql_server_queries_of_the_treatment_mappings() -> None:
    base = {"name": "delpro", "url": "mssql+pymssql://u:p@host/DDMVMS"}
    times = LocalTimeConverter(ROME)
    five = treatment_reader(SourceConfig.model_validate({**base, "treatments": "delpro5"}), times)
    assert five is not None
    sql = compile_mssql(five, 7, 500)
    hat = "[HistoryAnimalTreatment]"
    assert sql.startswith(f"SELECT TOP 500 {hat}.[OID], [BasicAnimal].[Number], {hat}.[LactationNumber]")
    assert sql.endswith(
        f"FROM {hat} JOIN [BasicAnimal] ON {hat}.[Animal] = [BasicAnimal].[OID]"
        f" WHERE {hat}.[OID] > 7 ORDER BY {hat}.[OID]"
    )
    old = treatment_reader(SourceConfig.model_validate({**base, "treatments": "delpro37"}), times)
    assert old is not None
    sql = compile_mssql(old, 7, 500)
    dte, aae = "[DiagnosisTreatmentEvent]", "[AbstractAnimalEvent]"
    assert sql.startswith(f"SELECT TOP 500 {dte}.[OID], [BasicAnimal].[Number], (SELECT TOP 1")
    assert f"FROM {dte} JOIN {aae} ON {aae}.[OID] = {dte}.[OID] JOIN [BasicAnimal]" in sql
    assert f"LEFT OUTER JOIN [Diagnosis] ON {dte}.[Diagnosis] = [Diagnosis].[OID]" in sql
    assert sql.endswith(f"WHERE {dte}.[OID] > 7 ORDER BY {dte}.[OID]")
    custom = treatment_reader(
        SourceConfig.model_validate({**base, "schema": "dbo", "treatments": TABLE_MAPPING}), times
    )
    assert custom is not None
    sql = compile_mssql(custom, 7, 500)
    assert sql.startswith("SELECT TOP 500 dbo.[Behandlungen].[Nr], dbo.[Behandlungen].[Kuh], NULL")
    assert sql.endswith("WHERE dbo.[Behandlungen].[Nr] > 7 ORDER BY dbo.[Behandlungen].[Nr]")


def test_check_compares_the_treatments_watermark_with_the_local_max(
    make_source_db: Any, make_agent: Any
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, [1])
        delpro_data.add_treatments(conn, range(1, 4))
    agent = make_agent(db.source_settings())
    _, before = asyncio.run(run_checks(agent.config_path, {}))
    texts = [f.text for f in before]
    assert "source delpro treatments: cloud watermark 0, local highest id 3 (3 ids to upload)" in texts
    agent.cycle()
    _, after = asyncio.run(run_checks(agent.config_path, {}))
    assert "source delpro treatments: cloud watermark 3, local highest id 3 (up to date)" in [
        f.text for f in after
    ]


def test_the_api_going_away_mid_treatments_stops_the_cycle_and_the_next_resumes(
    make_source_db: Any, make_agent: Any, cloud_url: str
) -> None:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 4))
        delpro_data.add_treatments(conn, range(1, 21))
    with FaultProxy(cloud_url).running() as proxy:
        proxy.plan(TREATMENTS, "pass", *[DROP] * 5)
        agent = make_agent(db.source_settings(), {**db.source_settings(), "name": "second"}, url=proxy.url)
        agent.write(max_batch_size=5)
        record = agent.cycle()
    assert (
        record.sources[0].result == "up_to_date"
        and stream(record, "treatments").result == "cloud_unreachable"
    )
    assert [s.stream for s in record.streams] == ["treatments"]  # the register was not tried
    assert [(s.source, s.result) for s in record.sources][1] == ("second", "skipped")  # nor the next source
    assert [r[0] for r in cloud_treatments(agent)] == list(range(1, 6))  # one batch before the outage
    agent.write(cloud_url=cloud_url)
    assert agent.cycle().ok
    with connect(agent.db_url) as conn:
        per_source = conn.execute(
            "SELECT s.name, count(*), count(DISTINCT t.treatment_id) FROM treatments t"
            " JOIN sources s USING (tenant_id, source_id) WHERE t.tenant_id = %s GROUP BY 1 ORDER BY 1",
            [agent.farm.farm_id],
        ).fetchall()
    assert per_source == [("delpro", 20, 20), ("second", 20, 20)]
