"""The source reader against real SQLite, PostgreSQL and MariaDB databases, plus the SQL it
would send to SQL Server."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlalchemy.dialects import mssql

from pecus.agent import delpro
from pecus.agent import source as source_module
from pecus.agent.config import SourceConfig
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import SessionSource, SourceError, _rounded, _row_maxes, _row_means
from pecus.contract import MilkingSession
from tests.agent import delpro_data
from tests.agent.conftest import SourceDB
from tests.agent.delpro_data import MILKING_SESSIONS, PLAIN_MAPPING, MilkingSessions

ROME = ZoneInfo("Europe/Rome")


def reader(db: SourceDB, **settings: Any) -> SessionSource:
    return SessionSource(
        SourceConfig.model_validate({**db.source_settings(), **settings}), LocalTimeConverter(ROME)
    )


def expected_session(oid: int) -> dict[str, Any]:
    s, v = delpro_data.session_row(oid), delpro_data.voluntary_row(oid)
    begin = s["BeginTime"].replace(tzinfo=ROME).astimezone(UTC)
    cow = oid % delpro_data.COWS + 1
    calving = delpro_data.START - timedelta(days=30 + cow)
    return {
        "transaction_id": oid,
        "unit": str(oid % delpro_data.UNITS + 1),
        "animal_id": str(100 + cow),
        "started_at": begin,
        "ended_at": begin + timedelta(minutes=7),
        "yield_kg": s["TotalYield"],
        "conductivity_rr": v["ConductivityRR"],
        "yield_lf": v["QuarterLFYield"],
        "flow_avg": 1.3,
        "flow_peak": 3.5,
        "duration_s": s["MilkFlowDuration"],
        "cell_count": v["Occ"],
        "incomplete": v["Incomplete"] != 0,
        "kickoff": False,
        "lactation_number": 2,
        "days_in_milk": (s["BeginTime"].date() - calving.date()).days,
    }


def test_default_mapping_reads_a_stock_delpro(source_db: SourceDB) -> None:
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(1, 9))
    source = reader(source_db)
    batch = source.read_after(0, 100)
    rows = batch.rows()
    assert [r["transaction_id"] for r in rows] == list(range(1, 9))
    for row in rows:
        expected = expected_session(row["transaction_id"])
        assert {k: row[k] for k in expected} == expected
        MilkingSession.model_validate(row)  # the cloud's own contract accepts it
    assert source.max_id() == 8
    source.close()


def test_pages_follow_the_id_without_gaps_or_repeats(source_db: SourceDB) -> None:
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, [*range(1, 20), *range(25, 40)])  # a gap, as IDENTITY has
    source = reader(source_db)
    seen: list[int] = []
    after = 0
    while batch := source.read_after(after, 7):
        assert len(batch) <= 7
        seen += batch.ids
        after = batch.last_id
    assert seen == [*range(1, 20), *range(25, 40)]
    assert len(source.read_after(4, 3)) == 3 and source.read_after(4, 3).ids == [5, 6, 7]
    source.close()


def test_a_page_converted_in_parts_is_the_page_converted_whole(
    source_db: SourceDB, monkeypatch: pytest.MonkeyPatch
) -> None:
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, range(1, 12))
    source = reader(source_db)
    whole = source.read_after(0, 10)
    monkeypatch.setattr(source_module, "CONVERT_ROWS", 3)  # 10 rows: parts of 3, 3, 3 and 1
    parts = source.read_after(0, 10)
    assert parts.ids == list(range(1, 11))
    assert parts.rows() == whole.rows()
    assert source.read_after(11, 10).rows() == []
    source.close()


def test_a_session_without_robot_details_and_one_from_an_old_lactation(source_db: SourceDB) -> None:
    old = delpro_data.START - timedelta(days=100)
    with source_db.engine.begin() as conn:
        delpro_data.add_sessions(conn, [12], voluntary=False)  # cow 1, no VoluntarySessionMilkYield
        delpro_data.add_session(conn, 24, begin=old)  # cow 1, in her closed first lactation
    rows = {r["transaction_id"]: r for r in reader(source_db).read_after(0, 10).rows()}
    assert rows[12]["conductivity_lf"] is None and rows[12]["flow_avg"] is None
    assert (
        rows[12]["incomplete"] is None and rows[12]["yield_kg"] == delpro_data.session_row(12)["TotalYield"]
    )
    assert rows[12]["lactation_number"] == 2
    assert rows[24]["lactation_number"] == 1
    assert rows[24]["days_in_milk"] == 400


def test_overlapping_lactations_give_one_row_per_milking(source_db: SourceDB) -> None:
    # Bad data seen in the field: a lactation never closed when the next began.
    with source_db.engine.begin() as conn:
        conn.execute(
            insert(delpro.AnimalLactationSummary),
            [
                {
                    "OID": 99,
                    "Animal": 1,
                    "LactationNumber": 3,
                    "StartDate": delpro_data.START - timedelta(days=3),
                }
            ],
        )
        delpro_data.add_sessions(conn, range(1, 30))
    source = reader(source_db)
    pages = [source.read_after(0, 12), source.read_after(12, 12), source.read_after(24, 12)]
    ids = [i for page in pages for i in page.ids]
    assert ids == list(range(1, 30))  # pages may hold fewer rows than asked, never a repeat
    cow_1 = [r for page in pages for r in page.rows() if r["animal_id"] == "101"]
    assert cow_1 and all(r["lactation_number"] == 3 for r in cow_1)  # the latest lactation wins


def test_an_empty_source_has_no_max_id(make_source_db: Any) -> None:
    db = make_source_db("sqlite")
    source = reader(db)
    assert source.max_id() is None
    assert len(source.read_after(0, 10)) == 0


def test_a_plain_milking_sessions_table_with_a_custom_mapping(source_db: SourceDB) -> None:
    MILKING_SESSIONS.create_all(source_db.engine)
    start = datetime(2026, 6, 1, 6, 0)
    with source_db.engine.begin() as conn:
        conn.execute(
            insert(MilkingSessions),
            [
                {
                    "TransactionID": 100 + i,
                    "Robot": f"VMS {i % 2 + 1}",
                    "CowNo": 7 + i,
                    "StartTime": start + timedelta(hours=i),
                    "EndTime": start + timedelta(hours=i, minutes=6),
                    "Kg": 11.25 + i,
                    "Cond": None if i == 2 else 4.75,
                    "Flags": i % 2,
                    "Operator": "anna",
                }
                for i in range(4)
            ],
        )
    source = reader(source_db, mapping=PLAIN_MAPPING)
    rows = source.read_after(100, 10).rows()
    assert [r["transaction_id"] for r in rows] == [101, 102, 103]
    first = rows[0]
    assert first == {
        "transaction_id": 101,
        "unit": "VMS 2",
        "animal_id": "8",
        "started_at": datetime(2026, 6, 1, 5, 0, tzinfo=UTC),  # 07:00 in Rome in summer
        "ended_at": datetime(2026, 6, 1, 5, 6, tzinfo=UTC),
        "yield_kg": 12.25,
        "conductivity_avg": 4.75,
        "incomplete": True,
        "extra": {"Operator": "anna", "Kg": 12.25},
    }
    assert rows[1]["conductivity_avg"] is None and rows[1]["incomplete"] is False
    for row in rows:
        MilkingSession.model_validate(row)
    assert source.max_id() == 103


def test_utc_times_in_a_custom_source_are_not_shifted(make_source_db: Any) -> None:
    db = make_source_db("sqlite", tables=False)
    MILKING_SESSIONS.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(
            insert(MilkingSessions),
            [
                dict(
                    TransactionID=1,
                    Robot="A",
                    CowNo=1,
                    StartTime=datetime(2026, 1, 1, 6),
                    EndTime=datetime(2026, 1, 1, 6, 5),
                    Kg=9,
                )
            ],
        )
    rows = reader(db, mapping={**PLAIN_MAPPING, "times": "utc"}).read_after(0, 5).rows()
    assert rows[0]["started_at"] == datetime(2026, 1, 1, 6, tzinfo=UTC)


def test_a_mapping_naming_a_missing_column_fails_with_the_database_message(source_db: SourceDB) -> None:
    MILKING_SESSIONS.create_all(source_db.engine)
    mapping = {**PLAIN_MAPPING, "columns": {**PLAIN_MAPPING["columns"], "yield_kg": "Kilos"}}  # type: ignore[dict-item]
    with pytest.raises(SourceError, match=r"(?i)kilos"):
        reader(source_db, mapping=mapping).read_after(0, 5)


def test_an_unreachable_database_is_a_source_error(free_port: int) -> None:
    config = SourceConfig(name="delpro", url=f"postgresql+psycopg://nobody@127.0.0.1:{free_port}/DDM")  # type: ignore[arg-type]
    with pytest.raises(SourceError, match="source delpro: reading the highest id failed"):
        SessionSource(config, LocalTimeConverter(ROME)).max_id()


@pytest.mark.parametrize("dialect", ["postgresql", "mariadb"])
def test_rows_committed_out_of_order_are_invisible_until_commit(make_source_db: Any, dialect: str) -> None:
    """Why the agent re-reads below its watermark: while robot A's row 11 is uncommitted, robot B
    commits 12; a reader after 10 sees 12 only. Row 11 shows up once A commits."""
    db = make_source_db(dialect)
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 11))
    source = reader(db)
    with db.engine.connect() as robot_a:
        robot_a.begin()
        delpro_data.add_session(robot_a, 11)
        with db.engine.begin() as robot_b:
            delpro_data.add_session(robot_b, 12)
        assert source.read_after(10, 100).ids == [12]
        robot_a.commit()
    assert source.read_after(12, 100).ids == []  # a strict `> watermark` read has lost it
    assert source.read_after(12 - 5, 100).ids == [8, 9, 10, 11, 12]  # the lookback finds it
    source.close()


def compile_mssql(source: SessionSource, after: int, limit: int) -> str:
    translate = {None: source.config.schema_name} if source.config.schema_name else None
    compiled = source.statement(after, limit).compile(
        dialect=mssql.dialect(),
        schema_translate_map=translate,
        render_schema_translate=translate is not None,
        compile_kwargs={"literal_binds": True},
    )
    return " ".join(str(compiled).split())


def test_sql_server_gets_top_n_ordered_by_the_id() -> None:
    config = SourceConfig(name="delpro", url="mssql://pecus:secret@localhost/DDMVMS")  # type: ignore[arg-type]
    assert config.url.get_secret_value().startswith("mssql+pymssql://")
    sql = compile_mssql(SessionSource(config, LocalTimeConverter(ROME)), 41, 1000)
    smy, vsmy, lac = "[SessionMilkYield]", "[VoluntarySessionMilkYield]", "[AnimalLactationSummary]"
    assert sql.startswith(f"SELECT TOP 1000 {smy}.[OID], {smy}.[MilkingDevice], ")
    assert f"FROM {smy} JOIN [BasicAnimal] ON {smy}.[BasicAnimal] = [BasicAnimal].[OID]" in sql
    assert f"LEFT OUTER JOIN {vsmy} ON {vsmy}.[OID] = {smy}.[OID]" in sql
    # One lactation per milking, picked by TOP 1, so the page streams in OID order with no sort.
    assert (
        f"LEFT OUTER JOIN {lac} ON {lac}.[Animal] = {smy}.[BasicAnimal] AND {lac}.[OID] = (SELECT TOP 1"
        " lactation_at.[OID]"
        f" FROM {lac} AS lactation_at WHERE lactation_at.[Animal] = {smy}.[BasicAnimal]"
    ) in sql
    assert "(lactation_at.[EndDate] IS NULL OR" in sql
    assert "ORDER BY lactation_at.[StartDate] DESC)" in sql
    assert sql.endswith(f"WHERE {smy}.[OID] > 41 ORDER BY {smy}.[OID]")


def test_sql_server_query_of_a_custom_table() -> None:
    config = SourceConfig.model_validate(
        {"name": "plain", "url": "mssql+pymssql://u:p@host/Farm", "schema": "dbo", "mapping": PLAIN_MAPPING}
    )
    sql = compile_mssql(SessionSource(config, LocalTimeConverter(ROME)), 7, 500)
    table = "dbo.[MilkingSessions]"
    assert sql.startswith(f"SELECT TOP 500 {table}.[TransactionID] AS transaction_id, ")
    assert f"{table}.[Operator] AS [extra:Operator]" in sql
    assert sql.endswith(f"FROM {table} WHERE {table}.[TransactionID] > 7 ORDER BY {table}.[TransactionID]")


def test_the_schema_setting_qualifies_every_table(make_source_db: Any) -> None:
    db = make_source_db("postgresql")  # tables live in a schema that is not on the search path
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, [1, 2])
    assert reader(db).read_after(0, 5).ids == [1, 2]
    unqualified = SessionSource(
        SourceConfig(name="delpro", url=db.url),
        LocalTimeConverter(ROME),  # type: ignore[arg-type]
    )
    with pytest.raises(SourceError, match="SessionMilkYield"):
        unqualified.max_id()


def test_sensor_values_round_to_three_decimals_exactly_as_round_does() -> None:
    """The column-wise rounding gives `round(v, 3)` also at decimal ties (0.6925: means of
    2-decimal flows hit them all the time) and lets an infinity through for validation."""
    rng = random.Random(3)
    values: list[float | None] = [rng.randrange(0, 400_000) / 10_000 for _ in range(20_000)]
    values += [sum(rng.randrange(0, 300) / 100 for _ in range(4)) / 4 for _ in range(20_000)]
    values += [12.300000190734863, 0.0005, 2.6745, 1e9 + 0.0005, None, -0.0005]
    assert _rounded(values) == [None if v is None else round(v, 3) for v in values]
    assert _rounded([1.23456, math.inf, None]) == [1.235, math.inf, None]
    flows = ([0.5, None, None], [0.7, None, 0.4], [0.76, None, 0.21], [0.77, None, 0.2])
    means = [round((0.5 + 0.7 + 0.76 + 0.77) / 4, 3), None, round((0.4 + 0.21 + 0.2) / 3, 3)]
    assert _row_means(flows) == means
    assert _row_maxes(flows) == [0.77, None, 0.4]
