"""`pecus migrate`: from empty, as a no-op again, concurrently, and beside a real Supabase auth."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg

from pecus.cloud.migrations import load_migrations, migrate, pending

TENANT_TABLES = {
    "tenants",
    "memberships",
    "sources",
    "milking_units",
    "agent_keys",
    "animals",
    "milking_sessions",
    "alerts",
    "alert_status_changes",
    "notifications",
    "sync_runs",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')"
            )
        }


def test_applies_from_empty_then_is_a_no_op(empty_db_url: str) -> None:
    versions = [m.version for m in load_migrations()]
    assert migrate(empty_db_url) == versions
    assert _tables(empty_db_url) >= TENANT_TABLES
    assert pending(empty_db_url) == []
    assert migrate(empty_db_url) == []
    with psycopg.connect(empty_db_url) as conn:
        recorded = [
            r[0]
            for r in conn.execute(
                "SELECT version FROM supabase_migrations.schema_migrations ORDER BY version"
            )
        ]
        rls = {
            r[0]: r[1]
            for r in conn.execute(
                "SELECT relname, relrowsecurity FROM pg_class WHERE relname = ANY(%s)", [list(TENANT_TABLES)]
            )
        }
    assert recorded == versions
    assert all(rls[t] for t in TENANT_TABLES), rls


def test_two_concurrent_migrate_processes_do_not_collide(empty_db_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_db_url}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pecus.cli", "migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    counts = sorted(int(o.split("applied ")[1].split(" ")[0]) for o in outputs)
    assert counts == [0, len(load_migrations())], outputs
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT version) FROM supabase_migrations.schema_migrations"
        ).fetchone()
    assert row == (len(load_migrations()), len(load_migrations()))


def test_shim_is_skipped_where_supabase_auth_exists(empty_db_url: str) -> None:
    # Stand in for a Supabase project: its auth schema, users table and auth.uid() already exist.
    with psycopg.connect(empty_db_url) as conn:
        conn.execute("CREATE SCHEMA auth")
        conn.execute("CREATE TABLE auth.users (id uuid PRIMARY KEY, email text)")
        for fn, typ, key in [("uid", "uuid", "sub"), ("role", "text", "role")]:
            conn.execute(
                f"CREATE FUNCTION auth.{fn}() RETURNS {typ} LANGUAGE sql STABLE AS $$"
                f" /* supabase original */ SELECT (current_setting('request.jwt.claims', true)::jsonb"
                f" ->> '{key}')::{typ} $$"
            )
        conn.execute(
            "CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$"
            " /* supabase original */ SELECT current_setting('request.jwt.claims', true)::jsonb $$"
        )
    migrate(empty_db_url)
    with psycopg.connect(empty_db_url) as conn:
        body = conn.execute("SELECT prosrc FROM pg_proc WHERE oid = 'auth.uid()'::regprocedure").fetchone()
        has_users_email_only = conn.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'auth'"
            " AND table_name = 'users'"
        ).fetchone()
    assert body is not None and "supabase original" in body[0]
    assert has_users_email_only == (2,)  # the shim's wider auth.users was not created
    assert _tables(empty_db_url) >= TENANT_TABLES


def test_migrate_uses_the_session_connection_never_the_transaction_pooler(empty_db_url: str) -> None:
    """On Supabase, DATABASE_URL is the transaction pooler (port 6543), where the migrations'
    session advisory lock cannot be held: `pecus migrate` uses DATABASE_DIRECT_URL, and without it
    refuses with a message saying what to set."""
    pooler = "postgresql://postgres@127.0.0.1:6543/postgres"
    base = {k: v for k, v in os.environ.items() if k != "DATABASE_DIRECT_URL"}
    refused = subprocess.run(
        [sys.executable, "-m", "pecus.cli", "migrate"],
        env={**base, "DATABASE_URL": pooler},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "DATABASE_DIRECT_URL" in refused.stdout and "6543" in refused.stdout

    done = subprocess.run(
        [sys.executable, "-m", "pecus.cli", "migrate"],
        env={**base, "DATABASE_URL": pooler, "DATABASE_DIRECT_URL": empty_db_url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"applied {len(load_migrations())} migration(s)" in done.stdout
    with psycopg.connect(empty_db_url) as conn:
        row = conn.execute("SELECT count(*) FROM supabase_migrations.schema_migrations").fetchone()
    assert row == (len(load_migrations()),)
