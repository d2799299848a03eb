"""Alerts and notification targets over real HTTP (`pecus serve`, local sign-in), by role and
across farms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from tests.dashboard.conftest import Farms, bearer, error_of
from tests.support.herd import add_alert
from tests.support.receiver import receiver


def alerts_url(farms: Farms, farm: str = "a") -> str:
    return f"/api/v1/farms/{getattr(farms, farm).farm_id}/alerts"


def test_list_sorted_by_risk_then_time_with_filters(db_url: str, client: httpx.Client, farms: Farms) -> None:
    a = farms.a
    now = datetime.now(UTC)
    with psycopg.connect(db_url) as conn:
        older_high = add_alert(conn, a, a.sessions[0], 0.95, "critical", created_at=now - timedelta(days=2))
        newer_low = add_alert(conn, a, a.sessions[1], 0.6, created_at=now - timedelta(hours=1))
        same_low_older = add_alert(
            conn, a, a.sessions[2], 0.6, "warning", "acknowledged", now - timedelta(hours=5)
        )
    headers = bearer(farms.a_users["viewer"])
    r = client.get(alerts_url(farms), headers=headers)
    assert r.status_code == 200, r.text
    page = r.json()
    ids = [item["alert_id"] for item in page["items"]]
    assert ids[0] == older_high and ids.index(newer_low) < ids.index(same_low_older)
    assert page["total"] == len(ids) == 4
    first = page["items"][0]
    assert first["summary"] == "RR cond +34%" and first["kind"] == "mastitis"

    r = client.get(alerts_url(farms), headers=headers, params={"status": ["acknowledged"]})
    assert [i["alert_id"] for i in r.json()["items"]] == [same_low_older]
    r = client.get(alerts_url(farms), headers=headers, params={"status": ["new", "acknowledged"], "limit": 2})
    assert (len(r.json()["items"]), r.json()["total"]) == (2, 4)
    since = (now - timedelta(hours=6)).isoformat()
    until = (now - timedelta(hours=2)).isoformat()
    r = client.get(alerts_url(farms), headers=headers, params={"since": since, "until": until})
    assert [i["alert_id"] for i in r.json()["items"]] == [same_low_older]
    unit = a.sessions[0]["unit"]
    r = client.get(alerts_url(farms), headers=headers, params={"unit": unit})
    assert r.json()["items"] and {i["unit"] for i in r.json()["items"]} == {unit}
    r = client.get(alerts_url(farms), headers=headers, params={"since": "2026-01-01T00:00:00"})
    assert r.status_code == 422  # a time without its offset is ambiguous


def test_alert_detail_has_reasons_history_and_the_cows_milkings(client: httpx.Client, farms: Farms) -> None:
    headers = bearer(farms.a_users["farmer"])
    [item] = client.get(alerts_url(farms), headers=headers).json()["items"]
    r = client.patch(
        f"{alerts_url(farms)}/{item['alert_id']}",
        headers=headers,
        json={"status": "acknowledged", "note": "seen"},
    )
    assert r.status_code == 200, r.text
    r = client.get(f"{alerts_url(farms)}/{item['alert_id']}", headers=headers)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["reasons"] == [{"signal": "conductivity_rr", "change_pct": 34}]
    [change] = detail["history"]
    assert (change["from_status"], change["to_status"], change["note"]) == ("new", "acknowledged", "seen")
    assert change["changed_by"] == str(farms.a_users["farmer"])
    assert change["changed_by_email"] == farms.a_emails["farmer"]
    cow = farms.a.sessions[-1]["animal_id"]
    mine = {s["transaction_id"] for s in farms.a.sessions if s["animal_id"] == cow}
    assert detail["sessions"] and {s["transaction_id"] for s in detail["sessions"]} <= mine


@pytest.mark.parametrize("role", ["owner", "farmer", "vet"])
def test_carers_change_status_with_the_history_kept(client: httpx.Client, farms: Farms, role: str) -> None:
    headers = bearer(farms.a_users[role])
    [item] = client.get(alerts_url(farms), headers=headers).json()["items"]
    url = f"{alerts_url(farms)}/{item['alert_id']}"
    steps = [("false_positive", "teat dip"), ("acknowledged", "CMT positive"), ("resolved", None)]
    for status, note in steps:
        r = client.patch(url, headers=headers, json={"status": status, "note": note})
        assert r.status_code == 200, r.text
        assert (r.json()["status"], r.json()["note"]) == (status, note)
    history = client.get(url, headers=headers).json()["history"]
    assert [(h["to_status"], h["note"]) for h in history] == steps
    r = client.patch(url, headers=headers, json={"status": "acknowledged"})
    assert r.status_code == 409 and error_of(r)["code"] == "invalid_transition"


def test_viewer_403_other_farm_404_bad_body_422(client: httpx.Client, farms: Farms) -> None:
    [item] = client.get(alerts_url(farms), headers=bearer(farms.a_users["owner"])).json()["items"]
    body = {"status": "acknowledged"}
    url = f"{alerts_url(farms)}/{item['alert_id']}"
    r = client.patch(url, headers=bearer(farms.a_users["viewer"]), json=body)
    assert r.status_code == 403 and error_of(r)["code"] == "forbidden"
    for headers, path in [
        (bearer(farms.owner_b), url),  # farm A's alert, farm B's owner
        (bearer(farms.outsider), url),  # no farm at all
        (bearer(farms.a_users["owner"]), f"{alerts_url(farms)}/{farms.b_alert_id}"),  # B's alert via A
        (bearer(farms.a_users["owner"]), f"{alerts_url(farms, 'b')}/{farms.b_alert_id}"),  # B's farm
    ]:
        for method in ("GET", "PATCH"):
            r = client.request(method, path, headers=headers, json=body if method == "PATCH" else None)
            assert r.status_code == 404, (method, path, r.text)
            assert error_of(r)["code"] == "not_found"
    owner = bearer(farms.a_users["owner"])
    for bad in ({"status": "new"}, {"status": "closed"}, {"status": "resolved", "note": "a\x00b"},
                {"status": "resolved", "note": "x" * 1001}, {"status": "resolved", "extra": 1}):  # fmt: skip
        r = client.patch(url, headers=owner, json=bad)
        assert r.status_code == 422, (bad, r.text)
    assert client.get(url, headers=owner).json()["history"] == []
    assert client.patch(url, json=body).status_code == 401


def test_targets_are_listed_masked_and_test_sends_reach_the_channel(
    db_url: str, client: httpx.Client, farms: Farms
) -> None:
    base = f"/api/v1/farms/{farms.a.farm_id}/notification-targets"
    owner = bearer(farms.a_users["owner"])
    with receiver(statuses=[200, 500]) as rec:
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "INSERT INTO notification_targets (tenant_id, label, scheme, apprise_url, masked_url)"
                " VALUES (%s, 'office', 'json', %s, 'json://127.0.0.1/hook') RETURNING target_id",
                [farms.a.farm_id, rec.url("json", "/hook?+Authorization=Bearer%20SECRET-T0KEN")],
            ).fetchone()
        assert row is not None
        target = int(row[0])
        listed = client.get(base, headers=owner)
        assert listed.status_code == 200 and [t["target_id"] for t in listed.json()] == [target]
        assert "SECRET-T0KEN" not in listed.text

        sent = client.post(f"{base}/{target}/test", headers=owner)
        assert sent.status_code == 200 and sent.json() == {"ok": True, "error": None}
        [request] = rec.wait_for(1)
        assert request.text.startswith("Pecus: test message for ")
        assert request.headers["authorization"] == "Bearer SECRET-T0KEN"
        failed = client.post(f"{base}/{target}/test", headers=owner)
        assert failed.json()["ok"] is False and "500" in failed.json()["error"]

        for role in ("farmer", "vet", "viewer"):
            assert client.get(base, headers=bearer(farms.a_users[role])).status_code == 403
            assert (
                client.post(f"{base}/{target}/test", headers=bearer(farms.a_users[role])).status_code == 403
            )
        other = f"/api/v1/farms/{farms.b.farm_id}/notification-targets"
        assert client.post(f"{base}/{farms.b_target_id}/test", headers=owner).status_code == 404
        assert client.post(f"{other}/{farms.b_target_id}/test", headers=owner).status_code == 404
        assert client.get(other, headers=owner).status_code == 404
    assert len(rec.requests) == 2


def test_owners_add_only_channels_a_server_should_use_and_set_a_digest(
    client: httpx.Client, farms: Farms
) -> None:
    base = f"/api/v1/farms/{farms.a.farm_id}"
    owner = bearer(farms.a_users["owner"])
    for url, reason in [
        ("windows://", "not accepted here"),
        ("json://127.0.0.1:9/hook", "loopback or private"),
        ("ntfy://169.254.169.254/latest", "loopback or private"),
    ]:
        r = client.post(f"{base}/notification-targets", headers=owner, json={"label": "x", "url": url})
        assert r.status_code == 422, (url, r.text)
        assert reason in error_of(r)["message"]
    assert client.get(f"{base}/notification-targets", headers=owner).json() == []

    r = client.patch(f"{base}/settings", headers=owner, json={"digest_hours": 6})
    assert r.status_code == 200 and r.json()["digest_hours"] == 6
    assert client.patch(f"{base}/settings", headers=owner, json={"digest_hours": 0}).status_code == 422
    r = client.patch(f"{base}/settings", headers=owner, json={"digest_hours": None})
    assert r.status_code == 200 and r.json()["digest_hours"] is None
