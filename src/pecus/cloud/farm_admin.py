"""Farm administration for the dashboard: settings, notification targets, agent keys, members.

Every function runs inside the caller's `user_transaction`, so row-level security has the last
word (an owner-only write by anyone else changes nothing). The role checks here come first only
to answer precisely: 404 when the farm is not the caller's, 403 when their role may not do it.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from psycopg import AsyncConnection, errors, sql
from psycopg.rows import dict_row

from pecus.cloud.agent_keys import DISPLAY_LENGTH, generate_key, hash_key
from pecus.cloud.dashboard import my_role
from pecus.cloud.errors import ApiError, ErrorDetail
from pecus.cloud.notify import channels
from pecus.cloud.schemas.admin import (
    AgentKey,
    AgentKeyCreated,
    FarmSettings,
    FarmSettingsUpdate,
    Member,
    NotificationTarget,
)
from pecus.cloud.schemas.auth import Role


def not_found(what: str = "farm") -> ApiError:
    return ApiError(404, "not_found", f"no such {what}")


async def require_role(conn: AsyncConnection[Any], farm_id: uuid.UUID, *allowed: Role) -> Role:
    """The caller's role on the farm: 404 when not a member, 403 when the role is not allowed."""
    role = await my_role(conn, farm_id)
    if role is None:
        raise not_found()
    if allowed and role not in allowed:
        raise ApiError(
            403, "forbidden", f"only {' or '.join(allowed)}s of this farm may do this (you are {role})"
        )
    return role


async def _rows(conn: AsyncConnection[Any], query: Any, params: Any = None) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchall()


# --- settings and notification targets -----------------------------------------------------------

_TARGET_COLUMNS = "target_id, label, scheme, masked_url, created_at"


async def get_settings(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> FarmSettings:
    await require_role(conn, farm_id)
    rows = await _rows(
        conn,
        "SELECT tenant_id AS farm_id, name, time_zone, alert_threshold, critical_threshold,"
        " quiet_hours_start, quiet_hours_end, stale_after_minutes, digest_hours, mastitis_patterns"
        " FROM public.tenants WHERE tenant_id = %s",
        [farm_id],
    )
    if not rows:
        raise not_found()
    # Owners only (RLS): other members get an empty list.
    targets = await _rows(
        conn,
        f"SELECT {_TARGET_COLUMNS} FROM public.notification_targets WHERE tenant_id = %s ORDER BY target_id",
        [farm_id],
    )
    return FarmSettings.model_validate({**rows[0], "notification_targets": targets})


async def update_settings(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, update: FarmSettingsUpdate
) -> FarmSettings:
    await require_role(conn, farm_id, "owner")
    changes = update.model_dump(include=update.model_fields_set)
    if changes.get("name", "") is None:
        raise ApiError(
            422, "invalid_request", "the farm needs a name", [ErrorDetail(field="name", reason="null")]
        )
    if changes:
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = {}").format(sql.Identifier(k), sql.Placeholder(k)) for k in changes
        )
        try:
            await conn.execute(
                sql.SQL("UPDATE public.tenants SET {} WHERE tenant_id = %(farm)s").format(assignments),
                {**changes, "farm": farm_id},
            )
        except errors.CheckViolation as exc:
            raise ApiError(
                422, "invalid_request", f"the settings are not valid: {exc.diag.message_primary}"
            ) from exc
    settings = await get_settings(conn, farm_id)
    problems = []
    if (settings.quiet_hours_start is None) != (settings.quiet_hours_end is None):
        problems.append(
            ErrorDetail(field="quiet_hours_end", reason="quiet hours need both a start and an end")
        )
    if (
        settings.alert_threshold is not None
        and settings.critical_threshold is not None
        and settings.critical_threshold < settings.alert_threshold
    ):
        problems.append(ErrorDetail(field="critical_threshold", reason="must not be below alert_threshold"))
    if problems:
        # Raised inside the transaction: nothing of this update is kept.
        raise ApiError(422, "invalid_request", "the settings are not consistent", problems)
    return settings


def mask_apprise_url(url: str) -> tuple[str, str]:
    """(scheme, the URL with its secrets masked by apprise), or ValueError when apprise cannot use it."""
    import apprise  # slow to import: only when a target is added

    plugin = apprise.Apprise.instantiate(url)
    if plugin is None:
        raise ValueError(
            "not a notification URL apprise understands (e.g. tgram://, twilio://, mailto://, ntfy://)"
        )
    masked = str(plugin.url(privacy=True)).split("?", 1)[0]
    return url.split("://", 1)[0].lower(), masked


async def add_target(
    conn: AsyncConnection[Any],
    farm_id: uuid.UUID,
    user_id: uuid.UUID,
    label: str,
    url: str,
    *,
    schemes: frozenset[str] = channels.DEFAULT_SCHEMES,
    allow_private: bool = False,
) -> NotificationTarget:
    await require_role(conn, farm_id, "owner")
    try:
        # Only channels a server should use, never aimed at our own network (may resolve a name).
        await asyncio.to_thread(channels.check_target, url, schemes, allow_private=allow_private)
        scheme, masked = mask_apprise_url(url.strip())
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc), [ErrorDetail(field="url", reason=str(exc))]) from exc
    rows = await _rows(
        conn,
        "INSERT INTO public.notification_targets"
        " (tenant_id, label, scheme, apprise_url, masked_url, created_by)"
        f" VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_TARGET_COLUMNS}",
        [farm_id, label, scheme, url.strip(), masked, user_id],
    )
    return NotificationTarget.model_validate(rows[0])


