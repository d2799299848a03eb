"""The simulated DelPro farm: plausible, reproducible, labelled, and written like DelPro."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
import pymysql
import pytest
import sqlalchemy as sa

from pecus.agent import delpro
from pecus.ai.cases import DEFAULT_PATTERNS, Treatment, mastitis_cases
from pecus.ai.scoring import read_sessions
from pecus.ai.simulate import (
    SEVERITIES,
    FarmParams,
    SimulationConfig,
    append_milkings,
    simulate,
    simulate_farm,
    write_delpro,
    write_files,
)
from pecus.ai.simulate import treatments as treatments_module
from pecus.ai.simulate.farm import _Farm
from pecus.ai.simulate.treatments import language, treatments
from pecus.contract.session import SESSION_COLUMNS, MilkingSession
from tests.support.pg import fresh_database

START = datetime(2025, 3, 1, tzinfo=UTC)
MARIADB_URL = os.environ.get("PECUS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def test_same_config_same_farm_other_seed_other_farm() -> None:
    config = SimulationConfig(20, 10, 42, START)
    one, two = _Farm(config).run(), _Farm(config).run()
    pd.testing.assert_frame_equal(one.sessions, two.sessions)
    pd.testing.assert_frame_equal(one.cases, two.cases)
    other = _Farm(SimulationConfig(20, 10, 43, START)).run()
    assert not one.sessions["yield_kg"].equals(other.sessions["yield_kg"])


def test_every_milking_satisfies_the_contract() -> None:
    sim = simulate_farm(40, 20, seed=1, start=START)
    rows = sim.sessions.astype(object).where(sim.sessions.notna(), None).to_dict("records")
    for row in rows:
        MilkingSession.model_validate(row)  # raises on any value outside the contract
    assert list(sim.sessions.columns) == [c for c in SESSION_COLUMNS if c != "extra"]


def test_the_herd_looks_like_a_robot_herd() -> None:
    sim = simulate_farm(120, 60, seed=2, start=START)
    s = sim.sessions
    per_cow_day = len(s) / s["animal_id"].nunique() / 60
    assert 2.0 < per_cow_day < 3.2  # 2-4 robot visits a day, dry cows none
    intervals = (
        s.sort_values("started_at").groupby("animal_id")["started_at"].diff().dt.total_seconds() / 3600
    )
    intervals = intervals[intervals < 48]
    assert 8.0 < intervals.mean() < 10.5  # Hogeveen et al. 2001: 9.2 h
    assert intervals.min() >= 4.0
    assert 4.5 < s["conductivity_avg"].median() < 6.0  # normal milk 4-6 mS/cm
    assert s["unit"].nunique() == 2  # 120 cows, ~60 per robot
    rear = s[["yield_lr", "yield_rr"]].sum(axis=1) / s[["yield_lf", "yield_rf", "yield_lr", "yield_rr"]].sum(
        axis=1
    )
    assert 0.52 < rear.median() < 0.62
    assert s["conductivity_lf"].isna().any()  # sensors lose readings
    assert s["cell_count"].isna().mean() > 0.5  # the cell counter samples some milkings only


def test_cases_raise_their_quarter_before_diagnosis() -> None:
    params = FarmParams(incidence=1.5, silent_share=0.0)
    sim = simulate_farm(80, 120, seed=3, start=START, params=params)
    assert set(sim.cases["severity"]) == set(SEVERITIES)
    s, labels = sim.sessions, sim.labels
    rises = []
    for case in sim.cases.itertuples():
        cow = s["animal_id"] == case.animal_id
        hours = (case.diagnosed_at - s["started_at"]).dt.total_seconds() / 3600
        at_diagnosis = s.loc[cow & (hours >= 0) & (hours < 12), f"conductivity_{case.quarter}"]
        week_before = s.loc[cow & (hours > 6 * 24) & (hours < 7 * 24), f"conductivity_{case.quarter}"]
        if len(at_diagnosis.dropna()) and len(week_before.dropna()):
            rises.append(at_diagnosis.mean() / week_before.mean() - 1)
        # the sessions in the 48 h before diagnosis carry the case's label
        window = cow & (hours >= 0) & (hours <= 48)
        assert (labels.loc[window, "case"] == case.case).all()
    assert np.median(rises) > 0.12


def test_emerging_cases_are_diagnosed_just_after_the_history_and_rise_before() -> None:
    sim = simulate_farm(60, 20, seed=4, start=START, emerging_cases=3, future_days=2)
    end = sim.history_end
    emerging = sim.cases[
        (sim.cases["diagnosed_at"] > end) & (sim.cases["diagnosed_at"] < end + timedelta(days=1))
    ]
    assert len(emerging) == 3
    assert set(emerging["severity"]) <= {"moderate", "severe"}
    history = sim.sessions.iloc[: sim.history_rows()]
    assert history["ended_at"].max() <= end
    for case in emerging.itertuples():
        cow = history[history["animal_id"] == case.animal_id]
        last_day = cow[cow["started_at"] > end - timedelta(days=1)][f"conductivity_{case.quarter}"].mean()
        week_before = cow[cow["started_at"] < end - timedelta(days=5)][f"conductivity_{case.quarter}"].mean()
        assert last_day > 1.1 * week_before


# --- DelPro databases --------------------------------------------------------------------------
@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_database("pecus_delpro") as conninfo:
        parts = psycopg.conninfo.conninfo_to_dict(conninfo)
        host, port = str(parts.get("host") or "127.0.0.1"), str(parts.get("port") or 5432)
        socket = host.startswith("/")  # the embedded server listens on a Unix socket
        url = sa.engine.URL.create(
            "postgresql+psycopg",
            username=str(parts.get("user") or "postgres"),
            password=str(parts["password"]) if parts.get("password") else None,
            host=None if socket else host,
            port=None if socket else int(port),
            database=str(parts["dbname"]),
            query={"host": host, "port": port} if socket else {},
        )
        yield url.render_as_string(hide_password=False)


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    name = f"pecus_delpro_{uuid.uuid4().hex[:10]}"
    url = sa.engine.make_url(MARIADB_URL)
    server = pymysql.connect(
        host=url.host, port=url.port or 3306, user=url.username, password=url.password or ""
    )
    with server.cursor() as cur:
        cur.execute(f"CREATE DATABASE {name}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {name}")
        server.close()


def _check_delpro(url: str, sim_rows: int, tz: str) -> None:
    sim = simulate(SimulationConfig(30, 8, 5, START, FarmParams(time_zone=tz), future_days=2))
    engine = delpro_engine(url)
    with engine.connect() as conn:
        s, v = delpro.SessionMilkYield.c, delpro.VoluntarySessionMilkYield.c
        oids = [r[0] for r in conn.execute(sa.select(s.OID).order_by(s.OID))]
        assert oids == list(range(1, sim_rows + 1))
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(delpro.VoluntarySessionMilkYield)).scalar()
            == sim_rows
        )
        first = conn.execute(
            sa.select(s.BeginTime, s.TotalYield, v.ConductivityLR, v.Occ)
            .join_from(delpro.SessionMilkYield, delpro.VoluntarySessionMilkYield, s.OID == v.OID)
            .where(s.OID == 1)
        ).one()
        expected = sim.sessions.iloc[0]
        local = expected["started_at"].tz_convert(ZoneInfo(tz)).tz_localize(None)
        assert first.BeginTime == local.to_pydatetime()  # local wall-clock time, no offset
        assert first.TotalYield == pytest.approx(expected["yield_kg"])
        if pd.isna(expected["conductivity_lr"]):
            assert first.ConductivityLR is None
        else:
            assert first.ConductivityLR == pytest.approx(expected["conductivity_lr"])
        current = conn.execute(
            sa.select(sa.func.count()).where(delpro.AnimalLactationSummary.c.EndDate.is_(None))
        ).scalar()
        animals = conn.execute(sa.select(sa.func.count()).select_from(delpro.BasicAnimal)).scalar()
        assert 0 < (current or 0) <= (animals or 0) == 30
    engine.dispose()


def delpro_engine(url: str) -> sa.Engine:
    from pecus.ai.simulate.delpro import engine_for

    return engine_for(url)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mariadb"])
def test_written_to_each_source_dialect_as_delpro_stores_it(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'delpro.sqlite'}",
        "postgresql": lambda: request.getfixturevalue("postgres_url"),
        "mariadb": lambda: request.getfixturevalue("mariadb_url"),
    }[dialect]()
    tz = "America/New_York"
    sim = simulate(SimulationConfig(30, 8, 5, START, FarmParams(time_zone=tz), future_days=2))
    written = write_delpro(sim, url)
    assert written == sim.history_rows() < len(sim.sessions)
    _check_delpro(url, written, tz)

    with pytest.raises(ValueError, match="already holds milkings"):
        write_delpro(sim, url)

    # The live robot: the next milkings, OIDs increasing, nothing ending after `until`.
    more = append_milkings(url, count=4)
    assert (more.rows, more.first_oid, more.last_oid) == (4, written + 1, written + 4)
    until = sim.history_end + timedelta(hours=12)
    upto = append_milkings(url, until=until.to_pydatetime())
    assert upto.rows > 0 and upto.last_ended_at is not None and upto.last_ended_at <= until
    engine = delpro_engine(url)
    with engine.connect() as conn:
        s = delpro.SessionMilkYield.c
        assert conn.execute(sa.select(sa.func.max(s.OID))).scalar() == written + 4 + upto.rows
        local_until = until.tz_convert(ZoneInfo(tz)).tz_localize(None).to_pydatetime()
        assert conn.execute(sa.select(sa.func.max(s.EndTime))).scalar() <= local_until
    engine.dispose()
    rest = append_milkings(url, count=10**6)
    assert rest.exhausted and rest.last_oid == len(sim.sessions)
    assert append_milkings(url, count=1).rows == 0
    # The farmer's treatments, up to the last milking, as DelPro stores them (local times).
    due = treatments(sim)
    due = due[due["started_at"] <= sim.sessions["ended_at"].iloc[-1]]
    engine = delpro_engine(url)
    with engine.connect() as conn:
        t = delpro.HistoryAnimalTreatment.c
        stored = conn.execute(sa.select(t.OID, t.TreatStartDate, t.DiagnosesName).order_by(t.OID)).all()
    engine.dispose()
    assert len(stored) == len(due) > 0
    assert [(r[0], r[1], r[2]) for r in stored] == [
        (int(r.OID), r.TreatStartDate.to_pydatetime(), r.DiagnosesName) for r in due.itertuples()
    ]


def test_calvings_in_appended_milkings_get_their_lactation(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'delpro.sqlite'}"
    sim = simulate_farm(60, 20, seed=8, start=START, future_days=40)
    later = sim.lactations[sim.lactations["start_utc"] > sim.history_end]
    assert len(later) > 0, "this farm must have calvings after its history"
    write_delpro(sim, url)
    append_milkings(url, count=10**6)
    engine = delpro_engine(url)
    with engine.connect() as conn:
        lac = delpro.AnimalLactationSummary.c
        oids = {r[0] for r in conn.execute(sa.select(lac.OID))}
        ended = {r[0] for r in conn.execute(sa.select(lac.OID).where(lac.EndDate.is_not(None)))}
    engine.dispose()
    assert set(later["OID"]) <= oids
    last_end = sim.sessions["ended_at"].max()
    assert set(sim.lactations.loc[sim.lactations["end_utc"] <= last_end, "OID"]) <= ended


def test_append_until_a_time_with_a_fraction_of_a_second(tmp_path: Path) -> None:
    """The live robot appends `until=datetime.now(UTC)`, which has microseconds."""
    url = f"sqlite:///{tmp_path / 'delpro.sqlite'}"
    sim = simulate(SimulationConfig(10, 8, 3, START, future_days=1))
    written = write_delpro(sim, url)
    ends = sim.sessions["ended_at"]
    target = ends.iloc[written + 2]
    until = (target + timedelta(microseconds=654_321)).to_pydatetime()
    result = append_milkings(url, until=until)
    expected = int((ends <= target).sum()) - written
    assert result.rows == expected >= 3
    assert result.last_ended_at is not None and result.last_ended_at <= until
    # One microsecond before a milking's end leaves that milking for later.
    again = append_milkings(
        url, until=(ends.iloc[written + expected] - timedelta(microseconds=1)).to_pydatetime()
    )
    assert again.rows == 0


def test_append_needs_a_simulated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    engine = delpro_engine(url)
    delpro.metadata.create_all(engine)
    engine.dispose()
    with pytest.raises(Exception, match="PecusSimulation"):
        append_milkings(url, count=1)
    with pytest.raises(ValueError, match="until= or count="):
        append_milkings(url)


def test_files_hold_contract_columns_and_case_labels(tmp_path: Path) -> None:
    sim = simulate_farm(40, 30, seed=9, start=START, params=FarmParams(incidence=2.0))
    sessions_csv, cases_csv = write_files(sim, tmp_path)
    parsed = read_sessions(sessions_csv)  # the scorer's own checks accept it
    assert len(parsed) == sim.history_rows()
    assert pd.read_csv(sessions_csv, nrows=0).columns.tolist() == [c for c in SESSION_COLUMNS if c != "extra"]
    cases = pd.read_csv(cases_csv)
    assert cases.columns.tolist() == ["animal_id", "quarter", "diagnosed_at", "severity"]
    assert len(cases) == len(sim.cases) > 0
    assert set(cases["quarter"]) <= {"lf", "rf", "lr", "rr"}
    assert cases["diagnosed_at"].str.endswith("Z").all()


def test_simulate_command_writes_the_three_outputs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pecus.cli", "simulate", "--cows", "20", "--days", "5", "--seed", "3",
         "--out", str(tmp_path), "--emerging", "1", "--time-zone", "Europe/Rome"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "clinical cases" in result.stdout
    assert (tmp_path / "delpro.sqlite").stat().st_size > 0
    sessions = pd.read_csv(tmp_path / "sessions.csv")
    assert len(sessions) > 200
    last = pd.to_datetime(sessions["ended_at"]).max()
    assert abs(last - pd.Timestamp.now(tz="UTC")) < pd.Timedelta(hours=12)  # history ends now
    bad = subprocess.run(
        [sys.executable, "-m", "pecus.cli", "simulate", "--out", str(tmp_path / "x"),
         "--time-zone", "Mars/Base"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode != 0 and "unknown time zone" in bad.stderr + bad.stdout


@pytest.mark.parametrize(
    ("zone", "mastitis", "lameness"),
    [("Europe/Rome", "Mastite clinica", "Zoppia"), ("Europe/Berlin", "Euterentzündung akut", "Lahmheit"),
     ("America/Chicago", "Clinical mastitis", "Lameness")],
)  # fmt: skip
def test_treatments_are_the_cases_in_the_farms_language(
    tmp_path: Path, zone: str, mastitis: str, lameness: str
) -> None:
    """Written treatments give back exactly the cases diagnosed by the written history (repeats
    collapse, lameness and metritis do not count); the live robot's appends bring the later ones."""
    url = f"sqlite:///{tmp_path / 'delpro.sqlite'}"
    sim = simulate(
        SimulationConfig(120, 90, 3, START, FarmParams(time_zone=zone), future_days=10, emerging_cases=2)
    )
    write_delpro(sim, url)

    def cases_in_delpro() -> tuple[list[tuple[str, datetime]], pd.DataFrame]:
        engine = delpro_engine(url)
        with engine.connect() as conn:
            t, a = delpro.HistoryAnimalTreatment.c, delpro.BasicAnimal.c
            rows = conn.execute(
                sa.select(a.Number, t.TreatStartDate, t.DiagnosesName, t.OID, t.LactationNumber)
                .join(delpro.BasicAnimal, t.Animal == a.OID)
                .order_by(t.OID)
            ).all()
        engine.dispose()
        frame = pd.DataFrame(rows, columns=["animal", "local", "diagnosis", "oid", "lactation"])
        found = mastitis_cases(
            [Treatment(str(r.animal), r.local.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC), r.diagnosis)
             for r in frame.itertuples()],
            DEFAULT_PATTERNS,
        )  # fmt: skip
        return [(c.animal_id, c.onset) for c in found], frame

    def expected(until: pd.Timestamp) -> list[tuple[str, datetime]]:
        due = sim.cases[sim.cases["diagnosed_at"] + pd.Timedelta(minutes=30) <= until]
        return sorted(
            ((str(c.animal_id), (c.diagnosed_at + pd.Timedelta(minutes=30)).floor("min").to_pydatetime())
             for c in due.itertuples()),
            key=lambda x: (x[1], x[0]),
        )  # fmt: skip

    found, frame = cases_in_delpro()
    cutoff = sim.history_end
    assert 0 < len(found) < len(sim.cases)  # the farm has cases in its future too
    assert found == expected(cutoff)
    assert set(frame["diagnosis"]) == {mastitis, lameness, treatments_module.NAMES[language(zone)][2]}
    assert (frame["diagnosis"] == mastitis).sum() > len(found)  # some repeat treatments
    assert frame["oid"].tolist() == list(range(1, len(frame) + 1))
    assert frame["local"].is_monotonic_increasing and frame["lactation"].notna().mean() > 0.9
    assert pd.Timestamp(frame["local"].max()).tz_localize(zone) <= cutoff

    append_milkings(url, count=10**6)
    found, frame = cases_in_delpro()
    assert found == expected(sim.sessions["ended_at"].iloc[-1])
    assert len(found) == len(sim.cases[sim.cases["diagnosed_at"] < sim.sessions["ended_at"].iloc[-1]])
    assert frame["oid"].tolist() == list(range(1, len(frame) + 1))


def test_treatments_are_reproducible_and_leave_the_cached_farm_alone() -> None:
    config = SimulationConfig(30, 20, 9, START)
    sim = simulate(config)  # cached per process: shared with every later caller
    cases = sim.cases.copy()
    first, again = treatments(sim), treatments(_Farm(config).run())
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(sim.cases, cases)
