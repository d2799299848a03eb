"""A user of farm A cannot see or touch farm B through any endpoint: explicit requests for every
endpoint, then schemathesis exploring the OpenAPI spec with a farm-A owner's token."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from pecus.cloud.app import create_app
from tests.dashboard.conftest import AUTH, Farms, bearer, error_of, make_farms, snapshot_farm


def farm_b_requests(f: Farms) -> list[tuple[str, str, Any]]:
    """Every user endpoint, aimed at farm B or at farm B's things through farm A."""
    a, b = f"/api/v1/farms/{f.a.farm_id}", f"/api/v1/farms/{f.b.farm_id}"
    return [
        ("GET", f"{b}/overview", None),
        ("GET", f"{b}/cows", None),
        ("GET", f"{b}/cows/{f.b_cow}/series", None),
        ("GET", f"{b}/cows/41/series", None),
        ("GET", f"{b}/settings", None),
        ("PATCH", f"{b}/settings", {"alert_threshold": 0.1}),
        ("POST", f"{b}/notification-targets", {"url": "json://127.0.0.1:9/x"}),
        ("DELETE", f"{b}/notification-targets/{f.b_target_id}", None),
        ("GET", f"{b}/agent-keys", None),
        ("POST", f"{b}/agent-keys", {"label": "stolen"}),
        ("DELETE", f"{b}/agent-keys/{f.b_key_id}", None),
        ("GET", f"{b}/members", None),
        ("POST", f"{b}/members", {"email": f.a_emails["viewer"], "role": "owner"}),
        ("PATCH", f"{b}/members/{f.owner_b}", {"role": "viewer"}),
        ("DELETE", f"{b}/members/{f.owner_b}", None),
        ("GET", f"{b}/alerts", None),
        ("GET", f"{b}/alerts/{f.b_alert_id}", None),
        ("PATCH", f"{b}/alerts/{f.b_alert_id}", {"status": "false_positive"}),
        ("GET", f"{b}/notification-targets", None),
        ("POST", f"{b}/notification-targets/{f.b_target_id}/test", None),
        # Farm B's things addressed through farm A:
        ("GET", f"{a}/cows/{f.b_cow}/series", None),
        ("DELETE", f"{a}/notification-targets/{f.b_target_id}", None),
        ("DELETE", f"{a}/agent-keys/{f.b_key_id}", None),
        ("PATCH", f"{a}/members/{f.owner_b}", {"role": "viewer"}),
        ("DELETE", f"{a}/members/{f.owner_b}", None),
        ("GET", f"{a}/alerts/{f.b_alert_id}", None),
        ("PATCH", f"{a}/alerts/{f.b_alert_id}", {"status": "false_positive"}),
        ("POST", f"{a}/notification-targets/{f.b_target_id}/test", None),
    ]


@pytest.mark.parametrize("role", ["owner", "vet", "viewer"])
def test_every_endpoint_answers_404_for_farm_b(
    db_url: str, client: httpx.Client, farms: Farms, role: str
) -> None:
    before = snapshot_farm(db_url, farms.b.farm_id)
    headers = bearer(farms.a_users[role])
    own_farm = f"/api/v1/farms/{farms.a.farm_id}/"
    for method, path, body in farm_b_requests(farms):
        r = client.request(method, path, json=body, headers=headers)
        # On their own farm, a non-owner learns only that they may not change things there (farm
        # administration); an alert of farm B is simply not there, whoever asks.
        owner_only = path.startswith(own_farm) and method != "GET" and "/alerts/" not in path
        expected = 403 if owner_only and role != "owner" else 404
        assert r.status_code == expected, (role, method, path, r.status_code, r.text)
        assert error_of(r)["code"] == ("not_found" if expected == 404 else "forbidden")
        for marker in farms.b_markers:
            assert marker not in r.text, (method, path, marker)
    me = client.get("/api/v1/me", headers=headers)
    assert [f["farm_id"] for f in me.json()["farms"]] == [str(farms.a.farm_id)]
    assert snapshot_farm(db_url, farms.b.farm_id) == before


def test_someone_without_farms_sees_nothing(client: httpx.Client, farms: Farms) -> None:
    headers = bearer(farms.outsider)
    assert client.get("/api/v1/me", headers=headers).json()["farms"] == []
    for farm in (farms.a.farm_id, farms.b.farm_id, uuid.uuid4()):
        for path in ("overview", "cows", "cows/41/series", "settings", "members", "agent-keys"):
            assert client.get(f"/api/v1/farms/{farm}/{path}", headers=headers).status_code == 404


def test_a_vet_of_both_farms_sees_each(client: httpx.Client, farms: Farms) -> None:
    headers = bearer(farms.vet_ab)
    for farm in (farms.a.farm_id, farms.b.farm_id):
        assert client.get(f"/api/v1/farms/{farm}/overview", headers=headers).status_code == 200
    series = client.get(f"/api/v1/farms/{farms.b.farm_id}/cows/{farms.b_cow}/series", headers=headers)
    assert series.status_code == 200 and series.json()["animal_id"] == farms.b_cow
    assert client.get(f"/api/v1/farms/{farms.b.farm_id}/agent-keys", headers=headers).status_code == 403


# --- schemathesis --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_farms(db_url: str) -> Farms:
    return make_farms(db_url)


# The spec of the app as served (building the app touches no database); the user-facing part of it:
# agent sync and sign-in have their own tests.
schema = schemathesis.openapi.from_dict(
    create_app("postgresql://unused", auth_settings=AUTH).openapi()
).include(path_regex="^/api/v1/(me|farms/)")


@schema.parametrize()
@settings(max_examples=12, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_fuzzing_as_farm_a_never_reveals_farm_b(
    case: schemathesis.Case, dash_url: str, module_farms: Farms
) -> None:
    f = module_farms
    case.headers = {**(case.headers or {}), **bearer(f.a_users["owner"])}  # instead of a generated one
    targets = (
        [f.a.farm_id, f.b.farm_id] if case.path_parameters and "farm_id" in case.path_parameters else [None]
    )
    for farm in targets:
        if farm is not None:
            assert case.path_parameters is not None
            case.path_parameters["farm_id"] = str(farm)
        response = case.call(base_url=dash_url)
        assert response.status_code < 500, (case.method, case.formatted_path, case.body, response.text)
        for marker in f.b_markers:
            assert marker not in response.text, (case.method, case.formatted_path, marker)
        if farm == f.b.farm_id:
            # Never a success, never "forbidden" (which would confirm the farm exists): "not found", or a
            # refusal of a request malformed in itself (body, method, parameter).
            assert response.status_code in (400, 404, 405, 415, 422), (
                case.method,
                case.formatted_path,
                response.status_code,
            )
