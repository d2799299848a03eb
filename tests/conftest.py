from __future__ import annotations

from collections.abc import Iterator

import pytest

from pecus.cloud.migrations import migrate
from tests.support.pg import fresh_database


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    """A migrated database shared by the tests of one worker. Tests isolate themselves by
    creating their own farms (random ids), never by assuming an empty table."""
    with fresh_database() as url:
        migrate(url)
        yield url


@pytest.fixture
def empty_db_url() -> Iterator[str]:
    """A brand-new, unmigrated database for this test alone."""
    with fresh_database() as url:
        yield url


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def own_db_url() -> Iterator[str]:
    """A migrated database for this test alone: for what works across every farm of a database and
    takes database-wide locks (the notification dispatcher, the risk scan)."""
    with fresh_database("pecus_own") as url:
        migrate(url)
        yield url
