"""Local sign-in: e-mail + password → an access token shaped like Supabase's, and a refresh token.

Runs as the API's own database role: signing someone in happens before there is a user identity
to run under, and `auth.users` and `private.*` are out of reach of the API roles on purpose.
Nothing here reads farm data.

Refresh tokens are 256-bit random strings, stored as SHA-256, valid once: a refresh returns a
new pair and spends the old token. A spent token presented again after `REUSE_GRACE_S` means it
was copied, so the whole session (every token descended from that sign-in) is revoked.

Failed sign-ins are limited per e-mail and per client address over a sliding window, counted in
PostgreSQL so every API instance sees the same count. An attempt is recorded before the password
is checked (parallel guesses all count) and removed once it turns out to be right.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from anyio import to_thread
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.passwords import hash_password, needs_rehash, verify_password
from pecus.cloud.auth.verify import AUDIENCE
from pecus.cloud.tenancy import service_transaction

log = logging.getLogger(__name__)

REUSE_GRACE_S = 10
"""Two browser tabs refreshing at the same moment present the same token: not a theft."""


# Spends a live token; returns who it belongs to and when that session signed in.
_SPEND_REFRESH_TOKEN = """
UPDATE private.refresh_tokens t SET revoked_at = now()
FROM auth.users u
WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > now() AND u.id = t.user_id
RETURNING t.user_id, t.session_id, u.email,
    (SELECT extract(epoch FROM min(f.created_at)) FROM private.refresh_tokens f
     WHERE f.session_id = t.session_id)
