"""The field accuracy report on a simulated farm whose cases are known: the simulator's milkings
and the treatments it writes into DelPro, loaded into the cloud tables, give back its cases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pandas as pd
import psycopg
import pytest
from psycopg import AsyncConnection

from pecus.ai.field_accuracy import field_accuracy
from pecus.ai.simulate import FarmSimulation
from pecus.ai.simulate.treatments import treatments
from pecus.cloud.database import CONNECT_OPTIONS
from tests.ai.farm_data import insert_sessions, new_farm, recent_farm

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def sim() -> FarmSimulation:
    return recent_farm(cows=150, days=45, seed=3, emerging=0)


@pytest.fixture
def farm(db_url: str, sim: FarmSimulation) -> Iterator[tuple[uuid.UUID, pd.DataFrame]]:
    """The farm in the cloud: its milkings and the treatments recorded by the end of its history."""
    written = treatments(sim)
    written = written[written["started_at"] <= sim.history_end]
    with psycopg.connect(db_url) as conn:
        farm_id, source = new_farm(conn, "Simulated treatments")
        insert_sessions(conn, farm_id, source, sim.sessions.iloc[: sim.history_rows()])
        rows = [
            (farm_id, source, int(r.OID), r.animal_id,
             None if pd.isna(r.LactationNumber) else int(r.LactationNumber), r.started_at.to_pydatetime(),
             int(r.DurationInDays), r.DiagnosesName, r.TreatmentName)
            for r in written.itertuples()
        ]  # fmt: skip
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO treatments (tenant_id, source_id, treatment_id, animal_id, lactation_number,"
                " started_at, duration_days, diagnosis, treatment)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
    yield farm_id, written
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [farm_id])


async def test_the_report_finds_the_simulated_cases(db_url: str, sim: FarmSimulation, farm: Any) -> None:
    farm_id, written = farm
    async with await AsyncConnection.connect(db_url, **CONNECT_OPTIONS) as conn:
        report = await field_accuracy(conn, farm_id, days=90)
    assert report is not None
    cases = sim.cases[sim.cases["diagnosed_at"] + pd.Timedelta(minutes=30) <= sim.history_end]
    expected = sorted(
        (str(c.animal_id), (c.diagnosed_at + pd.Timedelta(minutes=30)).floor("min").to_pydatetime())
        for c in cases.itertuples()
    )
    assert len(expected) >= 5
    assert sorted((c.animal_id, c.onset) for c in report.cases) == expected
    assert sum(c.treatments for c in report.cases) == int((written["kind"] == 0).sum()) > len(expected)
    assert {c for case in report.cases for c in case.diagnoses} == {"Mastite clinica"}
    assert {d.diagnosis: d.treatments for d in report.diagnoses} == written[
        "DiagnosesName"
    ].value_counts().to_dict()
    assert {d.diagnosis for d in report.diagnoses if d.mastitis} == {"Mastite clinica"}
    assert report.milkings == sim.history_rows() and report.treatments == len(written)

    model, rules, mdi = report.detectors
    assert (model.alerts, model.cases_warned, model.sensitivity) == (0, 0, 0.0)  # nothing scored this farm
    assert rules.available and mdi.available
    for d in (rules, mdi):
        assert d.cases == len(expected) and 0 <= d.cases_warned <= d.cases
        assert d.alerts_without_case <= d.alerts and d.confirmed_false == 0
    # Simulated cases raise conductivity and MDi before the diagnosis: the baselines see some.
    assert rules.cases_warned > 0 and mdi.cases_warned > 0
