"""The field accuracy report over real HTTP on a small hand-built farm whose figures are counted by
hand, the owner's mastitis patterns in the farm settings, and that nobody sees another farm's."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from tests.dashboard.conftest import bearer, error_of, snapshot_farm
from tests.support.herd import Herd, add_alert, add_treatment, copy_sessions, milking, new_herd
from tests.support.seed import add_member, create_user

COWS = ("A1", "B2", "C3", "D4", "E5")
MILKINGS = 140  # every 12 h over 70 days
NORMAL = {"conductivity_lf": 5.0, "conductivity_rf": 5.0, "conductivity_lr": 5.0, "conductivity_rr": 5.0,
          "mdi": 1.0}  # fmt: skip
IQR_ALARM = {**NORMAL, "conductivity_lf": 6.5}  # one quarter 30 % over the others: the rule alarms
MDI_ALARM = {**NORMAL, "mdi": 1.6}  # DeLaval's alarm level is 1.4 (the rule alarms too)


@dataclass
class HandFarm:
    herd: Herd
    other: Herd
    users: dict[str, uuid.UUID]
    onsets: dict[str, datetime]
    t: dict[int, datetime]  # milking k: now - 1 h - k * 12 h (every cow milks then)


def _hand_farm(db_url: str) -> HandFarm:
    """Five cows milked every 12 h for 70 days (k counts milkings back from now):

    A1: mastitis treated at milking 80 + 30 min, again 2 days later (one case); model alert at
        milking 83, rule alarm (conductivity) at 82, MDi alarm at 81: all warned.
    B2: mastitis at 40 + 30 min; the model alerts 11.5 h after the onset (late: not warned, no
        false alert either).
    C3: lameness ("Zoppia") at 60; model alert at 60 marked false positive, later resolved;
        rule alarm at 60. No case: false alerts.
    D4: metritis 5 days ago; model alert and MDi alarm at milking 20: false alerts.
    E5: mastitis at 100 + 30 min; model alert 5 days before it (outside the 48 h window: not
        warned, but not a false alert).
    A1 was also treated for mastitis 100 days ago, before the period."""
    now = datetime.now(UTC)
    t = {k: (now - timedelta(hours=1 + 12 * k)).replace(microsecond=0) for k in range(MILKINGS)}
    special = {("A1", 83): NORMAL, ("A1", 82): IQR_ALARM, ("A1", 81): MDI_ALARM,
               ("C3", 60): IQR_ALARM, ("D4", 20): MDI_ALARM}  # fmt: skip
    with psycopg.connect(db_url) as conn:
        herd = new_herd(conn, "Europe/Rome", f"Accuracy {uuid.uuid4().hex[:6]}")
        other = new_herd(conn, "Europe/Rome", f"Other {uuid.uuid4().hex[:6]}")
        rows = {(cow, k): milking(herd, cow, t[k], 12.0, **special.get((cow, k), NORMAL))
                for k in sorted(t, reverse=True) for cow in COWS}  # fmt: skip
        copy_sessions(conn, herd, list(rows.values()))
        copy_sessions(conn, other, [milking(other, "A1", t[k], 9.0, **MDI_ALARM) for k in range(0, 100, 5)])

        onsets = {"A1": t[80] + timedelta(minutes=30), "B2": t[40] + timedelta(minutes=30),
                  "E5": t[100] + timedelta(minutes=30)}  # fmt: skip
        add_treatment(conn, herd, "A1", onsets["A1"], "Mastite clinica")
        add_treatment(conn, herd, "A1", onsets["A1"] + timedelta(days=2), "Mastite clinica")
        add_treatment(conn, herd, "A1", now - timedelta(days=100), "Mastite clinica")
        add_treatment(conn, herd, "B2", onsets["B2"], "Mastite acuta")
        add_treatment(conn, herd, "C3", t[60] + timedelta(minutes=30), "Zoppia")
        add_treatment(conn, herd, "D4", now - timedelta(days=5), "Metritis")
        add_treatment(conn, herd, "E5", onsets["E5"], "Mastite clinica")
        add_treatment(conn, other, "A1", t[50], "Othermarker mastitis")

        for cow, k in [("A1", 83), ("B2", 39), ("D4", 20), ("E5", 110)]:
            add_alert(conn, herd, rows[(cow, k)], 0.7)
        false = add_alert(conn, herd, rows[("C3", 60)], 0.6)
        for old, new in [("new", "false_positive"), ("false_positive", "resolved")]:
            conn.execute("UPDATE alerts SET status = %s WHERE tenant_id = %s AND alert_id = %s",
                         [new, herd.farm_id, false])  # fmt: skip
            conn.execute(
                "INSERT INTO alert_status_changes (tenant_id, alert_id, from_status, to_status)"
                " VALUES (%s, %s, %s, %s)",
                [herd.farm_id, false, old, new],
            )
        users = {role: create_user(conn) for role in ("owner", "farmer", "viewer", "other")}
        for role in ("owner", "farmer", "viewer"):
            add_member(conn, herd.farm_id, users[role], role)
        add_member(conn, other.farm_id, users["other"], "owner")
    return HandFarm(herd, other, users, onsets, t)


@pytest.fixture(scope="module")
def hand(db_url: str) -> HandFarm:
    return _hand_farm(db_url)


def _healthy_by_hand(farm: HandFarm) -> int:
    """Milkings with no mastitis onset of their cow from 14 days before to 7 days after them."""
    count = 0
    for cow in COWS:
        for started in farm.t.values():
            onset = farm.onsets.get(cow)
            near = onset is not None and started - timedelta(days=14) <= onset <= started + timedelta(days=7)
            count += not near
    return count


def test_the_report_matches_a_hand_count(client: httpx.Client, hand: HandFarm) -> None:
    response = client.get(f"/api/v1/farms/{hand.herd.farm_id}/accuracy", headers=bearer(hand.users["viewer"]))
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["time_zone"] == "Europe/Rome"
    assert report["milkings"] == len(COWS) * MILKINGS
    assert report["healthy_milkings"] == _healthy_by_hand(hand) == 700 - 3 * 42
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

    detectors = {d["detector"]: d for d in report["detectors"]}
    assert [d["detector"] for d in report["detectors"]] == ["model", "rules", "mdi"]
    healthy, third = report["healthy_milkings"], pytest.approx(1 / 3)
    assert detectors["model"] == {
        "detector": "model", "available": True, "cases": 3, "cases_warned": 1, "sensitivity": third,
        "lead_hours_median": pytest.approx(36.5), "warned_24h": 1,
        "alerts": 5, "alerts_without_case": 2, "confirmed_false": 1,  # C3 (marked false) and D4
        "false_alerts_per_1000_milkings": pytest.approx(2000 / healthy),
    }  # fmt: skip
    assert detectors["rules"] == {
        "detector": "rules", "available": True, "cases": 3, "cases_warned": 1, "sensitivity": third,
        "lead_hours_median": pytest.approx(24.5), "warned_24h": 1,
        "alerts": 3, "alerts_without_case": 2, "confirmed_false": 0,  # A1; C3 and D4 without case
        "false_alerts_per_1000_milkings": pytest.approx(2000 / healthy),
    }  # fmt: skip
    assert detectors["mdi"] == {
        "detector": "mdi", "available": True, "cases": 3, "cases_warned": 1, "sensitivity": third,
        "lead_hours_median": pytest.approx(12.5), "warned_24h": 0,
        "alerts": 2, "alerts_without_case": 1, "confirmed_false": 0,  # A1; D4 without case
        "false_alerts_per_1000_milkings": pytest.approx(1000 / healthy),
    }  # fmt: skip
    assert "Othermarker" not in response.text and str(hand.other.farm_id) not in response.text


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
    farm = _hand_farm(db_url)
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
