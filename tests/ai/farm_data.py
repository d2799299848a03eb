"""Simulated milkings into the cloud tables, written as the database owner (as ingest would)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import psycopg

from pecus.ai.simulate import FarmSimulation, simulate_farm
from pecus.cloud.farms import create_farm
from pecus.contract.session import SESSION_COLUMNS

COLUMNS = [c for c in SESSION_COLUMNS if c != "extra"]


def new_farm(conn: psycopg.Connection[Any], name: str = "Test farm") -> tuple[uuid.UUID, int]:
    farm = create_farm(conn, f"{name} {uuid.uuid4().hex[:6]}", "Europe/Rome")
    row = conn.execute(
        "INSERT INTO sources (tenant_id, name) VALUES (%s, 'delpro') RETURNING source_id", [farm]
    ).fetchone()
    assert row is not None
    return farm, int(row[0])


def insert_sessions(
    conn: psycopg.Connection[Any], farm: uuid.UUID, source: int, sessions: pd.DataFrame
) -> None:
    """COPY contract rows into milking_sessions."""
    frame = sessions[COLUMNS].astype(object).where(sessions[COLUMNS].notna(), None)
    with (
        conn.cursor() as cur,
        cur.copy(f"COPY milking_sessions (tenant_id, source_id, {', '.join(COLUMNS)}) FROM STDIN") as copy,
    ):
        for row in frame.itertuples(index=False):
            copy.write_row([farm, source, *row])


def recent_farm(cows: int = 30, days: float = 12, seed: int = 5, emerging: int = 3) -> FarmSimulation:
    """A farm whose history ends about now, with cases emerging in its last days."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days)
    return simulate_farm(cows, days, seed, start=start, emerging_cases=emerging)
