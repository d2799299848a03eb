"""/healthz, /readyz, the OpenAPI document and the API's answers when the database goes away."""

from __future__ import annotations

import time

import httpx
import pytest
from psycopg.conninfo import make_conninfo

from pecus.cloud.migrations import load_migrations, migrate
from tests.api.conftest import error_of, post_batch
from tests.support.api import FarmKey, running_api
from tests.support.sessions import batch, session_row
from tests.support.tcp_proxy import postgres_behind, tcp_proxy


def wait_for(client: httpx.Client, path: str, status: int, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        r = client.get(path)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.2)


def test_healthz_and_readyz(client: httpx.Client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready", "schema": load_migrations()[-1].version}


def test_readyz_fails_while_migrations_are_pending(empty_db_url: str) -> None:
    with running_api(empty_db_url) as url, httpx.Client(base_url=url) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        error = error_of(r)
        assert error["code"] == "migrations_pending"
        assert [d["reason"] for d in error["details"]] == [
            f"{m.version} is not applied" for m in load_migrations()
        ]
        migrate(empty_db_url)
        assert c.get("/readyz").status_code == 200


def test_database_down_then_back(db_url: str, farm: FarmKey) -> None:
    host, port = postgres_behind(db_url)
    with tcp_proxy(host, port) as proxy:
        url = make_conninfo(db_url, host="127.0.0.1", port=str(proxy.port))
        env = {"PECUS_READY_TIMEOUT": "1", "PECUS_DB_TIMEOUT": "1"}
        with running_api(url, env) as api, httpx.Client(base_url=api, timeout=30) as c:
            assert c.get("/readyz").status_code == 200
            assert post_batch(c, farm, batch(farm.farm_id, [session_row(1)])).status_code == 200

            proxy.stop()  # the database is gone: open connections cut, new ones refused
            r = c.get("/readyz")
            assert r.status_code == 503 and error_of(r)["code"] == "database_unavailable"
            assert c.get("/healthz").status_code == 200  # the process itself is fine
            r = post_batch(c, farm, batch(farm.farm_id, [session_row(2)]))
            assert r.status_code == 503 and error_of(r)["code"] == "database_unavailable"
            assert r.headers["retry-after"] == "5"

            proxy.start()  # back on the same address: the API recovers by itself
            assert wait_for(c, "/readyz", 200).status_code == 200
            deadline = time.monotonic() + 30
            while (r := post_batch(c, farm, batch(farm.farm_id, [session_row(2)]))).status_code == 503:
                assert time.monotonic() < deadline, r.text
                time.sleep(0.2)
            assert r.json()["watermark"] == 2


def test_openapi_documents_the_agent_api(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert {"/api/v1/sync/status", "/api/v1/ingest", "/healthz", "/readyz"} <= set(doc["paths"])
    ingest = doc["paths"]["/api/v1/ingest"]["post"]
    assert ingest["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/IngestBatch"
    }
    assert {"200", "401", "403", "413", "422"} <= set(ingest["responses"])
    schemas = doc["components"]["schemas"]
    assert {"IngestBatch", "MilkingSession", "AgentInfo", "IngestResult", "SyncStatus", "ErrorBody"} <= set(
        schemas
    )
    assert schemas["MilkingSession"]["properties"]["yield_kg"]["maximum"] == 50


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/api/v1/nothing", 404, "not_found"),
        ("GET", "/api/v1/ingest", 405, "method_not_allowed"),
    ],
)
def test_other_errors_have_the_same_shape(
    client: httpx.Client, method: str, path: str, status: int, code: str
) -> None:
    r = client.request(method, path)
    assert r.status_code == status and error_of(r)["code"] == code


def test_missing_query_parameters(client: httpx.Client, farm: FarmKey) -> None:
    r = client.get("/api/v1/sync/status", params={"farm_id": str(farm.farm_id)}, headers=farm.headers)
    assert r.status_code == 422
    assert error_of(r)["details"] == [{"row": None, "field": "source", "reason": "Field required"}]


def test_serve_with_migrate_brings_a_new_database_up_to_date(empty_db_url: str) -> None:
    with running_api(empty_db_url, args=["--migrate"]) as url, httpx.Client(base_url=url) as c:
        assert c.get("/readyz").json()["status"] == "ready"
