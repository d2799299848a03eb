"""Local sign-in against real PostgreSQL: passwords, tokens, refresh rotation, rate limiting, and
`pecus create-user`."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.local import (
    InvalidCredentials,
    InvalidRefreshToken,
    LocalAuth,
    RateLimited,
)
from pecus.cloud.auth.users import create_user
from pecus.cloud.auth.verify import InvalidToken, TokenVerifier
from pecus.cloud.farms import create_farm
from pecus.cloud.tenancy import make_pool, user_transaction

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"


def settings(**changes: object) -> AuthSettings:
    base = AuthSettings(
        mode="local", issuer="pecus-test", hs256_secret=b"s" * 40, jwks_url=None, login_max_failures=3
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=3)
    await p.open()
    yield p
    await p.close()


@pytest.fixture
def farm(db_url: str) -> uuid.UUID:
    with psycopg.connect(db_url) as conn:
        return create_farm(conn, f"Farm {uuid.uuid4().hex[:6]}", "Europe/Rome")


def new_user(db_url: str, farm: uuid.UUID, role: str = "farmer", password: str | None = PASSWORD) -> str:
    email = f"{uuid.uuid4().hex[:10]}@Example.test"
    with psycopg.connect(db_url) as conn:
        create_user(conn, email, str(farm), role, password)
    return email


async def test_sign_in_issues_supabase_shaped_tokens_that_work_under_rls(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = new_user(db_url, farm, "owner")
    auth = LocalAuth(pool, settings())
    session = await auth.login(email.upper(), PASSWORD, "127.0.0.1")  # e-mail is case-insensitive
    assert session.email == email.lower()
    assert session.expires_in == 900
    assert abs(session.expires_at - (time.time() + 900)) < 5
    claims = await TokenVerifier("pecus-test", b"s" * 40).verify(session.access_token)
    assert claims["sub"] == str(session.user_id)
    assert claims["aud"] == "authenticated" and claims["role"] == "authenticated"
    assert claims["email"] == email.lower()
    assert {"exp", "iat", "session_id", "app_metadata", "amr"} <= set(claims)
    async with user_transaction(pool, claims) as conn:
        cur = await conn.execute("SELECT tenant_id FROM tenants")
        assert [r[0] for r in await cur.fetchall()] == [farm]


async def test_tokens_of_another_issuer_or_secret_are_refused(pool: AsyncConnectionPool) -> None:
    auth = LocalAuth(pool, settings())
    token, _ = auth.access_token(uuid.uuid4(), "a@b.test", uuid.uuid4(), int(time.time()))
    with pytest.raises(InvalidToken, match="issued by someone else"):
        await TokenVerifier("another-issuer", b"s" * 40).verify(token)
    with pytest.raises(InvalidToken, match="Signature"):
        await TokenVerifier("pecus-test", b"t" * 40).verify(token)


async def test_wrong_password_and_unknown_user_look_the_same(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = new_user(db_url, farm)
    auth = LocalAuth(pool, settings())
    with pytest.raises(InvalidCredentials) as wrong:
        await auth.login(email, "not the password")
    with pytest.raises(InvalidCredentials) as unknown:
        await auth.login(f"nobody-{uuid.uuid4().hex}@example.test", PASSWORD)
    assert str(wrong.value) == str(unknown.value) == "wrong e-mail or password"


async def test_account_without_a_local_password_cannot_sign_in(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO auth.users (email) VALUES (%s)", [email])
    with pytest.raises(InvalidCredentials):
        await LocalAuth(pool, settings()).login(email, "")


async def test_failed_sign_ins_are_rate_limited_per_email(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email, other = new_user(db_url, farm), new_user(db_url, farm)
    auth = LocalAuth(pool, settings(login_max_failures=3, login_window_s=120))
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await auth.login(email, "guess", "10.0.0.1")
    with pytest.raises(RateLimited) as limited:
        await auth.login(email, PASSWORD, "10.0.0.1")  # even the right password waits
    assert 100 < limited.value.retry_after_s <= 120
    # Other people are not affected.
    assert (await auth.login(other, PASSWORD, "10.0.0.1")).email == other.lower()


async def test_rate_limit_window_slides_and_success_clears_failures(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = new_user(db_url, farm)
    auth = LocalAuth(pool, settings(login_max_failures=2, login_window_s=60))
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await auth.login(email, "guess")
    with pytest.raises(RateLimited):
        await auth.login(email, PASSWORD)
    # A minute passes (the attempts are dated back rather than the test sleeping a minute).
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "UPDATE private.login_attempts SET attempted_at = attempted_at - interval '61 seconds'"
            " WHERE bucket = %s",
            [f"email:{email.lower()}"],
        )
    await auth.login(email, PASSWORD)
    # The success cleared the count: two more failures are allowed before the limit.
    for _ in range(2):
        with pytest.raises(InvalidCredentials):
            await auth.login(email, "guess")
    with pytest.raises(RateLimited):
        await auth.login(email, "guess")


async def test_failed_sign_ins_are_rate_limited_per_client_address(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    client = f"10.9.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    auth = LocalAuth(pool, settings(login_max_failures=100, login_max_failures_per_ip=3))
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            await auth.login(f"{uuid.uuid4().hex}@example.test", "guess", client)
    with pytest.raises(RateLimited):
        await auth.login(new_user(db_url, farm), PASSWORD, client)
    await auth.login(new_user(db_url, farm), PASSWORD, "10.200.0.1")


async def test_refresh_rotates_and_logout_ends_the_session(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = new_user(db_url, farm)
    auth = LocalAuth(pool, settings())
    first = await auth.login(email, PASSWORD)
    second = await auth.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.user_id == first.user_id and second.email == email.lower()
    claims = await TokenVerifier("pecus-test", b"s" * 40).verify(second.access_token)
    assert claims["sub"] == str(first.user_id)
    with pytest.raises(InvalidRefreshToken, match="already used"):
        await auth.refresh(first.refresh_token)
    # A reuse inside the grace period (two tabs racing) does not close the session...
    third = await auth.refresh(second.refresh_token)
    await auth.logout(third.refresh_token)
    with pytest.raises(InvalidRefreshToken, match="already used"):
        await auth.refresh(third.refresh_token)
    with pytest.raises(InvalidRefreshToken, match="unknown"):
        await auth.refresh("made-up-token")
    await auth.logout("made-up-token")  # harmless


async def test_reusing_a_spent_refresh_token_closes_the_session(
    db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID
) -> None:
    email = new_user(db_url, farm)
    auth = LocalAuth(pool, settings(), reuse_grace_s=0)
    first = await auth.login(email, PASSWORD)
    second = await auth.refresh(first.refresh_token)
    elsewhere = await auth.login(email, PASSWORD)  # another device: a separate session
    with pytest.raises(InvalidRefreshToken, match="session is closed"):
        await auth.refresh(first.refresh_token)
    with pytest.raises(InvalidRefreshToken, match="already used"):
        await auth.refresh(second.refresh_token)  # the thief's and the owner's tokens both die
    await auth.refresh(elsewhere.refresh_token)


async def test_expired_refresh_token(db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID) -> None:
    email = new_user(db_url, farm)
    auth = LocalAuth(pool, settings(refresh_token_s=1))
    session = await auth.login(email, PASSWORD)
    time.sleep(1.1)
    with pytest.raises(InvalidRefreshToken, match="expired"):
        await auth.refresh(session.refresh_token)


def run_cli(db_url: str, *args: str, mode: str = "local") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "PECUS_AUTH_MODE": mode}
    return subprocess.run(
        [sys.executable, "-m", "pecus.cli", "create-user", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_create_user_command(db_url: str, pool: AsyncConnectionPool, farm: uuid.UUID) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.test"
    done = run_cli(db_url, "--email", email, "--farm", str(farm), "--role", "vet", "--password", PASSWORD)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "created user" in done.stdout
    session = await LocalAuth(pool, settings()).login(email, PASSWORD)
    with psycopg.connect(db_url) as conn:
        row = conn.execute(
            "SELECT u.encrypted_password, m.role FROM auth.users u JOIN memberships m ON m.user_id = u.id"
            " WHERE u.id = %s",
            [session.user_id],
        ).fetchone()
        farm_name = conn.execute("SELECT name FROM tenants WHERE tenant_id = %s", [farm]).fetchone()
    assert row is not None and row[0].startswith("$argon2id$") and row[1] == "vet"
    assert farm_name is not None

    # Same person, by farm name, new role, no password: role changes, password stays.
    done = run_cli(db_url, "--email", email.upper(), "--farm", farm_name[0], "--role", "owner")
    assert done.returncode == 0, done.stderr + done.stdout
    assert "updated user" in done.stdout and "password" not in done.stdout
    await LocalAuth(pool, settings()).login(email, PASSWORD)

    # A new account without --password gets a generated one, shown once.
    other = f"{uuid.uuid4().hex[:8]}@example.test"
    done = run_cli(db_url, "--email", other, "--farm", str(farm), "--role", "viewer")
    assert done.returncode == 0, done.stderr + done.stdout
    generated = done.stdout.split("password (shown once):")[1].split()[0]
    await LocalAuth(pool, settings()).login(other, generated)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--email", "x@example.test", "--farm", "{farm}", "--role", "boss"], "role must be one of"),
        (["--email", "not-an-email", "--farm", "{farm}", "--role", "vet"], "is not an e-mail"),
        (
            ["--email", "x@example.test", "--farm", "{farm}", "--role", "vet", "--password", "short"],
            "8 characters",
        ),
        (["--email", "x@example.test", "--farm", "No Such Farm", "--role", "vet"], "no farm with id or name"),
        (["--email", "x@example.test", "--farm", str(uuid.uuid4()), "--role", "vet"], "no farm with id"),
    ],
)
def test_create_user_rejects_bad_input(db_url: str, farm: uuid.UUID, args: list[str], message: str) -> None:
    with psycopg.connect(db_url) as conn:
        before = conn.execute("SELECT count(*) FROM auth.users").fetchone()
    done = run_cli(db_url, *[a.replace("{farm}", str(farm)) for a in args])
    assert done.returncode == 2
    assert message in " ".join(done.stdout.split())
    with psycopg.connect(db_url) as conn:
        assert conn.execute("SELECT count(*) FROM auth.users").fetchone() == before


def test_create_user_in_supabase_mode_needs_an_existing_account(db_url: str, farm: uuid.UUID) -> None:
    email = f"{uuid.uuid4().hex[:8]}@example.test"
    done = run_cli(db_url, "--email", email, "--farm", str(farm), "--role", "vet", mode="supabase")
    assert done.returncode == 2
    assert "create it there first" in " ".join(done.stdout.split())
    with psycopg.connect(db_url) as conn:
        conn.execute("INSERT INTO auth.users (email) VALUES (%s)", [email])
    done = run_cli(db_url, "--email", email, "--farm", str(farm), "--role", "vet", mode="supabase")
    assert done.returncode == 0, done.stdout
