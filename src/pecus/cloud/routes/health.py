"""`/healthz`: the process is up. `/readyz`: the database answers and its schema is current."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Request
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.api_settings import ApiSettings
from pecus.cloud.errors import ApiError, ErrorBody, ErrorDetail

log = logging.getLogger(__name__)
router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _pending_versions(pool: AsyncConnectionPool, expected: list[str], timeout: float) -> list[str]:
    async with pool.connection(timeout=timeout) as conn:
        cur = await conn.execute("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
        row = await cur.fetchone()
        if not row or not row[0]:
            return expected
        cur = await conn.execute("SELECT version FROM supabase_migrations.schema_migrations")
        done = {r[0] for r in await cur.fetchall()}
    return [v for v in expected if v not in done]


@router.get("/readyz", responses={503: {"model": ErrorBody}})
async def readyz(request: Request) -> dict[str, str]:
    pool: AsyncConnectionPool = request.app.state.pool
    settings: ApiSettings = request.app.state.settings
    expected: list[str] = request.app.state.migration_versions
    try:
        pending = await asyncio.wait_for(
            _pending_versions(pool, expected, settings.ready_timeout_s), settings.ready_timeout_s + 1
        )
    except Exception as exc:
        log.warning("readyz: database unreachable: %s", exc)
        raise ApiError(503, "database_unavailable", f"the database is unreachable: {exc}") from exc
    if pending:
        raise ApiError(
            503,
            "migrations_pending",
            f"{len(pending)} migration(s) not applied; run `pecus migrate`",
            [ErrorDetail(field="migration", reason=f"{v} is not applied") for v in pending],
        )
    return {"status": "ready", "schema": expected[-1] if expected else ""}
