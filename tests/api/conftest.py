from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.api import FarmKey, create_farm_with_key, running_api


@pytest.fixture(scope="session")
def api_url(db_url: str) -> Iterator[str]:
    """The API (`pecus serve` subprocess) with default limits, shared by this worker's tests."""
    with running_api(db_url) as url:
        yield url


@pytest.fixture
def farm(db_url: str) -> FarmKey:
    return create_farm_with_key(db_url)


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as c:
        yield c
