"""Administrative operations on farms, run by the operator's CLI as the database owner."""

from __future__ import annotations

import uuid
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg


def check_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Rome)") from exc
    return name


def create_farm(conn: psycopg.Connection[Any], name: str, time_zone: str = "UTC") -> uuid.UUID:
    row = conn.execute(
        "INSERT INTO public.tenants (name, time_zone) VALUES (%s, %s) RETURNING tenant_id",
        [name, check_time_zone(time_zone)],
    ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))
