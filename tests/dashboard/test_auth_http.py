"""Sign-in and token checks over real HTTP: local mode, and Supabase mode against a local JWKS server."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import httpx
import jwt
import psycopg
import pytest

from pecus.cloud.auth.users import create_user
from tests.dashboard.conftest import AUTH, Farms, bearer, error_of, token_for
from tests.support.api import running_api
from tests.support.jwks_server import JwksServer, jwks_server
from tests.support.tokens import ec_key, hand_made_token, rsa_key, user_claims

PASSWORD = "milking at five"


def account(db_url: str, farm: uuid.UUID, role: str = "farmer") -> str:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    with psycopg.connect(db_url) as conn:
        create_user(conn, email, str(farm), role, PASSWORD)
    return email


def test_sign_in_me_refresh_sign_out(db_url: str, client: httpx.Client, farms: Farms) -> None:
    email = account(db_url, farms.a.farm_id, "vet")
    r = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    session = r.json()
    assert set(session) == {"access_token", "token_type", "expires_in", "expires_at", "refresh_token", "user"}
    assert session["token_type"] == "bearer" and session["user"]["email"] == email
    claims = jwt.decode(session["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["role"], claims["iss"], claims["email"]) == (
        "authenticated", "authenticated", "pecus-test", email
    )  # fmt: skip

    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {session['access_token']}"})
    assert me.status_code == 200, me.text
    assert me.json()["farms"] == [
        {"farm_id": str(farms.a.farm_id), "name": me.json()["farms"][0]["name"], "time_zone": "Europe/Rome",
         "role": "vet"}
    ]  # fmt: skip

    r = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert r.status_code == 200, r.text
    renewed = r.json()
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {renewed['access_token']}"}).status_code
        == 200
    )
    spent = client.post("/api/v1/auth/refresh", json={"refresh_token": session["refresh_token"]})
    assert spent.status_code == 401 and error_of(spent)["code"] == "invalid_refresh_token"

    assert (
        client.post("/api/v1/auth/logout", json={"refresh_token": renewed["refresh_token"]}).status_code
        == 204
    )
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": renewed["refresh_token"]})
    assert after.status_code == 401 and error_of(after)["code"] == "invalid_refresh_token"


def test_wrong_password_unknown_user_and_rate_limit(db_url: str, client: httpx.Client, farms: Farms) -> None:
    email = account(db_url, farms.a.farm_id)
    wrong = client.post("/api/v1/auth/login", json={"email": email, "password": "nope"})
    unknown = client.post("/api/v1/auth/login", json={"email": f"x{email}", "password": PASSWORD})
    assert wrong.status_code == unknown.status_code == 401
    assert error_of(wrong) == error_of(unknown) == {
        "code": "invalid_credentials", "message": "wrong e-mail or password", "details": []
    }  # fmt: skip
    for _ in range(2):  # PECUS_LOGIN_MAX_FAILURES=3 on this server
        assert client.post("/api/v1/auth/login", json={"email": email, "password": "nope"}).status_code == 401
    limited = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 900


def test_login_body_is_validated(client: httpx.Client) -> None:
    r = client.post("/api/v1/auth/login", json={"email": "a@b.test"})
    assert r.status_code == 422
    assert [d["field"] for d in error_of(r)["details"]] == ["password"]


@pytest.mark.parametrize(
    "path", ["/api/v1/me", "/api/v1/farms/{farm}/overview", "/api/v1/farms/{farm}/cows",
             "/api/v1/farms/{farm}/cows/1/series", "/api/v1/farms/{farm}/settings",
             "/api/v1/farms/{farm}/agent-keys", "/api/v1/farms/{farm}/members"],
)  # fmt: skip
def test_every_user_endpoint_needs_a_valid_token(client: httpx.Client, farms: Farms, path: str) -> None:
    url = path.format(farm=farms.a.farm_id)
    owner = farms.a_users["owner"]
    assert client.get(url, headers=bearer(owner)).status_code == 200
    missing = client.get(url)
    assert missing.status_code == 401 and error_of(missing)["code"] == "missing_token"
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    expired = jwt.encode(
        {**user_claims(AUTH.issuer, owner), "exp": int(time.time()) - 120},
        AUTH.hs256_secret,
        algorithm="HS256",
    )
    forged = jwt.encode(
        user_claims(AUTH.issuer, owner), "another-secret-of-at-least-32-bytes!", algorithm="HS256"
    )
    none_alg = hand_made_token({"alg": "none"}, user_claims(AUTH.issuer, owner), None)
    other_issuer = jwt.encode(user_claims("https://x.supabase.co/auth/v1", owner), AUTH.hs256_secret, "HS256")
    for token in (expired, forged, none_alg, other_issuer, "garbage"):
        r = client.get(url, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401, (token, r.text)
        assert error_of(r)["code"] == "invalid_token"


@pytest.fixture
def supabase_api(db_url: str) -> Iterator[tuple[str, JwksServer]]:
    key = rsa_key("project-key-1")
    with jwks_server([key.public_jwk]) as server:
        server.signing_key = key  # type: ignore[attr-defined]
        env = {
            "PECUS_AUTH_MODE": "supabase",
            "SUPABASE_URL": server.url,
            "PECUS_JWKS_MIN_REFETCH_SECONDS": "1",
        }
        with running_api(db_url, env) as url:
            yield url, server


def test_supabase_mode(supabase_api: tuple[str, JwksServer], farms: Farms) -> None:
    url, server = supabase_api
    issuer = f"{server.url}/auth/v1"
    owner = farms.a_users["owner"]
    key = server.signing_key  # type: ignore[attr-defined]
    with httpx.Client(base_url=url, timeout=30) as client:
        assert client.get("/api/v1/auth/config").json() == {"mode": "supabase", "supabase_url": server.url}
        assert (
            client.post("/api/v1/auth/login", json={"email": "a@b.test", "password": "x"}).status_code == 404
        )

        def me(token: str) -> httpx.Response:
            return client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})

        r = me(key.sign(user_claims(issuer, owner)))
        assert r.status_code == 200, r.text
        assert r.json()["farms"][0]["farm_id"] == str(farms.a.farm_id)
        # Our own local tokens mean nothing here, nor does an HS256 token keyed with the public key.
        assert me(token_for(owner)).status_code == 401
        confused = hand_made_token(
            {"alg": "HS256", "kid": key.kid}, user_claims(issuer, owner), key.public_pem
        )
        assert error_of(me(confused))["message"] == "HS256 tokens are not accepted here"
        assert me(key.sign(user_claims(issuer, owner, aud="anon"))).status_code == 401

        # Key rotation: a token with a new kid makes the API fetch the JWKS again.
        time.sleep(1.1)  # the API's least time between fetches for unknown kids
        rotated = ec_key("project-key-2")
        server.keys.append(rotated.public_jwk)
        fetched = server.requests
        assert me(rotated.sign(user_claims(issuer, owner))).status_code == 200
        assert server.requests == fetched + 1

        # Supabase unreachable and a key we do not have: 503, not a silent 401.
        server.stop()
        time.sleep(1.1)
        r = me(ec_key("project-key-3").sign(user_claims(issuer, owner)))
        assert r.status_code == 503 and error_of(r)["code"] == "auth_unavailable"
        # Keys already fetched keep working meanwhile.
        assert me(rotated.sign(user_claims(issuer, owner))).status_code == 200


def test_the_dashboards_origin_may_call_the_api(client: httpx.Client, farms: Farms) -> None:
    preflight = {"Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"}
    ok = client.options("/api/v1/me", headers={"Origin": "https://dashboard.example", **preflight})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://dashboard.example"
    assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
    other = client.options("/api/v1/me", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400 and "Access-Control-Allow-Origin" not in other.headers
    r = client.get(
        "/api/v1/me", headers={"Origin": "http://localhost:5173", **bearer(farms.a_users["viewer"])}
    )
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
