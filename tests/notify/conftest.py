from __future__ import annotations

from collections.abc import Iterator

import pytest

from pecus.cloud.migrations import migrate
from tests.support.pg import fresh_database


@pytest.fixture
def outbox_db() -> Iterator[str]:
    """A migrated database for this test alone: a dispatcher delivers every farm's outbox and takes
    a database-wide lock, so each test has its own."""
    with fresh_database("pecus_outbox") as url:
        migrate(url)
        yield url
