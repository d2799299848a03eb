"""The tables of a stock DeLaval DelPro database (`DDM` / `DDMVMS`) that the agent reads.

Only the columns the session contract needs are declared; a real DelPro has many more, and
SQLAlchemy selects only what is named. The simulator (`pecus.ai.simulate`) creates these same
tables to stand in for a farm's DelPro in the demo, the tests and the benchmarks.

Times are local wall-clock times without an offset, as DelPro stores them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
)

metadata = MetaData()

BasicAnimal = Table(
    "BasicAnimal",
    metadata,
    Column("OID", Integer, primary_key=True, autoincrement=True),
    Column("Number", Integer, nullable=False),  # the farm's own cow number
    Column("Name", String(64)),
    Column("BirthDate", DateTime),
    Column("ExitDate", DateTime),  # set when the cow leaves the herd (sold, died)
)

AnimalLactationSummary = Table(
    "AnimalLactationSummary",
    metadata,
    Column("OID", Integer, primary_key=True, autoincrement=True),
    Column("Animal", Integer, ForeignKey("BasicAnimal.OID"), nullable=False),
    Column("LactationNumber", Integer, nullable=False),
    Column("StartDate", DateTime, nullable=False),  # calving
    Column("EndDate", DateTime),  # NULL for the current lactation
    # A cow's lactations, found by the agent for each milking (DelPro indexes its foreign keys).
    Index("IX_AnimalLactationSummary_Animal", "Animal", "StartDate"),
)

# One milking. OID is an IDENTITY: it increases with insertion, but concurrent robots can commit
# out of order, which is why the agent re-reads a lookback window below its watermark.
SessionMilkYield = Table(
    "SessionMilkYield",
    metadata,
    Column("OID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("BasicAnimal", Integer, ForeignKey("BasicAnimal.OID"), nullable=False),
    Column("MilkingDevice", Integer, nullable=False),  # the robot / milking point
    Column("BeginTime", DateTime, nullable=False),
    Column("EndTime", DateTime, nullable=False),
    Column("TotalYield", Float, nullable=False),
    Column("ExpectedYield", Float),
    Column("AvgConductivity", Float),
    Column("MaxConductivity", Float),
    Column("MilkFlowDuration", Integer),  # seconds
)

# Voluntary (robot) milking details, 1:1 with SessionMilkYield on OID.
VoluntarySessionMilkYield = Table(
    "VoluntarySessionMilkYield",
    metadata,
    Column(
        "OID",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("SessionMilkYield.OID"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("ConductivityLF", Float),
    Column("ConductivityRF", Float),
    Column("ConductivityLR", Float),
    Column("ConductivityRR", Float),
    Column("QuarterLFYield", Float),
    Column("QuarterRFYield", Float),
    Column("QuarterLRYield", Float),
    Column("QuarterRRYield", Float),
    Column("MeanFlowLF", Float),
    Column("MeanFlowRF", Float),
    Column("MeanFlowLR", Float),
    Column("MeanFlowRR", Float),
    Column("PeakFlowLF", Float),
    Column("PeakFlowRF", Float),
    Column("PeakFlowLR", Float),
    Column("PeakFlowRR", Float),
    Column("AverageBlood", Float),
    Column("MaxBlood", Float),
    Column("Occ", Integer),  # online cell count, x1000 cells/mL
    Column("Mdi", Float),  # DeLaval mastitis detection index
    Column("Incomplete", Integer),  # bit per teat; non-zero = some teat incomplete
    Column("Kickoff", Integer),  # bit per teat; non-zero = some teat kicked off
)

# Treatments the farmer recorded, DelPro 4.5 / 5.x: one row per treatment, the diagnosis as the
# farm's own free text. OID increases with insertion, as on SessionMilkYield: the stream's watermark.
HistoryAnimalTreatment = Table(
    "HistoryAnimalTreatment",
    metadata,
    Column("OID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("Animal", Integer, ForeignKey("BasicAnimal.OID"), nullable=False),
    Column("LactationNumber", Integer),
    Column("TreatStartDate", DateTime, nullable=False),
    Column("DurationInDays", Integer),
    Column("DiagnosesName", String(200)),
    Column("TreatmentName", String(200)),
)

# DelPro 3.7 keeps the same facts as events: AbstractAnimalEvent holds the time and the cow for
# every kind of event; DiagnosisTreatmentEvent (same OID) the diagnosis, named in `Diagnosis`.
AbstractAnimalEvent = Table(
    "AbstractAnimalEvent",
    metadata,
    Column("OID", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("BasicAnimal", Integer, ForeignKey("BasicAnimal.OID"), nullable=False),
    Column("DateAndTime", DateTime, nullable=False),
)

Diagnosis = Table(
    "Diagnosis",
    metadata,
    Column("OID", Integer, primary_key=True, autoincrement=True),
    Column("Name", String(200), nullable=False),
)

DiagnosisTreatmentEvent = Table(
    "DiagnosisTreatmentEvent",
    metadata,
    Column(
        "OID",
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("AbstractAnimalEvent.OID"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("Diagnosis", Integer, ForeignKey("Diagnosis.OID")),
    Column("DurationInDays", Integer),
)
