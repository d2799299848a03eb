"""One active instance of a background job across every API instance and cron run.

Each job has a fixed PostgreSQL advisory lock, taken with `pg_try_advisory_lock` on a dedicated
session connection: whoever holds it runs the job; the others skip or wait. If the holder dies,
its connection closes and PostgreSQL releases the lock at once, so another instance takes over on
its next try. Session locks need a session-mode connection (`DATABASE_DIRECT_URL` on Supabase).

`private.job_runs` records when each job last ran, so instances whose schedules come due one after
another run a periodic job once per period between them.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson
import psycopg
from psycopg import AsyncConnection

from pecus.cloud.database import CONNECT_OPTIONS

# Same family as MIGRATION_LOCK_ID (pecus.cloud.migrations): "pecus" in hex, then the job.
DISPATCH_LOCK_ID = 0x7065637573_02
RISK_SCAN_LOCK_ID = 0x7065637573_03


async def connect_session(url: str) -> AsyncConnection[Any]:
    """An autocommit connection of its own (not from a pool): it holds session-level locks."""
    # The process id in the name tells, in pg_stat_activity, which instance holds which lock.
    return await psycopg.AsyncConnection.connect(
        url, autocommit=True, application_name=f"pecus-jobs-{os.getpid()}", **CONNECT_OPTIONS
    )


async def try_lock(conn: AsyncConnection[Any], lock_id: int) -> bool:
    cur = await conn.execute("SELECT pg_try_advisory_lock(%s)", [lock_id])
    row = await cur.fetchone()
    return bool(row and row[0])


async def unlock(conn: AsyncConnection[Any], lock_id: int) -> None:
    await conn.execute("SELECT pg_advisory_unlock(%s)", [lock_id])


@asynccontextmanager
async def exclusive(url: str, lock_id: int) -> AsyncIterator[AsyncConnection[Any] | None]:
    """A session connection holding the lock, or None when another instance holds it."""
    conn = await connect_session(url)
    try:
        if not await try_lock(conn, lock_id):
            yield None
            return
        try:
            yield conn
        finally:
            if not conn.closed:
                await unlock(conn, lock_id)
    finally:
        await conn.close()


async def last_finished(conn: AsyncConnection[Any], job: str) -> datetime | None:
    cur = await conn.execute("SELECT finished_at FROM private.job_runs WHERE job = %s AND ok", [job])
    row = await cur.fetchone()
    return row[0] if row else None


async def is_due(conn: AsyncConnection[Any], job: str, every: timedelta, now: datetime) -> bool:
    last = await last_finished(conn, job)
    return last is None or now - last >= every


async def record_start(conn: AsyncConnection[Any], job: str, now: datetime) -> None:
    await conn.execute(
        "INSERT INTO private.job_runs (job, started_at) VALUES (%s, %s)"
        " ON CONFLICT (job) DO UPDATE SET started_at = EXCLUDED.started_at",
        [job, now],
    )


async def record_end(
    conn: AsyncConnection[Any],
    job: str,
    now: datetime,
    *,
    summary: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE private.job_runs SET finished_at = %s, ok = %s, summary = %s::jsonb, error = %s"
        " WHERE job = %s",
        [now, error is None, orjson.dumps(summary or {}).decode(), error, job],
    )
