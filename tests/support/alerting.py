"""Farms with notification settings and targets, and alerts written the way the AI engine and the
risk scan write them (as the service role), for the alert and notification tests."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import time
from typing import Any

import orjson
import psycopg
from psycopg.rows import dict_row

from pecus.cloud.database import connect
from pecus.cloud.farms import create_farm

REASONS = [
    {
        "signal": "conductivity_lr",
        "change_pct": 34.2,
        "text": "rear-left conductivity +34 % vs her 7-day level",
    },
    {"signal": "yield", "change_pct": -18.4, "text": "yield −18 %"},
]


def make_farm(
    url: str,
    *,
    time_zone: str = "UTC",
    critical_threshold: float | None = 0.85,
    quiet: tuple[time, time] | None = None,
    digest_hours: int | None = None,
    stale_after_minutes: int = 360,
) -> uuid.UUID:
    with connect(url) as conn:
        farm = create_farm(conn, f"Farm {uuid.uuid4().hex[:8]}", time_zone)
        conn.execute(
            "UPDATE tenants SET critical_threshold = %s, alert_threshold = 0.5, quiet_hours_start = %s,"
            " quiet_hours_end = %s, digest_hours = %s, stale_after_minutes = %s WHERE tenant_id = %s",
            [
                critical_threshold,
                quiet[0] if quiet else None,
                quiet[1] if quiet else None,
                digest_hours,
                stale_after_minutes,
                farm,
            ],
        )
    return farm


def add_target(url: str, farm: uuid.UUID, apprise_url: str, label: str = "phone") -> int:
    with connect(url) as conn:
        row = conn.execute(
            "INSERT INTO notification_targets (tenant_id, label, scheme, apprise_url, masked_url)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING target_id",
            [farm, label, apprise_url.split("://")[0], apprise_url, "(masked)"],
        ).fetchone()
    assert row is not None
    return int(row[0])


def raise_alert(
    url: str,
    farm: uuid.UUID,
    *,
    animal: str = "1234",
    unit: str = "Robot 2",
    risk: float = 0.7,
    level: str = "warning",
    reasons: list[dict[str, Any]] | None = None,
) -> int:
    """A mastitis alert, inserted as the AI engine does (its outbox rows come with it)."""
    with connect(url) as conn:
        row = conn.execute(
            "INSERT INTO alerts (tenant_id, kind, animal_id, unit, risk_score, level, reasons, model_version)"
            " VALUES (%s, 'mastitis', %s, %s, %s, %s, %s::jsonb, 'test') RETURNING alert_id",
            [farm, animal, unit, risk, level, orjson.dumps(REASONS if reasons is None else reasons).decode()],
        ).fetchone()
    assert row is not None
    return int(row[0])


def outbox(url: str, farm: uuid.UUID) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM notifications WHERE tenant_id = %s ORDER BY notification_id", [farm]
        ).fetchall()


def set_alert_status(url: str, farm: uuid.UUID, alert_id: int, status: str) -> None:
    with connect(url) as conn:
        conn.execute(
            "UPDATE alerts SET status = %s WHERE tenant_id = %s AND alert_id = %s", [status, farm, alert_id]
        )


def pecus(*args: str, database_url: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """`pecus ARGS` in a subprocess against `database_url` (stdout piped, stderr to a pipe)."""
    child_env = {**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "pecus.cli", *args],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def summary_of(proc: subprocess.Popen[bytes], timeout: float = 60.0) -> dict[str, Any]:
    """Wait for a `pecus dispatch --once` / `risk-scan` run and parse its JSON summary."""
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err.decode(errors="replace")[-3000:]
    lines = out.decode().strip().splitlines()
    assert lines, err.decode(errors="replace")[-3000:]
    result: dict[str, Any] = orjson.loads(lines[-1])
    return result


async def store_sessions(
    url: str, farm: uuid.UUID, rows: list[dict[str, Any]], source: str = "delpro"
) -> None:
    """Store milkings through ingest's own validation and write path (as an agent upload would)."""
    from datetime import UTC, datetime

    from pecus.cloud.batch_validation import validate_rows
    from pecus.cloud.ingest import store_batch
    from pecus.cloud.tenancy import make_pool
    from pecus.contract import IngestBatch

    envelope = {"farm_id": str(farm), "source": source, "agent": {"version": "test"}, "rows": rows}
    parsed = validate_rows(IngestBatch.model_validate(envelope), max_batch_size=100_000)
    pool = make_pool(url, max_size=1)
    await pool.open()
    try:
        await store_batch(pool, farm, parsed, key_id=None, started_at=datetime.now(UTC))
    finally:
        await pool.close()