"""


class InvalidCredentials(Exception):
    """Wrong e-mail or password (deliberately not saying which)."""


class RateLimited(Exception):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


class InvalidRefreshToken(Exception):
    pass


@dataclass(frozen=True)
class IssuedSession:
    access_token: str
    expires_in: int
    expires_at: int
    refresh_token: str
    user_id: uuid.UUID
    email: str | None


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def access_token(
    settings: AuthSettings, user_id: uuid.UUID, email: str | None, session_id: uuid.UUID, signed_in_at: int
) -> tuple[str, int]:
    """A token with the claims Supabase Auth puts in its access tokens; returns it and its expiry."""
    if settings.hs256_secret is None:
        raise ValueError("local sign-in needs a signing secret")
    now = int(time.time())
    exp = now + settings.access_token_s
    claims = {
        "iss": settings.issuer,
        "sub": str(user_id),
        "aud": AUDIENCE,
        "exp": exp,
        "iat": now,
        "email": email or "",
        "phone": "",
        "role": "authenticated",
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": {},
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": signed_in_at}],
        "session_id": str(session_id),
        "is_anonymous": False,
    }
    return jwt.encode(claims, settings.hs256_secret, algorithm="HS256"), exp


class LocalAuth:
    def __init__(
        self, pool: AsyncConnectionPool, settings: AuthSettings, *, reuse_grace_s: float = REUSE_GRACE_S
    ) -> None:
        if settings.hs256_secret is None:
            raise ValueError("local sign-in needs a signing secret")
        self.pool = pool
        self.settings = settings
        self.reuse_grace_s = reuse_grace_s

    def access_token(
        self, user_id: uuid.UUID, email: str | None, session_id: uuid.UUID, signed_in_at: int
    ) -> tuple[str, int]:
        return access_token(self.settings, user_id, email, session_id, signed_in_at)

    async def _new_refresh_token(
        self, conn: AsyncConnection[Any], user_id: uuid.UUID, session_id: uuid.UUID
    ) -> str:
        token = secrets.token_urlsafe(32)
        await conn.execute(
            "INSERT INTO private.refresh_tokens (token_hash, user_id, session_id, expires_at)"
            " VALUES (%s, %s, %s, now() + make_interval(secs => %s))",
            [_token_hash(token), user_id, session_id, self.settings.refresh_token_s],
        )
        return token

    def _session(
        self, user_id: uuid.UUID, email: str | None, session_id: uuid.UUID, refresh: str, signed_in_at: int
    ) -> IssuedSession:
        access, exp = self.access_token(user_id, email, session_id, signed_in_at)
        return IssuedSession(access, self.settings.access_token_s, exp, refresh, user_id, email)

    async def _admit_attempt(self, conn: AsyncConnection[Any], buckets: list[tuple[str, int]]) -> list[int]:
        """Record an attempt in every bucket, or raise RateLimited if one is full."""
        window = self.settings.login_window_s
        for bucket, _ in buckets:
            # One attempt per bucket at a time, so parallel requests cannot all slip under the limit.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"pecus-login:{bucket}"]
            )
        for bucket, limit in buckets:
            await conn.execute(
                "DELETE FROM private.login_attempts"
                " WHERE bucket = %s AND attempted_at <= now() - make_interval(secs => %s)",
                [bucket, window],
            )
            cur = await conn.execute(
                "SELECT extract(epoch FROM attempted_at + make_interval(secs => %s) - now())"
                " FROM private.login_attempts WHERE bucket = %s ORDER BY attempted_at",
                [window, bucket],
            )
            expiries = [float(r[0]) for r in await cur.fetchall()]
            if len(expiries) >= limit:
                # Allowed again once enough of the oldest attempts have left the window.
                raise RateLimited(max(1, math.ceil(expiries[len(expiries) - limit])))
        ids = []
        for bucket, _ in buckets:
            cur = await conn.execute(
                "INSERT INTO private.login_attempts (bucket) VALUES (%s) RETURNING attempt_id", [bucket]
            )
            row = await cur.fetchone()
            assert row is not None
            ids.append(int(row[0]))
        return ids

    async def login(self, email: str, password: str, client: str | None = None) -> IssuedSession:
        email = normalize_email(email)
        buckets = [(f"email:{email}", self.settings.login_max_failures)]
        if client:
            buckets.append((f"ip:{client}", self.settings.login_max_failures_per_ip))
        rate_limited: RateLimited | None = None
        async with service_transaction(self.pool) as conn:
            try:
                attempt_ids = await self._admit_attempt(conn, buckets)
            except RateLimited as exc:
                rate_limited = exc  # raised after the transaction commits its housekeeping
            cur = await conn.execute(
                "SELECT id, email, encrypted_password FROM auth.users WHERE lower(email) = %s LIMIT 1",
                [email],
            )
            user = await cur.fetchone()
        if rate_limited is not None:
            log.warning("sign-in rate limit reached for %s from %s", email, client)
            raise rate_limited
        stored_hash = user[2] if user else None
        if not await to_thread.run_sync(verify_password, stored_hash, password):
            raise InvalidCredentials("wrong e-mail or password")
        assert user is not None
        user_id, user_email = uuid.UUID(str(user[0])), user[1]
        session_id = uuid.uuid4()
        async with service_transaction(self.pool) as conn:
            await conn.execute(
                "DELETE FROM private.login_attempts WHERE bucket = %s OR attempt_id = ANY(%s)",
                [buckets[0][0], attempt_ids],
            )
            if needs_rehash(stored_hash or ""):
                new_hash = await to_thread.run_sync(hash_password, password)
                await conn.execute(
                    "UPDATE auth.users SET encrypted_password = %s WHERE id = %s", [new_hash, user_id]
                )
            await conn.execute(
                "DELETE FROM private.refresh_tokens WHERE user_id = %s AND expires_at < now()", [user_id]
            )
            refresh = await self._new_refresh_token(conn, user_id, session_id)
        return self._session(user_id, user_email, session_id, refresh, int(time.time()))

    async def refresh(self, refresh_token: str) -> IssuedSession:
        async with service_transaction(self.pool) as conn:
            cur = await conn.execute(_SPEND_REFRESH_TOKEN, [_token_hash(refresh_token)])
            row = await cur.fetchone()
            if row is None:
                problem = await self._refused_refresh(conn, refresh_token)
            else:
                user_id, session_id = uuid.UUID(str(row[0])), uuid.UUID(str(row[1]))
                email, signed_in_at = row[2], int(row[3])
                refresh = await self._new_refresh_token(conn, user_id, session_id)
        # Raised only now, so a session closed for token reuse stays closed (committed).
        if row is None:
            raise InvalidRefreshToken(problem)
        return self._session(user_id, email, session_id, refresh, signed_in_at)

    async def _refused_refresh(self, conn: AsyncConnection[Any], refresh_token: str) -> str:
        cur = await conn.execute(
            "SELECT session_id, extract(epoch FROM now() - revoked_at), expires_at <= now()"
            " FROM private.refresh_tokens WHERE token_hash = %s",
            [_token_hash(refresh_token)],
        )
        row = await cur.fetchone()
        if row is None:
            return "unknown refresh token"
        session_id, revoked_for_s, expired = row
        if revoked_for_s is None and expired:
            return "the refresh token has expired; sign in again"
        if revoked_for_s is not None and float(revoked_for_s) > self.reuse_grace_s:
            log.warning("a spent refresh token was presented again: closing session %s", session_id)
            await conn.execute(
                "UPDATE private.refresh_tokens SET revoked_at = coalesce(revoked_at, now())"
                " WHERE session_id = %s",
                [session_id],
            )
            return "the refresh token was already used; the session is closed, sign in again"
        return "the refresh token was already used"

    async def logout(self, refresh_token: str) -> None:
        """End the session the refresh token belongs to (every token of it). Unknown tokens are ignored."""
        async with service_transaction(self.pool) as conn:
            await conn.execute(
                "UPDATE private.refresh_tokens SET revoked_at = coalesce(revoked_at, now())"
                " WHERE session_id = (SELECT session_id FROM private.refresh_tokens WHERE token_hash = %s)",
                [_token_hash(refresh_token)],
            )
