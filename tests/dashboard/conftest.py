"""The dashboard API served for real (`pecus serve` subprocess, local sign-in) over two farms:
A (the caller's) and B (someone else's, full of data that must never show)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from pecus.cloud.agent_keys import create_agent_key
from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.local import access_token
from tests.support.api import running_api
from tests.support.herd import Herd, add_alert, add_score, copy_sessions, new_herd, random_milkings
from tests.support.seed import add_member, create_user

AUTH_ENV = {
    "PECUS_AUTH_MODE": "local",
    "PECUS_JWT_SECRET": "dashboard-tests-signing-secret-0123456789",
    "PECUS_JWT_ISSUER": "pecus-test",
    "PECUS_LOGIN_MAX_FAILURES": "3",
    "PECUS_CORS_ORIGINS": "https://dashboard.example, http://localhost:5173",
}
AUTH = AuthSettings.from_env(AUTH_ENV)
ROLES = ("owner", "farmer", "vet", "viewer")


def token_for(user: uuid.UUID, email: str = "someone@example.test") -> str:
    return access_token(AUTH, user, email, uuid.uuid4(), int(time.time()))[0]


def bearer(user: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


@pytest.fixture(scope="session")
def dash_url(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("pecus-home")
    with running_api(db_url, {**AUTH_ENV, "PECUS_HOME": str(home)}) as url:
        yield url


@pytest.fixture
def client(dash_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dash_url, timeout=30) as c:
        yield c


@dataclass
class Farms:
    a: Herd
    b: Herd
    a_users: dict[str, uuid.UUID]
    a_emails: dict[str, str]
    owner_b: uuid.UUID
    vet_ab: uuid.UUID
    outsider: uuid.UUID
    b_key_id: uuid.UUID
    b_target_id: int
    b_alert_id: int
    b_cow: str
    b_markers: list[str] = field(default_factory=list)
    """Strings only farm B's data contains: none may appear in an answer to a farm-A user."""


def _email(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}@example.test"


@pytest.fixture
def farms(db_url: str) -> Farms:
    """Two fresh farms for this test (which may change them)."""
    return make_farms(db_url)


def make_farms(db_url: str) -> Farms:
    """Two farms with milkings, alerts, keys, targets and people."""
    with psycopg.connect(db_url) as conn:
        a = new_herd(conn, "Europe/Rome", f"A {uuid.uuid4().hex[:6]}")
        b = new_herd(conn, "America/Chicago", f"B {uuid.uuid4().hex[:6]}")
        copy_sessions(conn, a, random_milkings(a, ["1", "2", "3", "41"], days=3, seed=5))
        b_cow = f"Bcow{uuid.uuid4().hex[:6]}"
        copy_sessions(conn, b, random_milkings(b, [b_cow, "41"], days=3, seed=6))
        add_alert(conn, a, a.sessions[-1], 0.8)
        add_score(conn, a, a.sessions[-1], 0.8)  # the milking that raised the alert
        quiet = next(x for x in reversed(a.sessions) if x["animal_id"] != a.sessions[-1]["animal_id"])
        add_score(conn, a, quiet, 0.3)  # another cow's latest milking
        b_alert = add_alert(conn, b, b.sessions[-1], 0.95, "critical")
        a_emails = {role: _email(role) for role in ROLES}
        a_users = {role: create_user(conn, a_emails[role]) for role in ROLES}
        for role, user in a_users.items():
            add_member(conn, a.farm_id, user, role)
        owner_b, vet_ab, outsider = create_user(conn, _email("ownerb")), create_user(conn), create_user(conn)
        add_member(conn, b.farm_id, owner_b, "owner")
        add_member(conn, a.farm_id, vet_ab, "vet")
        add_member(conn, b.farm_id, vet_ab, "vet")
        key = create_agent_key(conn, b.farm_id, "b-key")
        b_label = f"Btarget{uuid.uuid4().hex[:6]}"
        row = conn.execute(
            "INSERT INTO notification_targets (tenant_id, label, scheme, apprise_url, masked_url)"
            " VALUES (%s, %s, 'tgram', 'tgram://123456:SECRETTOKEN/987', 'tgram://1...N/987')"
            " RETURNING target_id",
            [b.farm_id, b_label],
        ).fetchone()
        assert row is not None
        b_email = conn.execute("SELECT email FROM auth.users WHERE id = %s", [owner_b]).fetchone()
        assert b_email is not None
    markers = [str(b.farm_id), str(owner_b), b_email[0], str(key.key_id), key.display_prefix, b_cow, b_label]
    markers.append("SECRETTOKEN")
    return Farms(a, b, a_users, a_emails, owner_b, vet_ab, outsider, key.key_id, int(row[0]), b_alert, b_cow,
                 markers)  # fmt: skip


def snapshot_farm(db_url: str, farm: uuid.UUID) -> dict[str, Any]:
    """Every row of a farm, to show a request changed nothing."""
    tables = ["tenants", "memberships", "agent_keys", "notification_targets", "alerts", "animals",
              "milking_sessions", "cow_daily", "herd_daily", "sources", "milking_units"]  # fmt: skip
    with psycopg.connect(db_url) as conn:
        return {
            t: sorted(map(repr, conn.execute(f"SELECT * FROM {t} WHERE tenant_id = %s", [farm])))
            for t in tables
        }


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object of a response, checking it has the stable shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    return error
