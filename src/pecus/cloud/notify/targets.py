"""Notification targets seen from the dashboard: the list (masked) and a test message.

Adding and removing targets is farm administration (`pecus.cloud.farm_admin`). The full apprise
URL is never readable by API roles (column privileges): the test message reads it as the service,
only after row-level security has shown that the caller is an owner of the farm and the target is
the farm's.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.farm_admin import not_found, require_role
from pecus.cloud.notify import channels, messages
from pecus.cloud.schemas.admin import NotificationTarget
from pecus.cloud.schemas.alerts import TestSendResult
from pecus.cloud.tenancy import service_transaction


async def list_targets(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> list[NotificationTarget]:
    await require_role(conn, farm_id, "owner")
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT target_id, label, scheme, masked_url, created_at FROM public.notification_targets"
            " WHERE tenant_id = %s ORDER BY target_id",
            [farm_id],
        )
        return [NotificationTarget.model_validate(r) for r in await cur.fetchall()]


async def owned_target(conn: AsyncConnection[Any], farm_id: uuid.UUID, target_id: int) -> str:
    """The farm's name, if the caller owns the farm and the target is its (else 403 / 404)."""
    await require_role(conn, farm_id, "owner")
    cur = await conn.execute(
        "SELECT t.name FROM public.notification_targets n JOIN public.tenants t USING (tenant_id)"
        " WHERE n.tenant_id = %s AND n.target_id = %s",
        [farm_id, target_id],
    )
    row = await cur.fetchone()
    if row is None:
        raise not_found("notification target")
    return str(row[0])


async def send_test(
    pool: AsyncConnectionPool, farm_id: uuid.UUID, farm_name: str, target_id: int, public_url: str
) -> TestSendResult:
    """Send a test message now (not through the outbox: the owner is waiting for the answer)."""
    async with service_transaction(pool) as conn:
        cur = await conn.execute(
            "SELECT apprise_url FROM public.notification_targets WHERE tenant_id = %s AND target_id = %s",
            [farm_id, target_id],
        )
        row = await cur.fetchone()
    if row is None:  # removed meanwhile
        raise not_found("notification target")
    text = messages.test_message(farm_name, public_url, farm_id)
    result = await asyncio.to_thread(channels.send, str(row[0]), text, title="Pecus: test message")
    return TestSendResult(ok=result.ok, error=result.error)
