"""Write a simulated farm into a DelPro-shaped database (any SQLAlchemy URL), and let a "live"
robot append the next milkings later.

The tables are `pecus.agent.delpro.metadata`, exactly what the agent reads; times are local
wall-clock times as DelPro stores them. One extra table, `PecusSimulation`, remembers the
simulation's config and how many of its milkings are written, so `append_milkings` can
regenerate the same farm and continue it (a real DelPro has no such table; the agent never
reads it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    Table,
    Text,
    create_engine,
    func,
    select,
    update,
)

from pecus.agent import delpro
from pecus.ai.simulate.farm import FarmSimulation, simulate
from pecus.ai.simulate.params import QUARTERS, SimulationConfig
from pecus.ai.simulate.treatments import treatments

_bookkeeping = MetaData()
PecusSimulation = Table(
    "PecusSimulation",
    _bookkeeping,
    Column("Id", Integer, primary_key=True, autoincrement=False),
    Column("Config", Text, nullable=False),
    Column("RowsWritten", BigInteger, nullable=False),
)

_CHUNK = 20_000


@dataclass(frozen=True)
class AppendResult:
    rows: int
    first_oid: int | None
    last_oid: int | None
    last_ended_at: datetime | None  # UTC
    exhausted: bool  # the simulated horizon has no more milkings


def engine_for(url: str) -> Engine:
    """SQLAlchemy engine; a plain postgresql:// URL means psycopg 3 (what we ship)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            url = "postgresql+psycopg://" + url[len(prefix) :]
    return create_engine(url)


def write_delpro(sim: FarmSimulation, url: str) -> int:
    """Create the DelPro tables (if missing) and write the farm's history: cows, lactations and
    every milking that ended before the history's end. Returns the number of milkings written.
    Refuses a database that already holds milkings (use `append_milkings` to continue)."""
    engine = engine_for(url)
    try:
        delpro.metadata.create_all(engine)
        _bookkeeping.create_all(engine)
        rows = sim.history_rows()
        with engine.begin() as conn:
            if conn.execute(select(func.count()).select_from(delpro.SessionMilkYield)).scalar_one():
                raise ValueError(
                    f"{engine.url.render_as_string()} already holds milkings; append to it instead"
                )
            _insert(conn, delpro.BasicAnimal, _animal_rows(sim))
            cutoff = sim.history_end if rows == 0 else sim.sessions["ended_at"].iloc[rows - 1]
            _sync_lactations(conn, sim, max(cutoff, sim.history_end))
            _sync_treatments(conn, sim, max(cutoff, sim.history_end))
            _insert_sessions(conn, sim, 0, rows, first_oid=1)
            conn.execute(PecusSimulation.delete())
            conn.execute(
                PecusSimulation.insert().values(
                    Id=1, Config=json.dumps(sim.config.to_json()), RowsWritten=rows
                )
            )
        return rows
    finally:
        engine.dispose()


def append_milkings(url: str, *, until: datetime | None = None, count: int | None = None) -> AppendResult:
    """Add the farm's next simulated milkings: those ending up to `until` (aware datetime),
    at most `count` of them (at least one limit is required). OIDs continue above the largest
    in the database, in the order the milkings end, as a robot's IDENTITY would."""
    if until is None and count is None:
        raise ValueError("give until= or count= (or both)")
    if until is not None and until.tzinfo is None:
        raise ValueError("until must be timezone-aware")
    engine = engine_for(url)
    try:
        delpro.HistoryAnimalTreatment.create(engine, checkfirst=True)  # a farm written before treatments
        with engine.begin() as conn:
            state = conn.execute(select(PecusSimulation.c.Config, PecusSimulation.c.RowsWritten)).first()
            if state is None:
                raise ValueError("this database was not written by the simulator (no PecusSimulation row)")
            sim = simulate(SimulationConfig.from_json(json.loads(state.Config)))
            done = int(state.RowsWritten)
            total = len(sim.sessions)
            stop = total
            if until is not None:
                ends = sim.sessions["ended_at"]
                # Milkings end on whole seconds; `until` (e.g. now) may not, and the times' unit
                # cannot hold its fraction: a milking ended by `until` ended by its whole second.
                last = pd.Timestamp(until).floor("s")
                stop = min(stop, int(ends.searchsorted(last, side="right")))
            if count is not None:
                stop = min(stop, done + count)
            stop = max(stop, done)
            if stop == done:
                return AppendResult(0, None, None, None, done >= total)
            max_oid = conn.execute(select(func.max(delpro.SessionMilkYield.c.OID))).scalar() or 0
            _sync_lactations(conn, sim, sim.sessions["ended_at"].iloc[stop - 1])
            _sync_treatments(conn, sim, sim.sessions["ended_at"].iloc[stop - 1])
            _insert_sessions(conn, sim, done, stop, first_oid=max_oid + 1)
            conn.execute(update(PecusSimulation).values(RowsWritten=stop))
            last = sim.sessions["ended_at"].iloc[stop - 1].to_pydatetime()
            return AppendResult(stop - done, max_oid + 1, max_oid + stop - done, last, stop >= total)
    finally:
        engine.dispose()


