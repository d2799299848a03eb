"""The cow register (`BasicAnimal`, `AnimalLactationSummary`) kept in step with the cloud's
`animals`: exits and new calvings reach it, unchanged cows are not sent again, and cows that left
long ago are not even read."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, update
from sqlalchemy.dialects import mssql

from pecus.agent import animals, delpro
from pecus.agent.config import SourceConfig
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import SourceReader
from pecus.cloud.database import connect
from tests.agent import delpro_data
from tests.agent.conftest import Agent, SourceDB
from tests.agent.test_treatments import stream


def cloud_cows(agent: Agent) -> dict[str, tuple[Any, ...]]:
    with connect(agent.db_url) as conn:
        rows = conn.execute(
            "SELECT animal_id, lactation_number, calving_date, exit_date FROM animals WHERE tenant_id = %s",
            [agent.farm.farm_id],
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def farm_today() -> date:
    return datetime.now(ZoneInfo("Europe/Rome")).date()


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def herd(make_source_db: Any, dialect: str = "sqlite") -> SourceDB:
    db: SourceDB = make_source_db(dialect)
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 25))  # every cow milked twice
    return db


def test_an_exit_and_a_new_calving_reach_the_cloud(make_source_db: Any, make_agent: Any) -> None:
    db = herd(make_source_db, "postgresql")
    agent = make_agent(db.source_settings())
    first = stream(agent.cycle(), "animals")
    assert (first.result, first.sent, first.local_max) == ("up_to_date", 12, 12)
    calving_2 = (delpro_data.START - timedelta(days=32)).date()
    assert cloud_cows(agent)["102"] == (2, calving_2, None)

    today = farm_today()
    lac = delpro.AnimalLactationSummary
    with db.engine.begin() as conn:
        conn.execute(
            update(delpro.BasicAnimal).where(delpro.BasicAnimal.c.OID == 1),
            {"ExitDate": midnight(today - timedelta(days=1))},
        )
        conn.execute(update(lac).where(lac.c.OID == 2), {"EndDate": midnight(today - timedelta(days=3))})
        conn.execute(
            insert(lac),
            [
                {
                    "OID": 50,
                    "Animal": 2,
                    "LactationNumber": 3,
                    "StartDate": midnight(today - timedelta(days=2)),
                }
            ],
        )
    second = stream(agent.cycle(), "animals")
    assert (second.result, second.sent, second.inserted) == ("up_to_date", 2, 2)  # only the two changed
    cows = cloud_cows(agent)
    assert cows["101"][2] == today - timedelta(days=1)
    assert cows["102"] == (3, today - timedelta(days=2), None)

    third = stream(agent.cycle(), "animals")
    assert (third.result, third.sent) == ("no_new_data", 0)


def test_cows_that_left_long_ago_are_not_read_again(make_source_db: Any, make_agent: Any) -> None:
    db = herd(make_source_db)
    today = farm_today()
    with db.engine.begin() as conn:
        long_ago, lately = midnight(today - timedelta(days=400)), midnight(today - timedelta(days=5))
        conn.execute(update(delpro.BasicAnimal).where(delpro.BasicAnimal.c.OID == 3), {"ExitDate": long_ago})
        conn.execute(update(delpro.BasicAnimal).where(delpro.BasicAnimal.c.OID == 4), {"ExitDate": lately})
    agent = make_agent(db.source_settings())
    first = stream(agent.cycle(), "animals")
    assert first.local_max == 12  # the first read knows nothing: the whole register
    assert cloud_cows(agent)["103"][2] == today - timedelta(days=400)

    seen = agent.syncer().state.read().animals["delpro"]
    assert seen.read_on == today
    reader = SourceReader(
        SourceConfig.model_validate(db.source_settings()), LocalTimeConverter(ZoneInfo("UTC"))
    )
    read = [cow["animal_id"] for cow in animals.read(reader, seen.read_on)]
    reader.close()
    # The rows the next cycle reads: the herd and the cow that left within the margin, not cow 103.
    assert read == [str(100 + i) for i in range(1, 13) if i != 3]
    second = stream(agent.cycle(), "animals")
    assert (second.local_max, second.sent) == (11, 0)
    assert "103" not in agent.syncer().state.read().animals["delpro"].digests


def test_a_reused_cow_number_is_the_cow_in_the_herd() -> None:
    left, here = datetime(2025, 5, 1), None
    rows = [
        ("7", 4, datetime(2024, 1, 1), left),
        ("7", 1, datetime(2026, 1, 2), here),
        ("8", None, None, None),
    ]
    assert animals.records(rows) == [
        {"animal_id": "7", "lactation_number": 1, "calving_date": date(2026, 1, 2), "exit_date": None},
        {"animal_id": "8", "lactation_number": None, "calving_date": None, "exit_date": None},
    ]


def test_sql_server_query_of_the_register() -> None:
    sql = " ".join(
        str(
            animals.query(date(2026, 3, 10)).compile(
                dialect=mssql.dialect(), compile_kwargs={"literal_binds": True}
            )
        ).split()
    )
    assert sql.startswith("SELECT [BasicAnimal].[Number], [AnimalLactationSummary].[LactationNumber]")
    assert "AND [AnimalLactationSummary].[OID] = (SELECT TOP 1 latest_lactation.[OID]" in sql
    assert sql.endswith(
        "WHERE [BasicAnimal].[ExitDate] IS NULL OR [BasicAnimal].[ExitDate] >= '2026-02-08 00:00:00'"
    )
