from __future__ import annotations

import gzip
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.support.api import FarmKey, create_farm_with_key, running_api

TIGHT_LIMITS = {
    "PECUS_MAX_BATCH_SIZE": "50",
    "PECUS_MAX_BODY_BYTES": str(256 * 1024),
    "PECUS_MAX_COMPRESSED_BYTES": str(32 * 1024),
}


@pytest.fixture(scope="session")
def api_url(db_url: str) -> Iterator[str]:
    """The API (`pecus serve` subprocess) with default limits, shared by this worker's tests."""
    with running_api(db_url) as url:
        yield url


@pytest.fixture(scope="session")
def tight_api_url(db_url: str) -> Iterator[str]:
    """The API with small limits (TIGHT_LIMITS), to pass them with small bodies."""
    with running_api(db_url, TIGHT_LIMITS) as url:
        yield url


@pytest.fixture
def farm(db_url: str) -> FarmKey:
    return create_farm_with_key(db_url)


@pytest.fixture
def client(api_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api_url, timeout=30) as c:
        yield c


def post_batch(
    client: httpx.Client, farm: FarmKey, body: dict[str, Any] | bytes, *, compress: bool = True
) -> httpx.Response:
    """POST /api/v1/ingest the way the agent does (JSON, gzip)."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {**farm.headers, "Content-Type": "application/json"}
    if compress:
        raw = gzip.compress(raw)
        headers["Content-Encoding"] = "gzip"
    return client.post("/api/v1/ingest", content=raw, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object of a response, checking it has the stable shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["message"], str) and error["message"]
    for d in error["details"]:
        assert set(d) == {"row", "field", "reason"}, d
    return error