# --- rows ------------------------------------------------------------------------------------
def _column(values: pd.Series | np.ndarray) -> list[Any]:
    """Python values for a driver: NaN/NaT -> None, numpy scalars -> Python, times -> datetime."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(x) else x.to_pydatetime() for x in series]
    if pd.api.types.is_float_dtype(series):
        arr = series.to_numpy(dtype=float)
        out = arr.astype(object)
        out[np.isnan(arr)] = None
        return list(out.tolist())
    if pd.api.types.is_bool_dtype(series):
        return series.astype(int).tolist()
    return list(series.astype(object).where(series.notna(), None))


Columns = dict[str, "pd.Series[Any] | np.ndarray"]


def _sqlite_times(times: pd.Series[Any]) -> list[Any]:
    """SQLAlchemy's SQLite DATETIME text ('2025-01-01 05:12:00.000000'), built in one numpy call."""
    naive = times.to_numpy(dtype="datetime64[us]")
    text = np.char.replace(np.datetime_as_string(naive, unit="us"), "T", " ").astype(object)
    text[np.isnat(naive)] = None
    return list(text.tolist())


def _insert(conn: Connection, table: Table, columns: Columns) -> None:
    """Bulk insert, column-wise. SQLAlchemy's per-row parameter handling cost 2/3 of the time of
    writing a year of milkings, so the statement is compiled once for the dialect and the rows
    go to the driver's executemany as plain tuples (or dicts for named paramstyles), with the
    column types' bind processors (e.g. datetimes as text on SQLite) applied column-wise."""
    names = list(columns)
    if not names or len(next(iter(columns.values()))) == 0:
        return
    dialect = conn.dialect
    compiled = table.insert().compile(dialect=dialect, column_keys=names)
    values: dict[str, list[Any]] = {}
    for name in names:
        raw = pd.Series(columns[name])
        if dialect.name == "sqlite" and pd.api.types.is_datetime64_any_dtype(raw):
            values[name] = _sqlite_times(raw)
            continue
        column = _column(raw)
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        values[name] = [None if v is None else process(v) for v in column] if process else column
    if dialect.positional:
        rows: list[Any] = list(zip(*(values[key] for key in compiled.positiontup or names), strict=True))
    else:
        rows = [dict(zip(names, row, strict=True)) for row in zip(*values.values(), strict=True)]
    for i in range(0, len(rows), _CHUNK):
        conn.exec_driver_sql(str(compiled), rows[i : i + _CHUNK])


def _animal_rows(sim: FarmSimulation) -> Columns:
    a = sim.animals
    return {"OID": a["OID"], "Number": a["Number"], "Name": a["Name"], "BirthDate": a["BirthDate"]}


def _sync_lactations(conn: Connection, sim: FarmSimulation, cutoff: pd.Timestamp) -> None:
    """Lactations that began by `cutoff`; a lactation's EndDate appears once dry-off has passed."""
    lac = delpro.AnimalLactationSummary
    existing = {row.OID: row.EndDate for row in conn.execute(select(lac.c.OID, lac.c.EndDate))}
    frame = sim.lactations[sim.lactations["start_utc"] <= cutoff]
    ended = frame["end_utc"] <= cutoff
    new = frame[~frame["OID"].isin(list(existing))]
    _insert(
        conn,
        lac,
        {
            "OID": new["OID"],
            "Animal": new["Animal"],
            "LactationNumber": new["LactationNumber"],
            "StartDate": new["StartDate"],
            "EndDate": new["EndDate"].where(ended[new.index]),
        },
    )
    for row in frame[ended & frame["OID"].isin([k for k, v in existing.items() if v is None])].itertuples():
        conn.execute(
            update(lac).where(lac.c["OID"] == int(row.OID)).values(EndDate=row.EndDate.to_pydatetime())
        )


def _sync_treatments(conn: Connection, sim: FarmSimulation, cutoff: pd.Timestamp) -> None:
    """The farmer's treatments recorded by `cutoff` that are not written yet (OIDs in time order)."""
    table = delpro.HistoryAnimalTreatment
    done = conn.execute(select(func.max(table.c.OID))).scalar() or 0
    rows = treatments(sim)
    new = rows[(rows["OID"] > done) & (rows["started_at"] <= cutoff)]
    columns = ("OID", "Animal", "LactationNumber", "TreatStartDate", "DurationInDays", "DiagnosesName",
               "TreatmentName")  # fmt: skip
    _insert(conn, table, {c: new[c] for c in columns})


def _insert_sessions(conn: Connection, sim: FarmSimulation, start: int, stop: int, first_oid: int) -> None:
    s, d = sim.sessions.iloc[start:stop], sim.delpro.iloc[start:stop]
    oids = np.arange(first_oid, first_oid + stop - start)
    _insert(
        conn,
        delpro.SessionMilkYield,
        {
            "OID": oids,
            "BasicAnimal": d["BasicAnimal"],
            "MilkingDevice": d["MilkingDevice"],
            "BeginTime": d["BeginTime"],
            "EndTime": d["EndTime"],
            "TotalYield": s["yield_kg"],
            "ExpectedYield": s["expected_yield_kg"],
            "AvgConductivity": s["conductivity_avg"],
            "MaxConductivity": s["conductivity_max"],
            "MilkFlowDuration": s["duration_s"],
        },
    )
    _insert(
        conn,
        delpro.VoluntarySessionMilkYield,
        {
            "OID": oids,
            **{f"Conductivity{q.upper()}": s[f"conductivity_{q}"] for q in QUARTERS},
            **{f"Quarter{q.upper()}Yield": s[f"yield_{q}"] for q in QUARTERS},
            **{f"MeanFlow{q.upper()}": d[f"MeanFlow{q.upper()}"] for q in QUARTERS},
            **{f"PeakFlow{q.upper()}": d[f"PeakFlow{q.upper()}"] for q in QUARTERS},
            "AverageBlood": s["blood_avg"],
            "MaxBlood": s["blood_max"],
            "Occ": s["cell_count"],
            "Mdi": s["mdi"],
            "Incomplete": d["Incomplete"],
            "Kickoff": d["Kickoff"],
        },
    )
