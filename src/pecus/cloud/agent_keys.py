"""API keys of the farm agents.

A key is `pcs_` + 256 random bits (url-safe base64). Only its SHA-256 is stored, with a short
display prefix so an operator can tell keys apart; the key itself is shown once, at creation.
SHA-256 (not a slow password hash) is right here: the secret has 256 bits of entropy, so it
cannot be guessed from the hash, and every ingest request must check it cheaply.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

KEY_PREFIX = "pcs_"
KEY_LENGTH = len(KEY_PREFIX) + 43  # 32 random bytes in unpadded url-safe base64
DISPLAY_LENGTH = len(KEY_PREFIX) + 8
LAST_USED_EVERY_S = 60.0
"""`last_used_at` is written at most this often per key (by this process), not on every request."""


class UnknownFarm(LookupError):
    pass


class UnknownKey(LookupError):
    pass


class KeyRejected(Exception):
    """The key is absent, malformed, unknown or revoked. `reason` is one of those words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class NewKey:
    key_id: uuid.UUID
    farm_id: uuid.UUID
    key: str
    display_prefix: str


@dataclass(frozen=True)
class AgentIdentity:
    """Who is calling: the farm the key is bound to, and which key."""

    farm_id: uuid.UUID
    key_id: uuid.UUID


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def is_well_formed(key: str) -> bool:
    return len(key) == KEY_LENGTH and key.startswith(KEY_PREFIX)


def create_agent_key(conn: psycopg.Connection[Any], farm_id: uuid.UUID, label: str = "") -> NewKey:
    """Create a key for the farm; the caller shows `NewKey.key` once and forgets it."""
    if conn.execute("SELECT 1 FROM public.tenants WHERE tenant_id = %s", [farm_id]).fetchone() is None:
        raise UnknownFarm(f"no farm with id {farm_id}")
    key = generate_key()
    row = conn.execute(
        "INSERT INTO public.agent_keys (tenant_id, label, key_prefix, key_hash)"
        " VALUES (%s, %s, %s, %s) RETURNING key_id",
        [farm_id, label, key[:DISPLAY_LENGTH], hash_key(key)],
    ).fetchone()
    assert row is not None
    return NewKey(uuid.UUID(str(row[0])), farm_id, key, key[:DISPLAY_LENGTH])


def revoke_agent_key(conn: psycopg.Connection[Any], farm_id: uuid.UUID, key_id: uuid.UUID) -> datetime:
    """Revoke a key of the farm (idempotent: revoking twice keeps the first time). Returns when."""
    row = conn.execute(
        "UPDATE public.agent_keys SET revoked_at = coalesce(revoked_at, now())"
        " WHERE tenant_id = %s AND key_id = %s RETURNING revoked_at",
        [farm_id, key_id],
    ).fetchone()
    if row is None:
        raise UnknownKey(f"farm {farm_id} has no agent key {key_id}")
    revoked_at: datetime = row[0]
    return revoked_at


class KeyChecker:
    """Authenticates agent keys against the database on every request (a revoked key stops working
    at once) and records `last_used_at` at most once a minute per key."""

    def __init__(self) -> None:
        self._last_written: dict[uuid.UUID, float] = {}

    async def authenticate(self, pool: AsyncConnectionPool, key: str | None) -> AgentIdentity:
        if not key:
            raise KeyRejected("missing")
        if not is_well_formed(key):
            raise KeyRejected("malformed")
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT tenant_id, key_id, revoked_at IS NOT NULL,"
                " last_used_at IS NULL OR last_used_at < now() - make_interval(secs => %s)"
                " FROM public.agent_keys WHERE key_hash = %s",
                [LAST_USED_EVERY_S, hash_key(key)],
            )
            row = await cur.fetchone()
            if row is None:
                raise KeyRejected("unknown")
            farm_id, key_id, revoked, stale = row
            if revoked:
                raise KeyRejected("revoked")
            now = time.monotonic()
            if stale and now - self._last_written.get(key_id, -LAST_USED_EVERY_S) >= LAST_USED_EVERY_S:
                self._last_written[key_id] = now
                await conn.execute(
                    "UPDATE public.agent_keys SET last_used_at = now() WHERE tenant_id = %s AND key_id = %s",
                    [farm_id, key_id],
                )
        return AgentIdentity(uuid.UUID(str(farm_id)), uuid.UUID(str(key_id)))