async def delete_target(conn: AsyncConnection[Any], farm_id: uuid.UUID, target_id: int) -> None:
    await require_role(conn, farm_id, "owner")
    cur = await conn.execute(
        "DELETE FROM public.notification_targets WHERE tenant_id = %s AND target_id = %s",
        [farm_id, target_id],
    )
    if cur.rowcount == 0:
        raise not_found("notification target")


# --- agent keys ----------------------------------------------------------------------------------

_KEY_COLUMNS = "key_id, label, key_prefix, created_at, last_used_at, revoked_at"


async def list_keys(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> list[AgentKey]:
    await require_role(conn, farm_id, "owner")
    rows = await _rows(
        conn,
        f"SELECT {_KEY_COLUMNS} FROM public.agent_keys WHERE tenant_id = %s ORDER BY created_at",
        [farm_id],
    )
    return [AgentKey.model_validate(r) for r in rows]


async def create_key(conn: AsyncConnection[Any], farm_id: uuid.UUID, label: str) -> AgentKeyCreated:
    """A new agent key; the secret is in the answer only (the database keeps its SHA-256)."""
    await require_role(conn, farm_id, "owner")
    secret = generate_key()
    rows = await _rows(
        conn,
        "INSERT INTO public.agent_keys (tenant_id, label, key_prefix, key_hash) VALUES (%s, %s, %s, %s)"
        f" RETURNING {_KEY_COLUMNS}",
        [farm_id, label, secret[:DISPLAY_LENGTH], hash_key(secret)],
    )
    return AgentKeyCreated.model_validate({**rows[0], "secret": secret})


async def revoke_key(conn: AsyncConnection[Any], farm_id: uuid.UUID, key_id: uuid.UUID) -> AgentKey:
    await require_role(conn, farm_id, "owner")
    rows = await _rows(
        conn,
        "UPDATE public.agent_keys SET revoked_at = coalesce(revoked_at, now())"
        f" WHERE tenant_id = %s AND key_id = %s RETURNING {_KEY_COLUMNS}",
        [farm_id, key_id],
    )
    if not rows:
        raise not_found("agent key")
    return AgentKey.model_validate(rows[0])


# --- members -------------------------------------------------------------------------------------


async def list_members(conn: AsyncConnection[Any], farm_id: uuid.UUID) -> list[Member]:
    await require_role(conn, farm_id)
    rows = await _rows(conn, "SELECT * FROM private.farm_members(%s) ORDER BY email, user_id", [farm_id])
    return [Member.model_validate(r) for r in rows]


async def _member(conn: AsyncConnection[Any], farm_id: uuid.UUID, user_id: uuid.UUID) -> Member:
    rows = await _rows(conn, "SELECT * FROM private.farm_members(%s) WHERE user_id = %s", [farm_id, user_id])
    if not rows:
        raise not_found("member")
    return Member.model_validate(rows[0])


async def invite_member(conn: AsyncConnection[Any], farm_id: uuid.UUID, email: str, role: Role) -> Member:
    await require_role(conn, farm_id, "owner")
    cur = await conn.execute("SELECT private.account_for_invite(%s, %s)", [farm_id, email.strip()])
    row = await cur.fetchone()
    if row is None or row[0] is None:
        raise ApiError(
            404,
            "account_not_found",
            f"no account with e-mail {email.strip()}: the person signs up first (or the operator runs"
            " `pecus create-user`)",
        )
    try:
        await conn.execute(
            "INSERT INTO public.memberships (tenant_id, user_id, role) VALUES (%s, %s, %s)",
            [farm_id, row[0], role],
        )
    except errors.UniqueViolation as exc:
        raise ApiError(409, "already_member", f"{email.strip()} is already a member of this farm") from exc
    return await _member(conn, farm_id, row[0])


async def _keep_an_owner(conn: AsyncConnection[Any], farm_id: uuid.UUID, user_id: uuid.UUID) -> None:
    """Refuse to demote or remove the farm's last owner. The owners' rows are locked so two owners
    demoting each other at the same moment cannot both succeed."""
    owners = await _rows(
        conn,
        "SELECT user_id FROM public.memberships WHERE tenant_id = %s AND role = 'owner'"
        " ORDER BY user_id FOR UPDATE",
        [farm_id],
    )
    if [r["user_id"] for r in owners] == [user_id]:
        raise ApiError(409, "last_owner", "a farm keeps at least one owner: make someone else owner first")


async def change_role(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, user_id: uuid.UUID, role: Role
) -> Member:
    await require_role(conn, farm_id, "owner")
    current = await _member(conn, farm_id, user_id)
    if current.role == "owner" and role != "owner":
        await _keep_an_owner(conn, farm_id, user_id)
    await conn.execute(
        "UPDATE public.memberships SET role = %s WHERE tenant_id = %s AND user_id = %s",
        [role, farm_id, user_id],
    )
    return await _member(conn, farm_id, user_id)


async def remove_member(conn: AsyncConnection[Any], farm_id: uuid.UUID, user_id: uuid.UUID) -> None:
    await require_role(conn, farm_id, "owner")
    current = await _member(conn, farm_id, user_id)
    if current.role == "owner":
        await _keep_an_owner(conn, farm_id, user_id)
    await conn.execute(
        "DELETE FROM public.memberships WHERE tenant_id = %s AND user_id = %s", [farm_id, user_id]
    )
