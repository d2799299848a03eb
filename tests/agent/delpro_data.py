"""Small deterministic source data for the agent's tests (the simulator is for demos and benchmarks).

Every value is a function of the session's OID, so a test can compute what the cloud must hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    insert,
    select,
)

from pecus.agent import delpro

START = datetime(2026, 3, 1, 5, 0)  # local time, like DelPro
COWS = 12
UNITS = 3


def create_tables(engine: Engine) -> None:
    delpro.metadata.create_all(engine)


def add_herd(conn: Connection, cows: int = COWS) -> None:
    """Cows 1..n (farm numbers 101..), each in a lactation that began 30 days before START; cow 1
    also has an earlier, closed lactation."""
    conn.execute(
        insert(delpro.BasicAnimal),
        [{"OID": i, "Number": 100 + i, "Name": f"Cow {i}"} for i in range(1, cows + 1)],
    )
    lactations = [
        {
            "OID": i,
            "Animal": i,
            "LactationNumber": 2,
            "StartDate": START - timedelta(days=30 + i),
            "EndDate": None,
        }
        for i in range(1, cows + 1)
    ]
    lactations.append(
        {
            "OID": cows + 1,
            "Animal": 1,
            "LactationNumber": 1,
            "StartDate": START - timedelta(days=500),
            "EndDate": START - timedelta(days=31),
        }
    )
    conn.execute(insert(delpro.AnimalLactationSummary), lactations)


def session_row(oid: int, *, begin: datetime | None = None, minutes: int = 7) -> dict[str, Any]:
    begin = begin or START + timedelta(minutes=10 * oid)
    return {
        "OID": oid,
        "BasicAnimal": oid % COWS + 1,
        "MilkingDevice": oid % UNITS + 1,
        "BeginTime": begin,
        "EndTime": begin + timedelta(minutes=minutes),
        "TotalYield": 8 + (oid % 13) * 0.5,
        "ExpectedYield": 10.0,
        "AvgConductivity": 4.5 + (oid % 7) * 0.1,
        "MaxConductivity": 5.5,
        "MilkFlowDuration": 300 + oid % 60,
    }


def voluntary_row(oid: int) -> dict[str, Any]:
    quarter = 2 + (oid % 5) * 0.25
    return {
        "OID": oid,
        "ConductivityLF": 4.4,
        "ConductivityRF": 4.6,
        "ConductivityLR": 4.8,
        "ConductivityRR": None if oid % 4 == 0 else 5.0,
        "QuarterLFYield": quarter,
        "QuarterRFYield": quarter,
        "QuarterLRYield": quarter + 0.5,
        "QuarterRRYield": quarter + 0.5,
        "MeanFlowLF": 1.0,
        "MeanFlowRF": 1.2,
        "MeanFlowLR": 1.4,
        "MeanFlowRR": 1.6,
        "PeakFlowLF": 2.0,
        "PeakFlowRF": 2.5,
        "PeakFlowLR": 3.0,
        "PeakFlowRR": 3.5,
        "AverageBlood": 100.0,
        "MaxBlood": 400.0,
        "Occ": 150 + oid % 100,
        "Mdi": 1.0 + (oid % 3) * 0.5,
        "Incomplete": oid % 2,
        "Kickoff": 0,
    }


def add_sessions(conn: Connection, oids: Iterable[int], *, voluntary: bool = True) -> list[int]:
    oids = list(oids)
    if oids:
        conn.execute(insert(delpro.SessionMilkYield), [session_row(oid) for oid in oids])
        if voluntary:
            conn.execute(insert(delpro.VoluntarySessionMilkYield), [voluntary_row(oid) for oid in oids])
    return oids


def add_session(conn: Connection, oid: int, **kwargs: Any) -> None:
    conn.execute(insert(delpro.SessionMilkYield), [session_row(oid, **kwargs)])
    conn.execute(insert(delpro.VoluntarySessionMilkYield), [voluntary_row(oid)])


def source_ids(engine: Engine) -> list[int]:
    """Every SessionMilkYield OID in the source, sorted: what the cloud must end up holding."""
    with engine.connect() as conn:
        return sorted(conn.execute(select(delpro.SessionMilkYield.c.OID)).scalars())


# A farm's own plain table of milkings (not DelPro), and the mapping of it in agent.toml terms.
MILKING_SESSIONS = MetaData()
MilkingSessions = Table(
    "MilkingSessions",
    MILKING_SESSIONS,
    Column("TransactionID", Integer, primary_key=True, autoincrement=False),
    Column("Robot", String(20), nullable=False),
    Column("CowNo", Integer, nullable=False),
    Column("StartTime", DateTime, nullable=False),
    Column("EndTime", DateTime, nullable=False),
    Column("Kg", Numeric(6, 2), nullable=False),
    Column("Cond", Numeric(5, 2)),
    Column("Flags", Integer),
    Column("Operator", String(20)),
)

PLAIN_MAPPING = {
    "table": "MilkingSessions",
    "id": "TransactionID",
    "columns": {
        "unit": "Robot",
        "animal_id": "CowNo",
        "started_at": "StartTime",
        "ended_at": "EndTime",
        "yield_kg": "Kg",
        "conductivity_avg": "Cond",
        "incomplete": "Flags",
    },
    "extra": ["Operator", "Kg"],
}


# --- treatments --------------------------------------------------------------------------------

DIAGNOSES = {1: "Mastite clinica", 2: "Zoppia"}


def treatment_row(oid: int) -> dict[str, Any]:
    """DelPro 5.x: a treatment every 5 hours, mastitis for odd OIDs."""
    return {
        "OID": oid,
        "Animal": oid % COWS + 1,
        "LactationNumber": 2,
        "TreatStartDate": START + timedelta(hours=5 * oid),
        "DurationInDays": 3,
        "DiagnosesName": DIAGNOSES[2 - oid % 2],
        "TreatmentName": "Synulox",
    }


def add_treatments(conn: Connection, oids: Iterable[int]) -> list[int]:
    oids = list(oids)
    conn.execute(insert(delpro.HistoryAnimalTreatment), [treatment_row(oid) for oid in oids])
    return oids


def expected_treatment(oid: int, utc_offset_hours: int = 1) -> tuple[Any, ...]:
    """What the cloud holds for treatment_row(oid) of a farm in Europe/Rome (winter: UTC+1)."""
    row = treatment_row(oid)
    started = (row["TreatStartDate"] - timedelta(hours=utc_offset_hours)).replace(tzinfo=UTC)
    return (oid, str(100 + row["Animal"]), 2, started, 3, row["DiagnosesName"], "Synulox")


def add_events37(conn: Connection, oids: Iterable[int]) -> list[int]:
    """DelPro 3.7: each treatment an AbstractAnimalEvent with a DiagnosisTreatmentEvent of the same
    OID; every third event in between is another kind of event (no treatment)."""
    oids = list(oids)
    if not conn.execute(select(delpro.Diagnosis.c.OID)).first():
        conn.execute(insert(delpro.Diagnosis), [{"OID": k, "Name": v} for k, v in DIAGNOSES.items()])
    events = [
        {"OID": oid, "BasicAnimal": oid % COWS + 1, "DateAndTime": START + timedelta(hours=5 * oid)}
        for oid in oids
    ]
    conn.execute(insert(delpro.AbstractAnimalEvent), events)
    treated = [oid for oid in oids if oid % 3]
    conn.execute(
        insert(delpro.DiagnosisTreatmentEvent),
        [{"OID": oid, "Diagnosis": 2 - oid % 2, "DurationInDays": 4} for oid in treated],
    )
    return treated
