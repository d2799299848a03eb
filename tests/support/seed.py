"""Farms, people and a few rows in every tenant table, written as the database owner."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from pecus.cloud.database import connect
from pecus.cloud.farms import create_farm


def create_user(conn: psycopg.Connection[Any], email: str | None = None) -> uuid.UUID:
    email = email or f"{uuid.uuid4().hex[:10]}@example.test"
    row = conn.execute("INSERT INTO auth.users (email) VALUES (%s) RETURNING id", [email]).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


def add_member(conn: psycopg.Connection[Any], farm: uuid.UUID, user: uuid.UUID, role: str) -> None:
    conn.execute(
        "INSERT INTO public.memberships (tenant_id, user_id, role) VALUES (%s, %s, %s)", [farm, user, role]
    )


@dataclass
class SeededFarm:
    farm_id: uuid.UUID
    source_id: int
    alert_id: int
    key_id: uuid.UUID
    animals: list[str] = field(default_factory=list)


def seed_farm(conn: psycopg.Connection[Any], name: str, sessions: int = 3) -> SeededFarm:
    """A farm with one source, one robot, cows, milkings, an alert with history, an outbox row,
    a sync run and an agent key: one or more rows in every tenant table."""
    farm = create_farm(conn, name, "Europe/Rome")
    row = conn.execute(
        "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm]
    ).fetchone()
    assert row is not None
    source_id = int(row[0])
    conn.execute(
        "INSERT INTO milking_units (tenant_id, unit, source_id) VALUES (%s, 'Robot 1', %s)", [farm, source_id]
    )
    start = datetime.now(UTC) - timedelta(hours=sessions * 8)
    animals = [f"{100 + i}" for i in range(sessions)]
    for i, animal in enumerate(animals):
        conn.execute("INSERT INTO animals (tenant_id, animal_id) VALUES (%s, %s)", [farm, animal])
        t = start + timedelta(hours=8 * i)
        conn.execute(
            "INSERT INTO milking_sessions (tenant_id, source_id, transaction_id, unit, animal_id,"
            " started_at, ended_at, yield_kg) VALUES (%s, %s, %s, 'Robot 1', %s, %s, %s, 12.5)",
            [farm, source_id, i + 1, animal, t, t + timedelta(minutes=7)],
        )
    row = conn.execute(
        "INSERT INTO alerts (tenant_id, animal_id, unit, risk_score, reasons)"
        " VALUES (%s, %s, 'Robot 1', 0.9, '[]') RETURNING alert_id",
        [farm, animals[0]],
    ).fetchone()
    assert row is not None
    alert_id = int(row[0])
    conn.execute(
        "INSERT INTO alert_status_changes (tenant_id, alert_id, from_status, to_status)"
        " VALUES (%s, %s, 'new', 'new')",
        [farm, alert_id],
    )
    conn.execute(
        "INSERT INTO notifications (tenant_id, alert_id, message) VALUES (%s, %s, 'cow 100')",
        [farm, alert_id],
    )
    conn.execute("INSERT INTO sync_runs (tenant_id, source_id) VALUES (%s, %s)", [farm, source_id])
    secret = secrets.token_bytes(32)
    row = conn.execute(
        "INSERT INTO agent_keys (tenant_id, key_prefix, key_hash) VALUES (%s, 'test', %s) RETURNING key_id",
        [farm, hashlib.sha256(secret).digest()],
    ).fetchone()
    assert row is not None
    return SeededFarm(farm, source_id, alert_id, uuid.UUID(str(row[0])), animals)


def seed(url: str, *names: str) -> list[SeededFarm]:
    with connect(url) as conn:
        farms = [seed_farm(conn, n) for n in names]
        conn.commit()
    return farms
