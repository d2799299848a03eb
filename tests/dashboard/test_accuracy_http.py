"""The field accuracy report over real HTTP on a small hand-built farm whose figures are counted by
hand, the owner's mastitis patterns in the farm settings, and that nobody sees another farm's."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.dashboard.conftest import bearer, error_of, snapshot_farm
from tests.support.field_cases import COWS, MILKINGS, HandFarm, hand_farm, healthy_by_hand
from tests.support.herd import copy_sessions, milking, new_herd
from tests.support.seed import add_member


@pytest.fixture(scope="module")
def hand(db_url: str) -> HandFarm:
    return hand_farm(db_url)


def test_the_report_matches_a_hand_count(client: httpx.Client, hand: HandFarm) -> None:
    response = client.get(f"/api/v1/farms/{hand.herd.farm_id}/accuracy", headers=bearer(hand.users["viewer"]))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["time_zone"] == "Europe/Rome"
    assert report["milkings"] == len(COWS) * MILKINGS
    assert report["healthy_milkings"] == healthy_by_hand(hand) == 700 - 3 * 42
    assert report["treatments"] == 6  # the one 100 days ago is outside the 90 days
    assert report["diagnoses"] == [
        {"diagnosis": "Mastite clinica", "treatments": 3, "mastitis": True},
        {"diagnosis": "Mastite acuta", "treatments": 1, "mastitis": True},
        {"diagnosis": "Metritis", "treatments": 1, "mastitis": False},
        {"diagnosis": "Zoppia", "treatments": 1, "mastitis": False},
    ]
    cases = {c["animal_id"]: c for c in report["cases"]}
    assert [c["animal_id"] for c in report["cases"]] == ["E5", "A1", "B2"]  # oldest onset first
    assert cases["A1"]["treatments"] == 2 and cases["A1"]["diagnoses"] == ["Mastite clinica"]
    assert datetime.fromisoformat(cases["A1"]["onset"]) == hand.onsets["A1"]

    a1 = {w["detector"]: w for w in cases["A1"]["warnings"]}
    assert a1["model"]["lead_hours"] == pytest.approx(36.5)
    assert datetime.fromisoformat(a1["model"]["first_warned_at"]) == hand.t[83]
    assert a1["rules"]["lead_hours"] == pytest.approx(24.5)  # conductivity at 82, MDi at 81: one alarm
    assert a1["mdi"]["lead_hours"] == pytest.approx(12.5)
    for cow in ("B2", "E5"):
        assert all(w["first_warned_at"] is None and w["lead_hours"] is None for w in cases[cow]["warnings"])
    assert all(w["judged"] for c in report["cases"] for w in c["warnings"])  # synced as milked

    detectors = {d["detector"]: d for d in report["detectors"]}
    assert [d["detector"] for d in report["detectors"]] == ["model", "rules", "mdi"]
    healthy, third = report["healthy_milkings"], pytest.approx(1 / 3)
    assert detectors["model"] == {
        "detector": "model", "available": True, "cases": 3, "cases_not_judged": 0, "cases_warned": 1,
        "sensitivity": third,
        "lead_hours_median": pytest.approx(36.5), "warned_24h": 1,
        "alerts": 5, "alerts_without_case": 2, "confirmed_false": 1,  # C3 (marked false) and D4
        "false_alerts_per_1000_milkings": pytest.approx(2000 / healthy),
    }  # fmt: skip
    assert detectors["rules"] == {
        "detector": "rules", "available": True, "cases": 3, "cases_not_judged": 0, "cases_warned": 1,
        "sensitivity": third,
        "lead_hours_median": pytest.approx(24.5), "warned_24h": 1,
        "alerts": 3, "alerts_without_case": 2, "confirmed_false": 0,  # A1; C3 and D4 without case
        "false_alerts_per_1000_milkings": pytest.approx(2000 / healthy),
    }  # fmt: skip
    assert detectors["mdi"] == {
        "detector": "mdi", "available": True, "cases": 3, "cases_not_judged": 0, "cases_warned": 1,
        "sensitivity": third,
        "lead_hours_median": pytest.approx(12.5), "warned_24h": 0,
        "alerts": 2, "alerts_without_case": 1, "confirmed_false": 0,  # A1; D4 without case
        "false_alerts_per_1000_milkings": pytest.approx(1000 / healthy),
    }  # fmt: skip
    assert "Othermarker" not in response.text and str(hand.other.farm_id) not in response.text


def test_cases_in_a_late_synced_backlog_do_not_count_against_the_model(
    client: httpx.Client, db_url: str
) -> None:
    """The farm's history arrived in one backlog today (its first sync): the model could not alert
    on it, so its cases are not held against the model; the rules and MDi still judge them all."""
    farm = hand_farm(db_url)
    with psycopg.connect(db_url) as conn:
        # Only A1's milkings up to 2 days before her onset came in time; the rest arrived today.
        conn.execute(
            "UPDATE milking_sessions SET received_at = now() WHERE tenant_id = %s AND NOT"
            " (animal_id = 'A1' AND started_at <= %s)",
            [farm.herd.farm_id, farm.onsets["A1"] - timedelta(hours=48)],
        )
    response = client.get(f"/api/v1/farms/{farm.herd.farm_id}/accuracy", headers=bearer(farm.users["viewer"]))
    assert response.status_code == 200, response.text
    report = response.json()
    detectors = {d["detector"]: d for d in report["detectors"]}
    # A1: warned by an alert, so judged; B2 and E5: their 48 h before the onset came late.
    assert detectors["model"]["cases"] == 1 and detectors["model"]["cases_not_judged"] == 2
    assert detectors["model"]["cases_warned"] == 1 and detectors["model"]["sensitivity"] == 1.0
    assert detectors["rules"]["cases"] == 3 and detectors["rules"]["cases_not_judged"] == 0
    judged = {c["animal_id"]: {w["detector"]: w["judged"] for w in c["warnings"]} for c in report["cases"]}
    assert judged == {
        "A1": {"model": True, "rules": True, "mdi": True},
        "B2": {"model": False, "rules": True, "mdi": True},
        "E5": {"model": False, "rules": True, "mdi": True},
    }


def test_a_shorter_period_and_a_farm_without_mdi(client: httpx.Client, hand: HandFarm, db_url: str) -> None:
    # 30 days: only B2's case (20 days ago); D4's alert and C3's (30 days ago, before local day 1).
    short = client.get(
        f"/api/v1/farms/{hand.herd.farm_id}/accuracy",
        params={"days": 30},
        headers=bearer(hand.users["farmer"]),
    ).json()
    assert [c["animal_id"] for c in short["cases"]] == ["B2"]
    model = short["detectors"][0]
    assert (model["cases"], model["cases_warned"], model["sensitivity"]) == (1, 0, 0.0)
    assert model["lead_hours_median"] is None
    assert (model["alerts"], model["alerts_without_case"]) == (2, 1)  # B2 (after her onset), D4

    with psycopg.connect(db_url) as conn:
        bare = new_herd(conn, "UTC", f"Bare {uuid.uuid4().hex[:6]}")
        copy_sessions(conn, bare, [milking(bare, "1", datetime.now(UTC) - timedelta(hours=3), 10.0)])
        add_member(conn, bare.farm_id, hand.users["viewer"], "viewer")
    report = client.get(f"/api/v1/farms/{bare.farm_id}/accuracy", headers=bearer(hand.users["viewer"])).json()
    assert (report["milkings"], report["treatments"], report["cases"], report["diagnoses"]) == (1, 0, [], [])
    for d in report["detectors"]:
        assert d["sensitivity"] is None and d["alerts"] == 0
    assert [d["available"] for d in report["detectors"]] == [True, False, False]  # no conductivity, no MDi
    assert report["detectors"][2]["false_alerts_per_1000_milkings"] is None


@pytest.mark.parametrize("days", ["0", "731", "many"])
def test_bad_days_are_422_naming_the_field(client: httpx.Client, hand: HandFarm, days: str) -> None:
    response = client.get(
        f"/api/v1/farms/{hand.herd.farm_id}/accuracy",
        params={"days": days},
        headers=bearer(hand.users["owner"]),
    )
    assert response.status_code == 422
    assert [d["field"] for d in error_of(response)["details"]] == ["days"]


def test_another_farm_cannot_see_the_report(client: httpx.Client, hand: HandFarm) -> None:
    url = f"/api/v1/farms/{hand.herd.farm_id}/accuracy"
    response = client.get(url, headers=bearer(hand.users["other"]))
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert client.get(url).status_code == 401
    # Their own farm's report holds their treatment, none of farm A's.
    own = client.get(f"/api/v1/farms/{hand.other.farm_id}/accuracy", headers=bearer(hand.users["other"]))
    assert own.status_code == 200
    assert [d["diagnosis"] for d in own.json()["diagnoses"]] == ["Othermarker mastitis"]
    assert [c["animal_id"] for c in own.json()["cases"]] == ["A1"]
    assert own.json()["detectors"][0]["alerts"] == 0  # A's alerts on her namesake are not B's


# --- the farm's words for mastitis, in the settings ------------------------------------------------


def _settings(client: httpx.Client, farm: uuid.UUID, user: uuid.UUID, body: dict[str, Any]) -> httpx.Response:
    return client.patch(f"/api/v1/farms/{farm}/settings", json=body, headers=bearer(user))


def test_owner_edits_the_patterns_and_the_report_uses_them(client: httpx.Client, db_url: str) -> None:
    farm = hand_farm(db_url)
    owner = farm.users["owner"]
    got = client.get(f"/api/v1/farms/{farm.herd.farm_id}/settings", headers=bearer(owner)).json()
    assert got["mastitis_patterns"] == ["mastitis", "mastite", "euterentzündung", "uierontsteking", "mammite"]
    changed = _settings(
        client, farm.herd.farm_id, owner, {"mastitis_patterns": ["  Mastite clinica ", "zoppia"]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["mastitis_patterns"] == ["Mastite clinica", "zoppia"]
    report = client.get(f"/api/v1/farms/{farm.herd.farm_id}/accuracy", headers=bearer(owner)).json()
    assert report["patterns"] == ["Mastite clinica", "zoppia"]
    assert {d["diagnosis"]: d["mastitis"] for d in report["diagnoses"]} == {
        "Mastite clinica": True, "Mastite acuta": False, "Metritis": False, "Zoppia": True,
    }  # fmt: skip
    assert [c["animal_id"] for c in report["cases"]] == ["E5", "A1", "C3"]


@pytest.mark.parametrize(
    ("patterns", "field", "reason"),
    [
        ([], "mastitis_patterns", "at least 1"),
        (["mastitis"] * 51, "mastitis_patterns", "at most 50"),
        (["mastitis", "m"], "mastitis_patterns.1", "at least 2 characters"),
        (["   "], "mastitis_patterns.0", "at least 2 characters"),
        (["x" * 61], "mastitis_patterns.0", "at most 60 characters"),
        (["mast\x00ite"], "mastitis_patterns.0", "NUL"),
        (None, "mastitis_patterns", "cannot be cleared"),
        ("mastitis", "mastitis_patterns", "valid list"),
    ],
)
def test_bad_patterns_are_refused_precisely_and_change_nothing(
    client: httpx.Client, hand: HandFarm, db_url: str, patterns: Any, field: str, reason: str
) -> None:
    before = snapshot_farm(db_url, hand.herd.farm_id)
    response = _settings(client, hand.herd.farm_id, hand.users["owner"], {"mastitis_patterns": patterns})
    assert response.status_code == 422
    details = error_of(response)["details"]
    assert [d["field"] for d in details] == [field]
    assert reason in details[0]["reason"]
    assert snapshot_farm(db_url, hand.herd.farm_id) == before


def test_only_owners_change_the_patterns(client: httpx.Client, hand: HandFarm, db_url: str) -> None:
    before = snapshot_farm(db_url, hand.herd.farm_id)
    body = {"mastitis_patterns": ["anything"]}
    farmer = _settings(client, hand.herd.farm_id, hand.users["farmer"], body)
    assert farmer.status_code == 403 and error_of(farmer)["code"] == "forbidden"
    stranger = _settings(client, hand.herd.farm_id, hand.users["other"], body)
    assert stranger.status_code == 404
    assert snapshot_farm(db_url, hand.herd.farm_id) == before
