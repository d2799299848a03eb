"""Farm settings, notification targets, agent keys and members over real HTTP, by role."""

from __future__ import annotations

import uuid

import httpx
import psycopg
import pytest

from tests.dashboard.conftest import Farms, bearer, error_of, snapshot_farm

OWNER_ONLY = [
    ("PATCH", "/settings", {"alert_threshold": 0.5}),
    ("POST", "/notification-targets", {"label": "x", "url": "json://127.0.0.1:9/x"}),
    ("GET", "/agent-keys", None),
    ("POST", "/agent-keys", {"label": "x"}),
    ("POST", "/members", {"email": "x@example.test", "role": "viewer"}),
]


@pytest.mark.parametrize("role", ["farmer", "vet", "viewer"])
def test_only_owners_manage_the_farm(db_url: str, client: httpx.Client, farms: Farms, role: str) -> None:
    before = snapshot_farm(db_url, farms.a.farm_id)
    base = f"/api/v1/farms/{farms.a.farm_id}"
    headers = bearer(farms.a_users[role])
    owner = farms.a_users["owner"]
    for method, path, body in [
        *OWNER_ONLY,
        ("PATCH", f"/members/{owner}", {"role": "viewer"}),
        ("DELETE", f"/members/{owner}", None),
    ]:
        r = client.request(method, base + path, json=body, headers=headers)
        assert r.status_code == 403, (role, method, path, r.text)
        assert error_of(r)["code"] == "forbidden"
    # Reading settings and members is for every member; targets stay hidden from non-owners.
    settings = client.get(base + "/settings", headers=headers)
    assert settings.status_code == 200 and settings.json()["notification_targets"] == []
    assert client.get(base + "/members", headers=headers).status_code == 200
    assert snapshot_farm(db_url, farms.a.farm_id) == before


def test_settings(db_url: str, client: httpx.Client, farms: Farms) -> None:
    url = f"/api/v1/farms/{farms.a.farm_id}/settings"
    headers = bearer(farms.a_users["owner"])
    r = client.patch(
        url,
        headers=headers,
        json={"alert_threshold": 0.6, "critical_threshold": 0.85, "quiet_hours_start": "22:00",
              "quiet_hours_end": "05:30", "stale_after_minutes": 120},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    expected = {"alert_threshold": pytest.approx(0.6), "critical_threshold": pytest.approx(0.85),
                "quiet_hours_start": "22:00:00", "quiet_hours_end": "05:30:00"}  # fmt: skip
    assert {k: r.json()[k] for k in expected} == expected
    assert client.get(url, headers=headers).json()["stale_after_minutes"] == 120

    before = snapshot_farm(db_url, farms.a.farm_id)
    for body, field in [
        ({"critical_threshold": 0.5}, "critical_threshold"),  # below the alert threshold
        ({"quiet_hours_end": None}, "quiet_hours_end"),  # half of the quiet hours
        ({"alert_threshold": 1.5}, "alert_threshold"),
        ({"stale_after_minutes": 0}, "stale_after_minutes"),
        ({"name": None}, "name"),
        ({"stale_after_minutes": None}, "stale_after_minutes"),
        ({"name": "Farm\x00"}, "name"),  # PostgreSQL text cannot hold NUL
        (
            {"quiet_hours_start": "22:00+02:00", "quiet_hours_end": "05:00"},
            "quiet_hours_start",
        ),  # local times
        ({"alert_threshold": 1e-320}, "alert_threshold"),
        ({"alert_treshold": 0.5}, "alert_treshold"),  # a misspelt setting is not silently ignored
    ]:
        r = client.patch(url, headers=headers, json=body)
        assert r.status_code == 422, (body, r.text)
        assert [d["field"] for d in error_of(r)["details"]] == [field], body
    assert snapshot_farm(db_url, farms.a.farm_id) == before
    cleared = client.patch(url, headers=headers, json={"quiet_hours_start": None, "quiet_hours_end": None})
    assert cleared.status_code == 200 and cleared.json()["quiet_hours_start"] is None


def test_notification_targets_are_never_shown_in_full(
    db_url: str, client: httpx.Client, farms: Farms
) -> None:
    url = f"/api/v1/farms/{farms.a.farm_id}/notification-targets"
    headers = bearer(farms.a_users["owner"])
    secret = "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    r = client.post(
        url, headers=headers, json={"label": "Mario's phone", "url": f"tgram://123456789:{secret}/987"}
    )
    assert r.status_code == 201, r.text
    target = r.json()
    assert target["scheme"] == "tgram" and secret not in target["masked_url"]
    assert target["masked_url"].startswith("tgram://")
    settings = client.get(f"/api/v1/farms/{farms.a.farm_id}/settings", headers=headers)
    assert settings.json()["notification_targets"] == [target]
    assert secret not in settings.text
    with psycopg.connect(db_url) as conn:  # the dispatcher still has the real URL
        stored = conn.execute(
            "SELECT apprise_url FROM notification_targets WHERE target_id = %s", [target["target_id"]]
        )
        assert stored.fetchone() == (f"tgram://123456789:{secret}/987",)

    bad = client.post(url, headers=headers, json={"url": "whatever://nothing"})
    assert bad.status_code == 422 and error_of(bad)["details"][0]["field"] == "url"
    assert client.delete(f"{url}/{target['target_id']}", headers=headers).status_code == 204
    again = client.delete(f"{url}/{target['target_id']}", headers=headers)
    assert again.status_code == 404
    assert (
        client.get(f"/api/v1/farms/{farms.a.farm_id}/settings", headers=headers).json()[
            "notification_targets"
        ]
        == []
    )


