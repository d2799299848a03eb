"""The uploader against a local HTTP server that fails on purpose: the real retry path runs,
only the sleeps between attempts are recorded instead of waited."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import orjson
import pytest

from pecus.agent.source import Batch
from pecus.agent.uploader import CloudClient, Payload, Rejected, RetryPolicy, Unreachable, encode
from pecus.contract import IngestBatch
from tests.agent.scripted_server import DROP, Answer, Hang, ScriptedServer

pytestmark = pytest.mark.anyio

FARM = "6f1c3a52-6a8e-4c8c-9a36-0d6f0f6b1e11"
OK = Answer(200, {"received": 3, "inserted": 3, "already_present": 0, "watermark": 3})


def small_batch(first: int = 1, count: int = 3) -> Batch:
    ids = list(range(first, first + count))
    start = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)
    return Batch(
        {
            "transaction_id": ids,
            "unit": ["1"] * count,
            "animal_id": [str(100 + i) for i in ids],
            "started_at": [start + timedelta(minutes=i) for i in ids],
            "ended_at": [start + timedelta(minutes=i + 5) for i in ids],
            "yield_kg": [10.5] * count,
            "conductivity_avg": [None] * count,
        }
    )


def payload(batch: Batch | None = None) -> Payload:
    batch = batch or small_batch()
    agent = {"version": "test", "host": "pc"}
    return next(
        encode(batch, farm_id=FARM, source="delpro", agent=agent, cycle_id="c1", max_body_bytes=1 << 20)
    )


class Sleeps(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def client(server: ScriptedServer, sleeps: Sleeps, **kwargs: object) -> CloudClient:
    options: dict[str, object] = {"timeout": 5.0, "retry": RetryPolicy(), "jitter": lambda lo, hi: 0.25}
    options.update(kwargs)
    return CloudClient(server.url, "secret-key-123", FARM, sleep=sleeps, **options)  # type: ignore[arg-type]


async def test_a_batch_travels_gzipped_column_oriented_with_the_key() -> None:
    with ScriptedServer([OK]).running() as server:
        async with client(server, Sleeps()) as cloud:
            result = await cloud.ingest(payload())
    assert result.inserted == 3 and result.watermark == 3
    (request,) = server.requests
    assert request.method == "POST" and request.path == "/api/v1/ingest"
    assert request.headers["Authorization"] == "Bearer secret-key-123"
    assert request.headers["Content-Encoding"] == "gzip"
    batch = IngestBatch.model_validate_json(request.body)
    assert batch.rows is None and batch.columns is not None
    assert batch.columns["transaction_id"] == [1, 2, 3]
    assert batch.columns["started_at"][0] == "2026-03-01T04:01:00Z"
    assert batch.columns["conductivity_avg"] == [None, None, None]
    assert batch.farm_id == FARM and batch.source == "delpro" and batch.cycle_id == "c1"


async def test_503_with_retry_after_is_retried_after_the_time_the_server_asks() -> None:
    busy = Answer(503, {"error": {"code": "busy", "message": "later"}}, {"Retry-After": "7"})
    sleeps = Sleeps()
    with ScriptedServer([busy, busy, OK]).running() as server:
        async with client(server, sleeps) as cloud:
            assert (await cloud.ingest(payload())).inserted == 3
    assert sleeps == [7.0, 7.0]
    assert len(server.requests) == 3


async def test_429_with_an_http_date() -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    sleeps = Sleeps()
    with ScriptedServer([Answer(429, None, {"Retry-After": later}), OK]).running() as server:
        async with client(server, sleeps) as cloud:
            await cloud.ingest(payload())
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30


async def test_dropped_connections_back_off_2_then_4_seconds_plus_jitter() -> None:
    sleeps = Sleeps()
    with ScriptedServer([DROP, DROP, OK]).running() as server:
        async with client(server, sleeps) as cloud:
            assert (await cloud.ingest(payload())).watermark == 3
    assert sleeps == [2.25, 4.25]


async def test_a_server_that_hangs_past_the_timeout_is_retried() -> None:
    sleeps = Sleeps()
    with ScriptedServer([Hang(2.0), OK]).running() as server:
        async with client(server, sleeps, timeout=0.3) as cloud:
            assert (await cloud.ingest(payload())).inserted == 3
    assert len(server.requests) == 2 and sleeps == [2.25]


async def test_after_five_failed_attempts_the_cloud_is_unreachable() -> None:
    failing = Answer(500, {"error": {"code": "internal", "message": "boom"}})
    sleeps = Sleeps()
    with ScriptedServer([], default=failing).running() as server:
        async with client(server, sleeps) as cloud:
            with pytest.raises(Unreachable, match="failed 5 time"):
                await cloud.ingest(payload())
    assert sleeps == [2.25, 4.25, 8.25, 16.25]
    assert len(server.requests) == 5


async def test_attempts_are_configurable(free_port: int) -> None:
    sleeps = Sleeps()
    cloud = CloudClient(
        f"http://127.0.0.1:{free_port}", "k", FARM, retry=RetryPolicy(attempts=2), sleep=sleeps
    )
    async with cloud:
        with pytest.raises(Unreachable, match="ConnectError"):
            await cloud.sync_status("delpro")
    assert len(sleeps) == 1


async def test_a_validation_error_is_not_retried_and_names_the_source_rows() -> None:
    invalid = Answer(
        422,
        {
            "error": {
                "code": "invalid_rows",
                "message": "1 row is invalid; nothing was stored",
                "details": [{"row": 1, "field": "yield_kg", "reason": "must be at most 50"}],
            }
        },
    )
    sleeps = Sleeps()
    with ScriptedServer([invalid, OK]).running() as server:
        async with client(server, sleeps) as cloud:
            with pytest.raises(Rejected) as caught:
                await cloud.ingest(payload(small_batch(first=40)))
    assert len(server.requests) == 1 and sleeps == []
    assert caught.value.status == 422 and not caught.value.key_problem
    lines = caught.value.explain([40, 41, 42], "OID")
    assert lines[1] == "  row 1 (OID 41), yield_kg: must be at most 50"


@pytest.mark.parametrize("status", [401, 403, 404, 413])
async def test_other_client_errors_are_not_retried(status: int) -> None:
    answer = Answer(status, {"error": {"code": "nope", "message": "refused", "details": []}})
    with ScriptedServer([answer, OK]).running() as server:
        async with client(server, Sleeps()) as cloud:
            with pytest.raises(Rejected, match=f"{status} nope"):
                await cloud.sync_status("delpro")
    assert len(server.requests) == 1


async def test_handshake_reads_the_watermark_and_the_servers_date() -> None:
    status = {
        "farm_id": FARM,
        "source": "delpro",
        "watermark": 41,
        "max_batch_size": 500,
        "max_body_bytes": 9999,
    }
    with ScriptedServer([Answer(200, status)]).running() as server:
        async with client(server, Sleeps()) as cloud:
            result = await cloud.sync_status("delpro")
            assert cloud.server_date is not None
    assert result.watermark == 41 and result.max_batch_size == 500
    assert server.requests[0].path == f"/api/v1/sync/status?farm_id={FARM}&source=delpro"


def test_a_batch_over_the_servers_body_limit_is_split() -> None:
    batch = small_batch(count=40)
    agent = {"version": "test", "host": "pc"}
    whole = next(encode(batch, farm_id=FARM, source="s", agent=agent, cycle_id="c", max_body_bytes=1 << 20))
    limit = whole.json_bytes // 3
    parts = list(encode(batch, farm_id=FARM, source="s", agent=agent, cycle_id="c", max_body_bytes=limit))
    assert len(parts) >= 4
    assert [i for p in parts for i in p.batch.ids] == batch.ids
    for part in parts:
        assert part.json_bytes <= limit and len(part.body) <= limit
        assert len(gzip.decompress(part.body)) == part.json_bytes
        assert orjson.loads(gzip.decompress(part.body))["columns"]["transaction_id"] == part.batch.ids
        assert list(part.batch.columns) == ["transaction_id"]  # the values travel in the body only
