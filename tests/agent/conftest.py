"""Real source databases for the agent: SQLite, PostgreSQL and MariaDB, a fresh one per test."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from pecus.agent.config import AgentConfig, load_config
from pecus.agent.cycle import Syncer
from pecus.agent.state import CycleRecord, StateStore
from tests.agent import delpro_data
from tests.support.api import FarmKey, create_farm_with_key, running_api, stored_transaction_ids
from tests.support.pg import fresh_database

MARIADB_URL = os.environ.get("PECUS_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")
DIALECTS = ["sqlite", "postgresql", "mariadb"]


@dataclass
class SourceDB:
    """A DelPro-shaped database: `url` + `schema` as the agent's config names them, and an engine
    for the test to write milkings with."""

    dialect: str
    url: str
    schema: str | None
    engine: Engine

    def source_settings(self, name: str = "delpro") -> dict[str, object]:
        settings: dict[str, object] = {"name": name, "url": self.url}
        if self.schema:
            settings["schema"] = self.schema
        return settings


def get_free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on."""
    return get_free_port()


@pytest.fixture(scope="session")
def pg_source_server() -> Iterator[str]:
    """One PostgreSQL database for this worker's sources; each test gets a schema in it."""
    with fresh_database("pecus_src") as conninfo:
        yield sqlalchemy_pg_url(conninfo)


def sqlalchemy_pg_url(conninfo: str) -> str:
    """A psycopg conninfo (URL or key=value) as a SQLAlchemy URL (works for sockets too)."""
    from psycopg.conninfo import conninfo_to_dict

    params = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    url = URL.create(
        "postgresql+psycopg",
        username=params.pop("user", None),
        password=params.pop("password", None),
        database=params.pop("dbname", None),
        query=params,
    )
    return url.render_as_string(hide_password=False)


def _execute(url: str, sql: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def _engine(url: str, schema: str | None) -> Engine:
    options = {"schema_translate_map": {None: schema}} if schema else {}
    return create_engine(url, execution_options=options)


@pytest.fixture
def make_source_db(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[object]:
    """make_source_db(dialect) -> an empty DelPro database of that dialect."""
    cleanups: list[Engine | tuple[str, str]] = []

    def make(dialect: str, *, tables: bool = True) -> SourceDB:
        if dialect == "sqlite":
            url, schema = f"sqlite:///{tmp_path / f'delpro-{uuid.uuid4().hex[:6]}.db'}", None
        elif dialect == "postgresql":
            url = request.getfixturevalue("pg_source_server")
            schema = f"delpro_{uuid.uuid4().hex[:10]}"
            _execute(url, f'CREATE SCHEMA "{schema}"')
            cleanups.append((url, f'DROP SCHEMA "{schema}" CASCADE'))
        elif dialect == "mariadb":
            name = f"pecus_src_{uuid.uuid4().hex[:10]}"
            _execute(MARIADB_URL, f"CREATE DATABASE `{name}`")
            url, schema = make_url(MARIADB_URL).set(database=name).render_as_string(hide_password=False), None
            cleanups.append((MARIADB_URL, f"DROP DATABASE `{name}`"))
        else:
            raise ValueError(dialect)
        engine = _engine(url, schema)
        cleanups.append(engine)
        if tables:
            delpro_data.create_tables(engine)
        return SourceDB(dialect, url, schema, engine)

    yield make
    for item in reversed(cleanups):
        if isinstance(item, Engine):
            item.dispose()
        else:
            _execute(*item)


@pytest.fixture(params=DIALECTS)
def source_db(request: pytest.FixtureRequest, make_source_db: object) -> SourceDB:
    """The DelPro tables with a herd, in each source dialect in turn."""
    db: SourceDB = make_source_db(request.param)  # type: ignore[operator]
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
    return db


# --- the agent against the real API -----------------------------------------------------------


def to_toml(settings: dict[str, Any]) -> str:
    """Enough TOML for agent.toml: scalars, lists of scalars, [[source]] with nested tables."""

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    def table(prefix: str, data: dict[str, Any], header: str) -> list[str]:
        lines = [header] if header else []
        nested = {k: v for k, v in data.items() if isinstance(v, dict)}
        lines += [f"{k} = {value(v)}" for k, v in data.items() if k not in nested and k != "source"]
        for key, sub in nested.items():
            lines += table(f"{prefix}{key}.", sub, f"[{prefix}{key}]")
        return lines

    lines = table("", settings, "")
    for source in settings.get("source", []):
        lines += table("source.", source, "[[source]]")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="session")
def cloud_url(db_url: str) -> Iterator[str]:
    """The real API (`pecus serve` in a subprocess) on loopback, shared by this worker's tests."""
    with running_api(db_url) as url:
        yield url


@pytest.fixture
def farm(db_url: str) -> FarmKey:
    return create_farm_with_key(db_url, time_zone="Europe/Rome")


@dataclass
class Agent:
    """One farm's agent set up in a temporary folder: agent.toml, logs, state."""

    folder: Path
    settings: dict[str, Any]
    farm: FarmKey
    db_url: str

    @property
    def config_path(self) -> Path:
        return self.folder / "agent.toml"

    def write(self, **changes: Any) -> Path:
        self.settings.update(changes)
        self.config_path.write_text(to_toml(self.settings), encoding="utf-8")
        return self.config_path

    def config(self) -> AgentConfig:
        return load_config(self.write(), {})

    def syncer(self, **kwargs: Any) -> Syncer:
        config = self.config()
        kwargs.setdefault("sleep", no_sleep)
        return Syncer(config, StateStore(config.resolved_state_file()), **kwargs)

    def cycle(self, **kwargs: Any) -> CycleRecord:
        return asyncio.run(self.syncer(**kwargs).cycle("test"))

    def cloud_ids(self, source: str | None = "delpro") -> list[int]:
        return stored_transaction_ids(self.db_url, self.farm.farm_id, source)


async def no_sleep(seconds: float) -> None:
    """Retries run for real, without waiting out the backoff."""


@pytest.fixture
def make_agent(tmp_path: Path, cloud_url: str, farm: FarmKey, db_url: str) -> Any:
    def make(*sources: dict[str, Any], url: str | None = None, **settings: Any) -> Agent:
        base: dict[str, Any] = {
            "cloud_url": url or cloud_url,
            "farm_id": str(farm.farm_id),
            "api_key": farm.key,
            "time_zone": "Europe/Rome",
            "log_dir": str(tmp_path / "logs"),
            "state_file": str(tmp_path / "state" / "agent-state.json"),
            "request_timeout": 10,
            "source": list(sources),
        }
        base.update(settings)
        agent = Agent(tmp_path, base, farm, db_url)
        agent.write()
        return agent

    return make
