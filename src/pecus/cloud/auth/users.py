"""People for local sign-in, managed by the operator (`pecus create-user`), as the database owner."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any, get_args

import psycopg

from pecus.cloud.auth.local import normalize_email
from pecus.cloud.auth.passwords import check_password_rules, hash_password
from pecus.cloud.schemas.auth import Role

ROLES: tuple[str, ...] = get_args(Role)


@dataclass(frozen=True)
class UserResult:
    user_id: uuid.UUID
    farm_id: uuid.UUID
    created: bool
    """False when the account existed: it was added to the farm (and its password set if given)."""
    generated_password: str | None = None
    """Set when a new local account got a generated password (show it once)."""


def check_email(email: str) -> str:
    email = normalize_email(email)
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email or len(email) > 320:
        raise ValueError(f"{email!r} is not an e-mail address")
    return email


def find_farm(conn: psycopg.Connection[Any], farm: str) -> uuid.UUID:
    """A farm by id, or by its exact name when that name is unique."""
    try:
        farm_id = uuid.UUID(farm)
    except ValueError:
        rows = conn.execute("SELECT tenant_id FROM public.tenants WHERE name = %s", [farm]).fetchall()
        if len(rows) > 1:
            raise LookupError(f"{len(rows)} farms are named {farm!r}: give the farm id instead") from None
        if not rows:
            raise LookupError(f"no farm with id or name {farm!r}") from None
        return uuid.UUID(str(rows[0][0]))
    if conn.execute("SELECT 1 FROM public.tenants WHERE tenant_id = %s", [farm_id]).fetchone() is None:
        raise LookupError(f"no farm with id {farm_id}")
    return farm_id


def create_user(
    conn: psycopg.Connection[Any],
    email: str,
    farm: str,
    role: str,
    password: str | None,
    *,
    local_accounts: bool = True,
) -> UserResult:
    """Give the account with this e-mail `role` on the farm, creating it when `local_accounts`
    (local sign-in; a new account without a password gets a generated one). With Supabase Auth
    the account must exist already (it is created by Supabase: sign-up or invitation)."""
    email = check_email(email)
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if password is not None:
        check_password_rules(password)
    with conn.transaction():
        farm_id = find_farm(conn, farm)
        hashed = hash_password(password) if password is not None else None
        row = conn.execute("SELECT id FROM auth.users WHERE lower(email) = %s", [email]).fetchone()
        generated = None
        if row is None:
            if not local_accounts:
                raise LookupError(
                    f"no account with e-mail {email}: with Supabase Auth, create it there first"
                    " (sign-up or invitation), then add it to the farm"
                )
            if hashed is None:
                generated = secrets.token_urlsafe(12)
                hashed = hash_password(generated)
            row = conn.execute(
                "INSERT INTO auth.users (email, encrypted_password, raw_app_meta_data)"
                ' VALUES (%s, %s, \'{"provider": "email", "providers": ["email"]}\') RETURNING id',
                [email, hashed],
            ).fetchone()
            assert row is not None
            created = True
        else:
            created = False
            if hashed is not None:
                conn.execute(
                    "UPDATE auth.users SET encrypted_password = %s, updated_at = now() WHERE id = %s",
                    [hashed, row[0]],
                )
        user_id = uuid.UUID(str(row[0]))
        conn.execute(
            "INSERT INTO public.memberships (tenant_id, user_id, role) VALUES (%s, %s, %s)"
            " ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role",
            [farm_id, user_id, role],
        )
    return UserResult(user_id, farm_id, created, generated)
