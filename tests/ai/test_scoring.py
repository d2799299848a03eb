"""`pecus model score`: any column order, absent optional columns, many cows in any order, and
a precise error (line, column, reason) with no output for bad input."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from pecus.ai.model import packaged_model
from pecus.ai.scoring import InputError, read_sessions, score_frame
from pecus.ai.simulate import FarmParams, simulate_farm
from pecus.ai.simulate.files import sessions_csv_frame
from pecus.cli import app

START = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    sim = simulate_farm(25, 20, seed=12, start=START, params=FarmParams(incidence=3.0))
    return sessions_csv_frame(sim.sessions.iloc[: sim.history_rows()])


def run_score(source: Path, target: Path) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it (a new process)."""
    command = ["model", "score", "--input", str(source), "--output", str(target)]
    return subprocess.run(
        [sys.executable, "-m", "pecus.cli", *command], capture_output=True, text=True, check=False
    )


def invoke_score(source: Path, target: Path) -> Result:
    """The same command in this process (faster)."""
    return CliRunner().invoke(app, ["model", "score", "--input", str(source), "--output", str(target)])


def test_scores_every_row_in_input_order(sessions: pd.DataFrame, tmp_path: Path) -> None:
    shuffled = sessions.sample(frac=1.0, random_state=3)
    columns = list(shuffled.columns)[::-1]  # any column order
    dropped = ["mdi", "cell_count", "blood_avg", "blood_max", "expected_yield_kg", "extra"]
    shuffled = shuffled[[c for c in columns if c not in dropped]]
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    shuffled.to_csv(source, index=False)
    result = run_score(source, target)
    assert result.returncode == 0, result.stdout + result.stderr
    out = pd.read_csv(target, dtype={"unit": str})
    assert list(out.columns) == ["transaction_id", "unit", "risk_score", "alert"]
    assert out["transaction_id"].tolist() == shuffled["transaction_id"].tolist()
    assert out["unit"].tolist() == shuffled["unit"].astype(str).tolist()
    model = packaged_model()
    assert (
        out["alert"].tolist() == (out["risk_score"] >= round(model.threshold, 6) - 1e-9).astype(int).tolist()
    )
    assert out["risk_score"].between(0, 1).all()
    # The same rows in file order score the same: history comes from time, not file order.
    ordered = score_frame(model, read_sessions(source)).set_index("transaction_id")["risk_score"]
    pd.testing.assert_series_equal(
        out.set_index("transaction_id")["risk_score"], ordered.round(6), check_names=False, atol=1e-6
    )


def test_cases_of_the_file_score_higher_than_healthy_milkings(sessions: pd.DataFrame, tmp_path: Path) -> None:
    sim = simulate_farm(25, 20, seed=12, start=START, params=FarmParams(incidence=3.0))
    source = tmp_path / "in.csv"
    sessions.to_csv(source, index=False)
    risk = score_frame(packaged_model(), read_sessions(source))["risk_score"].to_numpy()
    labels = sim.labels.iloc[: len(risk)]
    before = ((labels["hours_to_diagnosis"] >= 0) & (labels["hours_to_diagnosis"] <= 48)).to_numpy()
    healthy = (labels["case"] < 0).to_numpy()
    assert before.sum() > 5
    assert risk[before].mean() > 5 * risk[healthy].mean()


def test_missing_required_column_is_named_and_nothing_is_written(
    sessions: pd.DataFrame, tmp_path: Path
) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    sessions.drop(columns=["yield_kg"]).to_csv(source, index=False)
    result = invoke_score(source, target)
    assert result.exit_code == 2
    assert "line 1 (header): missing required column(s): yield_kg" in result.output.replace("\n", "")
    assert not target.exists()


def _write(sessions: pd.DataFrame, path: Path, row: int, column: str, value: str) -> None:
    frame = sessions.astype(object)
    frame.loc[frame.index[row], column] = value
    frame.to_csv(path, index=False)


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("yield_kg", "abc", "line 5, column 'yield_kg': 'abc' is not a number"),
        ("conductivity_lr", "25.5", "line 5, column 'conductivity_lr': 25.5 is above the maximum 20"),
        ("yield_kg", "-1", "line 5, column 'yield_kg': -1 must be ≥ 0"),
        ("transaction_id", "0", "line 5, column 'transaction_id': 0 must be > 0"),
        ("duration_s", "12.5", "line 5, column 'duration_s': '12.5' is not a whole number"),
        ("started_at", "yesterday", "line 5, column 'started_at': 'yesterday' is not an ISO-8601 time"),
        (
            "started_at",
            "2025-06-02T05:00:00",
            "line 5, column 'started_at': '2025-06-02T05:00:00' has no UTC offset",
        ),
        ("kickoff", "maybe", "line 5, column 'kickoff': 'maybe' is not true/false"),
        ("animal_id", "", "line 5, column 'animal_id': a value is required"),
        ("unit", "x" * 65, "line 5, column 'unit': longer than 64 characters"),
        ("transaction_id", "REPEAT", "line 5, column 'transaction_id': {id} repeats line 2"),
        ("started_at", "2030-01-01T00:00:00Z", "line 5, column 'started_at': is after ended_at"),
    ],
)
def test_bad_values_name_line_column_and_reason(
    sessions: pd.DataFrame, tmp_path: Path, column: str, value: str, message: str
) -> None:
    source = tmp_path / "in.csv"
    if value == "REPEAT":
        value = str(sessions.iloc[0]["transaction_id"])
        message = message.format(id=value)
    _write(sessions, source, 3, column, value)
    with pytest.raises(InputError) as caught:
        read_sessions(source)
    assert str(caught.value) == message or str(caught.value).startswith(message)


def test_a_bad_line_through_the_command(sessions: pd.DataFrame, tmp_path: Path) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    _write(sessions, source, 10, "conductivity_avg", "5,3")
    result = invoke_score(source, target)
    assert result.exit_code == 2
    assert "line 12, column 'conductivity_avg': '5,3' is not a number" in result.output.replace("\n", "")
    assert not target.exists()


def test_empty_and_ragged_files_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="the file is empty"):
        read_sessions(empty)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("transaction_id,unit\n1,2\n3,4,5\n")
    with pytest.raises(InputError, match="line 3"):
        read_sessions(ragged)