def test_the_database_refuses_to_show_target_urls_to_api_roles(db_url: str, farms: Farms) -> None:
    """Column privileges: even an owner's own SQL cannot read the full URL back."""
    with psycopg.connect(db_url) as conn, conn.transaction():
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true)",
            [f'{{"sub": "{farms.owner_b}", "role": "authenticated"}}'],
        )
        conn.execute("SET LOCAL ROLE authenticated")
        assert conn.execute("SELECT count(masked_url) FROM notification_targets").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT apprise_url FROM notification_targets")


def test_agent_keys_created_shown_once_and_revoked(client: httpx.Client, dash_url: str, farms: Farms) -> None:
    url = f"/api/v1/farms/{farms.a.farm_id}/agent-keys"
    headers = bearer(farms.a_users["owner"])
    r = client.post(url, headers=headers, json={"label": "barn PC"})
    assert r.status_code == 201, r.text
    created = r.json()
    secret = created["secret"]
    assert secret.startswith(created["key_prefix"]) and created["revoked_at"] is None
    listed = client.get(url, headers=headers)
    assert [k["key_id"] for k in listed.json()] == [created["key_id"]]
    assert secret not in listed.text and "secret" not in listed.json()[0]

    # The key works for the agent's handshake, until it is revoked.
    status = {"farm_id": str(farms.a.farm_id), "source": "delpro"}
    agent = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/sync/status", params=status, headers=agent).status_code == 200
    revoked = client.delete(f"{url}/{created['key_id']}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = client.get("/api/v1/sync/status", params=status, headers=agent)
    assert refused.status_code == 401 and error_of(refused)["code"] == "revoked_key"
    assert client.delete(f"{url}/{uuid.uuid4()}", headers=headers).status_code == 404


def test_members(db_url: str, client: httpx.Client, farms: Farms) -> None:
    base = f"/api/v1/farms/{farms.a.farm_id}/members"
    owner = farms.a_users["owner"]
    headers = bearer(owner)
    members = client.get(base, headers=headers).json()
    assert {(m["email"], m["role"]) for m in members} >= {(farms.a_emails["viewer"], "viewer")}

    newcomer = f"new-{uuid.uuid4().hex[:6]}@example.test"
    with psycopg.connect(db_url) as conn:
        row = conn.execute("INSERT INTO auth.users (email) VALUES (%s) RETURNING id", [newcomer]).fetchone()
    assert row is not None
    r = client.post(base, headers=headers, json={"email": newcomer.upper(), "role": "vet"})
    assert r.status_code == 201, r.text
    assert (r.json()["user_id"], r.json()["email"], r.json()["role"]) == (str(row[0]), newcomer, "vet")
    dup = client.post(base, headers=headers, json={"email": newcomer, "role": "viewer"})
    assert dup.status_code == 409 and error_of(dup)["code"] == "already_member"
    nobody = client.post(base, headers=headers, json={"email": "nobody@nowhere.test", "role": "vet"})
    assert nobody.status_code == 404 and error_of(nobody)["code"] == "account_not_found"
    bad_role = client.post(base, headers=headers, json={"email": newcomer, "role": "king"})
    assert bad_role.status_code == 422 and error_of(bad_role)["details"][0]["field"] == "role"

    promoted = client.patch(f"{base}/{row[0]}", headers=headers, json={"role": "farmer"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "farmer"
    # The newcomer sees the farm; once removed, it is gone for them (404, not 403).
    assert client.get(f"/api/v1/farms/{farms.a.farm_id}/overview", headers=bearer(row[0])).status_code == 200
    assert client.delete(f"{base}/{row[0]}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/farms/{farms.a.farm_id}/overview", headers=bearer(row[0])).status_code == 404
    assert client.get("/api/v1/me", headers=bearer(row[0])).json()["farms"] == []
    assert client.delete(f"{base}/{row[0]}", headers=headers).status_code == 404


def test_a_farm_keeps_an_owner(client: httpx.Client, farms: Farms) -> None:
    base = f"/api/v1/farms/{farms.a.farm_id}/members"
    owner, viewer = farms.a_users["owner"], farms.a_users["viewer"]
    for method, body in (("PATCH", {"role": "vet"}), ("DELETE", None)):
        r = client.request(method, f"{base}/{owner}", json=body, headers=bearer(owner))
        assert r.status_code == 409 and error_of(r)["code"] == "last_owner"
    # With a second owner, the first may step down.
    assert client.patch(f"{base}/{viewer}", json={"role": "owner"}, headers=bearer(owner)).status_code == 200
    r = client.patch(f"{base}/{owner}", json={"role": "viewer"}, headers=bearer(owner))
    assert r.status_code == 200 and r.json()["role"] == "viewer"
    assert client.get(f"{base}", headers=bearer(owner)).status_code == 200
    assert (
        client.post(base, json={"email": "a@b.test", "role": "vet"}, headers=bearer(owner)).status_code == 403
    )
