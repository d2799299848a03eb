"""`pecus model evaluate --farm …`: the field accuracy report on the command line, as a table and
as JSON, on the hand-counted farm of tests/support/field_cases.py."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from pecus.cli import app
from tests.support.field_cases import HandFarm, hand_farm


@pytest.fixture(scope="module")
def hand(db_url: str) -> HandFarm:
    return hand_farm(db_url)


def _run(monkeypatch: pytest.MonkeyPatch, db_url: str, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("DATABASE_URL", db_url)
    result = CliRunner().invoke(app, ["model", "evaluate", *args])
    return result.exit_code, result.output


def test_json_by_farm_name(monkeypatch: pytest.MonkeyPatch, db_url: str, hand: HandFarm) -> None:
    code, out = _run(monkeypatch, db_url, "--farm", hand.name, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["farm_id"] == str(hand.herd.farm_id)
    summary = {d["detector"]: (d["cases"], d["cases_warned"], d["alerts"], d["alerts_without_case"],
                               d["confirmed_false"]) for d in report["detectors"]}  # fmt: skip
    assert summary == {"model": (3, 1, 5, 2, 1), "rules": (3, 1, 3, 2, 0), "mdi": (3, 1, 2, 1, 0)}


def test_table_by_farm_id_and_days(monkeypatch: pytest.MonkeyPatch, db_url: str, hand: HandFarm) -> None:
    code, out = _run(monkeypatch, db_url, "--farm", str(hand.herd.farm_id), "--days", "30")
    assert code == 0, out
    assert "1 mastitis cases" in out  # B2's, 20 days ago
    model_row = next(line for line in out.splitlines() if "model" in line and "/" in line)
    assert "0 / 1" in model_row
    assert "Mastite acuta" in out and "Zoppia" not in out  # Zoppia was 30 days ago


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--farm", "No such farm 9f3e"], "no farm with id or name 'No such farm 9f3e'"),
        (["--days", "30"], "needs --farm"),
        (["--json"], "needs --farm"),
        (["--farm", "x", "--quick"], "not with --farm"),
        (["--farm", "x", "--days", "0"], "--days"),
    ],
)
def test_refused(monkeypatch: pytest.MonkeyPatch, db_url: str, args: list[str], message: str) -> None:
    code, out = _run(monkeypatch, db_url, *args)
    assert code == 2
    assert message in " ".join(out.split())
