"""A small farm of treated cases, alerts and milkings whose field accuracy figures are counted by
hand (tests/dashboard/test_accuracy_http.py has the count, the CLI test reuses the farm)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg

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
    name: str


def hand_farm(db_url: str) -> HandFarm:
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
        name = f"Accuracy {uuid.uuid4().hex[:6]}"
        herd = new_herd(conn, "Europe/Rome", name)
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
    return HandFarm(herd, other, users, onsets, t, name)


def healthy_by_hand(farm: HandFarm) -> int:
    """Milkings with no mastitis onset of their cow from 14 days before to 7 days after them."""
    count = 0
    for cow in COWS:
        for started in farm.t.values():
            onset = farm.onsets.get(cow)
            near = onset is not None and started - timedelta(days=14) <= onset <= started + timedelta(days=7)
            count += not near
    return count
