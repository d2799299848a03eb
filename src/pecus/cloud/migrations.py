"""Apply `supabase/migrations/*.sql` in order, exactly once, recording versions the way the
Supabase CLI does (`supabase_migrations.schema_migrations`), so `supabase db push` and
`pecus migrate` agree on what is applied. Concurrent runs serialise on an advisory lock.

On plain PostgreSQL the Supabase shim (`supabase/local/supabase_shim.sql`) is applied first;
where `auth.uid()` already exists (Supabase) it is skipped.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import psycopg

from pecus.cloud.database import connect

log = logging.getLogger(__name__)

# Arbitrary but fixed: every `pecus migrate` of every instance takes this lock.
MIGRATION_LOCK_ID = 0x7065637573_01
_NAME = re.compile(r"^(\d{14})_(\w+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str


def supabase_dir() -> Path:
    """The `supabase/` folder: in a checkout next to `src/`, in a wheel inside the package."""
    packaged = Path(str(resources.files("pecus"))) / "_supabase"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "supabase"


def load_migrations(folder: Path | None = None) -> list[Migration]:
    folder = folder or supabase_dir() / "migrations"
    found = []
    for path in sorted(folder.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path.name}: migration files are named YYYYMMDDHHMMSS_name.sql")
        found.append(Migration(match[1], match[2], path.read_text()))
    return found


def is_supabase_shim_needed(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT to_regprocedure('auth.uid()') IS NULL").fetchone()
    return bool(row and row[0])


def applied_versions(conn: psycopg.Connection[Any]) -> set[str]:
    row = conn.execute("SELECT to_regclass('supabase_migrations.schema_migrations')").fetchone()
    if not row or row[0] is None:
        return set()
    return {r[0] for r in conn.execute("SELECT version FROM supabase_migrations.schema_migrations")}


def _apply_shim(conn: psycopg.Connection[Any], attempts: int = 5) -> None:
    log.info("plain PostgreSQL: applying the Supabase shim")
    shim = (supabase_dir() / "local" / "supabase_shim.sql").read_text()
    for attempt in range(1, attempts + 1):
        try:
            with conn.transaction():
                conn.execute(shim)
            return
        except (psycopg.errors.InternalError, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateObject):
            # Roles are shared by every database of the server: a migrate of another database
            # changed the same role at the same moment. Its change is as good as ours; try again.
            if attempt == attempts:
                raise
            time.sleep(0.1 * attempt)


def migrate(url: str | None = None) -> list[str]:
    """Bring the database to the newest schema. Returns the versions applied by this call."""
    applied_now: list[str] = []
    with connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_ID])
        try:
            if is_supabase_shim_needed(conn):
                _apply_shim(conn)
            conn.execute(
                "CREATE SCHEMA IF NOT EXISTS supabase_migrations;"
                "CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations"
                " (version text PRIMARY KEY, statements text[], name text)"
            )
            done = applied_versions(conn)
            for m in load_migrations():
                if m.version in done:
                    continue
                log.info("applying migration %s_%s", m.version, m.name)
                with conn.transaction():
                    conn.execute(m.sql)
                    conn.execute(
                        "INSERT INTO supabase_migrations.schema_migrations (version, statements, name)"
                        " VALUES (%s, %s, %s)",
                        [m.version, [m.sql], m.name],
                    )
                applied_now.append(m.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_ID])
    return applied_now


def pending(url: str | None = None) -> list[str]:
    """Versions on disk that the database has not applied (for /readyz)."""
    with connect(url) as conn:
        done = applied_versions(conn)
    return [m.version for m in load_migrations() if m.version not in done]
