"""Database access on behalf of someone, the way Supabase's PostgREST does it.

Everything that serves a user goes through `user_transaction`: one transaction with the user's
JWT claims in `request.jwt.claims` and `SET LOCAL ROLE authenticated`, so row-level security
(not Python) decides which farm's rows the query can see. Both settings are transaction-local,
so pooled connections (and Supabase's transaction pooler) never carry one user's identity into
another request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import orjson
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.database import CONNECT_OPTIONS

API_ROLES = frozenset({"anon", "authenticated"})


def make_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> AsyncConnectionPool:
    """A pool of autocommit connections: every unit of work opens its own explicit transaction."""
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={**CONNECT_OPTIONS, "autocommit": True},
        open=False,
    )


@asynccontextmanager
async def user_transaction(
    pool: AsyncConnectionPool, claims: Mapping[str, Any]
) -> AsyncIterator[AsyncConnection[Any]]:
    """A transaction that runs as the API role named in the claims, under RLS."""
    role = claims.get("role", "anon")
    if role not in API_ROLES:
        raise PermissionError(f"a user request cannot run as role {role!r}")
    async with pool.connection() as conn, conn.transaction():
        # One round trip, as PostgREST does it: set_config('role', …, true) is SET LOCAL ROLE.
        await conn.execute(
            "SELECT set_config('request.jwt.claims', %s, true), set_config('role', %s, true)",
            [orjson.dumps(dict(claims)).decode(), role],
        )
        yield conn


@asynccontextmanager
async def service_transaction(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection[Any]]:
    """A transaction as the API's own database role (bypasses RLS): for agent ingest and background
    jobs, which are scoped by the farm their credentials are bound to, never for user requests."""
    async with pool.connection() as conn, conn.transaction():
        yield conn
