"""Every kind of bad batch gets a precise error and changes nothing that was stored."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
import pytest

from tests.api.conftest import error_of, post_batch
from tests.support.api import FarmKey, farm_snapshot
from tests.support.sessions import altered, as_columns, batch, session_row


@pytest.fixture
def stocked(db_url: str, client: httpx.Client, farm: FarmKey) -> Iterator[FarmKey]:
    """A farm with 10 sessions already stored; after the test its stored data must be unchanged."""
    assert (
        post_batch(client, farm, batch(farm.farm_id, [session_row(i) for i in range(1, 11)])).status_code
        == 200
    )
    before = farm_snapshot(db_url, farm.farm_id)
    yield farm
    assert farm_snapshot(db_url, farm.farm_id) == before


def rows_with(index: int, **overrides: Any) -> list[dict[str, Any]]:
    """Rows 11..15 (new to the stocked farm) with row `index` altered."""
    rows = [session_row(i) for i in range(11, 16)]
    rows[index] = altered(rows[index], **overrides)
    return rows


def details(response: httpx.Response, status: int, code: str) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    error = error_of(response)
    assert error["code"] == code, error
    result: list[dict[str, Any]] = error["details"]
    return result


def test_malformed_json(client: httpx.Client, stocked: FarmKey) -> None:
    r = post_batch(client, stocked, b'{"farm_id": "x", "rows": [')
    assert details(r, 400, "malformed_json") == []
    assert "not valid JSON" in error_of(r)["message"]


def test_wrong_types_name_row_and_field(client: httpx.Client, stocked: FarmKey) -> None:
    rows = rows_with(2, yield_kg="a lot")
    rows[4] = altered(rows[4], transaction_id="fifteen", incomplete="maybe")
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_rows")
    assert [(d["row"], d["field"]) for d in got] == [
        (2, "yield_kg"),
        (4, "transaction_id"),
        (4, "incomplete"),
    ]
    assert (
        got[0]["reason"] == 'Input should be a valid number, unable to parse string as a number (got "a lot")'
    )


def test_missing_required_field(client: httpx.Client, stocked: FarmKey) -> None:
    got = details(
        post_batch(client, stocked, batch(stocked.farm_id, rows_with(1, animal_id=...))), 422, "invalid_rows"
    )
    assert got == [{"row": 1, "field": "animal_id", "reason": "Field required"}]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("yield_kg", -0.5, "Input should be greater than or equal to 0 (got -0.5)"),
        ("yield_kg", 51, "Input should be less than or equal to 50 (got 51)"),
        ("conductivity_rr", 20.5, "Input should be less than or equal to 20 (got 20.5)"),
        ("yield_lf", 26, "Input should be less than or equal to 25 (got 26)"),
        ("blood_max", 10001, "Input should be less than or equal to 10000 (got 10001)"),
        ("flow_peak", 16, "Input should be less than or equal to 15 (got 16)"),
        ("duration_s", 3601, "Input should be less than or equal to 3600 (got 3601)"),
        ("cell_count", -1, "Input should be greater than or equal to 0 (got -1)"),
        ("lactation_number", 0, "Input should be greater than or equal to 1 (got 0)"),
        ("days_in_milk", 1001, "Input should be less than or equal to 1000 (got 1001)"),
        ("mdi", 10.5, "Input should be less than or equal to 10 (got 10.5)"),
        ("transaction_id", 0, "Input should be greater than 0 (got 0)"),
        ("unit", "", 'String should have at least 1 character (got "")'),
    ],
)
def test_values_outside_the_contract(
    client: httpx.Client, stocked: FarmKey, field: str, value: Any, reason: str
) -> None:
    got = details(
        post_batch(client, stocked, batch(stocked.farm_id, rows_with(3, **{field: value}))),
        422,
        "invalid_rows",
    )
    assert got == [{"row": 3, "field": field, "reason": reason}]


def test_started_after_ended(client: httpx.Client, stocked: FarmKey) -> None:
    rows = rows_with(0, started_at="2026-03-01T06:00:00Z", ended_at="2026-03-01T05:59:00Z")
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_rows")
    assert got == [{"row": 0, "field": "started_at", "reason": "started_at is after ended_at"}]


def test_started_far_in_the_future(client: httpx.Client, stocked: FarmKey) -> None:
    future = datetime.now(UTC) + timedelta(days=3)
    rows = rows_with(4, started_at=future.isoformat(), ended_at=(future + timedelta(minutes=6)).isoformat())
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_rows")
    assert got == [{"row": 4, "field": "started_at", "reason": "started_at is more than 1 day in the future"}]


def test_time_without_offset(client: httpx.Client, stocked: FarmKey) -> None:
    got = details(
        post_batch(client, stocked, batch(stocked.farm_id, rows_with(1, started_at="2026-03-01T05:00:00"))),
        422,
        "invalid_rows",
    )
    assert [(d["row"], d["field"]) for d in got] == [(1, "started_at")]
    assert "timezone" in got[0]["reason"]


def test_same_transaction_id_twice(client: httpx.Client, stocked: FarmKey) -> None:
    rows = rows_with(3, transaction_id=12)
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "duplicate_transaction_id")
    assert got == [{"row": 3, "field": "transaction_id", "reason": "duplicate of row 1 in this batch"}]


def test_extra_over_4_kib(client: httpx.Client, stocked: FarmKey) -> None:
    rows = rows_with(2, extra={"note": "x" * 4100})
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_rows")
    assert got == [
        {"row": 2, "field": "extra", "reason": "extra is larger than 4096 bytes once encoded as JSON"}
    ]


def test_unknown_row_field(client: httpx.Client, stocked: FarmKey) -> None:
    got = details(
        post_batch(client, stocked, batch(stocked.farm_id, rows_with(1, somatic=3))), 422, "invalid_rows"
    )
    assert got == [{"row": 1, "field": "somatic", "reason": "Extra inputs are not permitted"}]


def test_a_row_that_is_not_an_object(client: httpx.Client, stocked: FarmKey) -> None:
    rows: list[Any] = rows_with(0)
    rows[2] = [1, 2, 3]
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_batch")
    assert [(d["row"], d["field"]) for d in got] == [(2, None)]


def test_one_bad_row_keeps_the_whole_batch_out(db_url: str, client: httpx.Client, stocked: FarmKey) -> None:
    rows = [session_row(i, animal=f"new-{i}", unit="Robot 9") for i in range(100, 200)]
    rows[99] = altered(rows[99], conductivity_lf=-1)
    got = details(
        post_batch(client, stocked, batch(stocked.farm_id, rows, source="other")), 422, "invalid_rows"
    )
    assert [(d["row"], d["field"]) for d in got] == [(99, "conductivity_lf")]
    # `stocked` checks that no session, cow, robot or source was added.


def test_many_bad_rows_list_the_first_hundred(client: httpx.Client, stocked: FarmKey) -> None:
    rows = [session_row(i, yield_kg=99) for i in range(11, 311)]
    r = post_batch(client, stocked, batch(stocked.farm_id, rows))
    got = details(r, 422, "invalid_rows")
    assert len(got) == 100 and got[0]["row"] == 0 and got[-1]["row"] == 99
    assert "showing the first 100 of 300 problems" in error_of(r)["message"]


def test_envelope_errors(client: httpx.Client, stocked: FarmKey) -> None:
    body = batch(stocked.farm_id, rows_with(0))
    del body["agent"]
    got = details(post_batch(client, stocked, body), 422, "invalid_batch")
    assert got == [{"row": None, "field": "agent", "reason": "Field required"}]
    body = batch(stocked.farm_id, rows_with(0), source="has space")
    got = details(post_batch(client, stocked, body), 422, "invalid_batch")
    assert [d["field"] for d in got] == ["source"]
    got = details(post_batch(client, stocked, b"[1, 2]"), 422, "invalid_batch")
    assert got[0]["reason"].startswith("Input should be a valid dictionary")


def test_rows_and_columns_are_exclusive(client: httpx.Client, stocked: FarmKey) -> None:
    body = batch(stocked.farm_id, rows_with(0))
    both = {**body, "columns": as_columns(body)["columns"]}
    details(post_batch(client, stocked, both), 422, "invalid_batch")
    neither = {k: v for k, v in body.items() if k != "rows"}
    got = details(post_batch(client, stocked, neither), 422, "invalid_batch")
    assert got == [
        {"row": None, "field": "rows", "reason": "give either rows or columns, not both or neither"}
    ]


def test_bad_columns(client: httpx.Client, stocked: FarmKey) -> None:
    body = as_columns(batch(stocked.farm_id, rows_with(0)))
    uneven = {**body, "columns": {**body["columns"], "yield_kg": [10.0, 11.0]}}
    got = details(post_batch(client, stocked, uneven), 422, "invalid_batch")
    assert {"row": None, "field": "columns.yield_kg", "reason": "has 2 values"} in got
    unknown = {**body, "columns": {**body["columns"], "somatic": [1] * 5}}
    got = details(post_batch(client, stocked, unknown), 422, "invalid_batch")
    assert got == [
        {"row": None, "field": "columns.somatic", "reason": "not a column of the session contract"}
    ]
    bad = {**body, "columns": {**body["columns"], "yield_kg": [10, 11, 12, 99, 13]}}
    got = details(post_batch(client, stocked, bad), 422, "invalid_rows")
    assert [(d["row"], d["field"]) for d in got] == [(3, "yield_kg")]


def test_more_rows_than_max_batch_size(tight_api_url: str, db_url: str, stocked: FarmKey) -> None:
    with httpx.Client(base_url=tight_api_url) as tight:
        status = tight.get(
            "/api/v1/sync/status",
            params={"farm_id": str(stocked.farm_id), "source": "delpro"},
            headers=stocked.headers,
        ).json()
        assert status["max_batch_size"] == 50
        r = post_batch(tight, stocked, batch(stocked.farm_id, [session_row(i) for i in range(11, 62)]))
        assert details(r, 413, "batch_too_large") == []
        assert "51 rows; the limit is 50" in error_of(r)["message"]
        cols = as_columns(batch(stocked.farm_id, [session_row(i) for i in range(11, 62)]))
        details(post_batch(tight, stocked, cols), 413, "batch_too_large")


def test_body_over_the_limit_uncompressed(tight_api_url: str, stocked: FarmKey) -> None:
    body = orjson.dumps(batch(stocked.farm_id, rows_with(0, extra=None))) + b" " * (256 * 1024)
    with httpx.Client(base_url=tight_api_url) as tight:
        r = post_batch(tight, stocked, body, compress=False)
        details(r, 413, "body_too_large")
        assert "decompressed request body is larger than 262144 bytes" in error_of(r)["message"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while streaming
            yield from (body[i : i + 8192] for i in range(0, len(body), 8192))

        r = tight.post(
            "/api/v1/ingest",
            content=chunks(),
            headers={**stocked.headers, "Content-Type": "application/json"},
        )
        details(r, 413, "body_too_large")


def test_body_over_the_limit_compressed(tight_api_url: str, stocked: FarmKey) -> None:
    noise = os.urandom(40 * 1024).hex()  # incompressible: > 32 KiB once gzipped
    body = batch(stocked.farm_id, rows_with(0), cycle_id=noise)
    with httpx.Client(base_url=tight_api_url) as tight:
        r = post_batch(tight, stocked, body)
        details(r, 413, "body_too_large")
        assert "compressed request body is larger than 32768 bytes" in error_of(r)["message"]


def test_body_over_the_limit_after_decompression(tight_api_url: str, stocked: FarmKey) -> None:
    body = orjson.dumps(batch(stocked.farm_id, rows_with(0), cycle_id="a" * 300_000))
    wire = gzip.compress(body)
    assert len(wire) < 32 * 1024 < 256 * 1024 < len(body)
    with httpx.Client(base_url=tight_api_url) as tight:
        r = tight.post(
            "/api/v1/ingest", content=wire, headers={**stocked.headers, "Content-Encoding": "gzip"}
        )
        details(r, 413, "body_too_large")
        assert "decompressed request body is larger than 262144 bytes" in error_of(r)["message"]


def peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        lines = status.read().splitlines()
    for line in lines:
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def api_pid(api_url: str) -> int:
    import psutil

    port = int(api_url.rsplit(":", 1)[1])
    for conn in psutil.net_connections("tcp"):
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
            return conn.pid
    raise AssertionError(f"no process listens on port {port}")


def single_member_bomb(mib: int) -> bytes:
    """One gzip stream of `mib` MiB of zeros (~1 kB per MiB). After a full flush the compressor
    starts afresh, so every further MiB compresses to the same bytes: build it from two."""
    zeros = bytes(1024 * 1024)
    squeeze = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    again = squeeze.compress(zeros) + squeeze.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    end = squeeze.flush()[:-8] + struct.pack("<II", crc, (mib * len(zeros)) & 0xFFFFFFFF)
    return first + again * (mib - 1) + end


@pytest.mark.parametrize("members", ["one", "many"])
def test_gzip_bomb_is_refused_without_inflating_it(api_url: str, stocked: FarmKey, members: str) -> None:
    mib = 512
    if members == "one":
        bomb = single_member_bomb(mib)
        assert zlib.decompressobj(31).decompress(bomb, 4 << 20) == bytes(4 << 20)
    else:  # 512 gzip members of 1 MiB each, one valid gzip stream too
        bomb = gzip.compress(bytes(1024 * 1024), 9) * mib
    assert len(bomb) < 1024 * 1024
    pid = api_pid(api_url)
    before = peak_rss_bytes(pid)
    with httpx.Client(base_url=api_url, timeout=30) as c:
        r = c.post("/api/v1/ingest", content=bomb, headers={**stocked.headers, "Content-Encoding": "gzip"})
    details(r, 413, "body_too_large")
    # Inflating would take 512 MiB (or 64 MiB and more per network read, for an unbounded
    # decompress call); the server stops at its 16 MiB limit.
    assert peak_rss_bytes(pid) - before < 40 * 1024 * 1024


def test_bad_gzip(client: httpx.Client, stocked: FarmKey) -> None:
    good = gzip.compress(orjson.dumps(batch(stocked.farm_id, rows_with(0))))
    headers = {**stocked.headers, "Content-Encoding": "gzip"}
    r = client.post("/api/v1/ingest", content=b"this is not gzip at all", headers=headers)
    assert "not valid gzip" in error_of(r)["message"] and r.status_code == 400
    corrupt = good[:30] + bytes(b ^ 0xFF for b in good[30:60]) + good[60:]
    r = client.post("/api/v1/ingest", content=corrupt, headers=headers)
    details(r, 400, "bad_encoding")
    r = client.post("/api/v1/ingest", content=good[: len(good) // 2], headers=headers)
    details(r, 400, "bad_encoding")
    assert "truncated" in error_of(r)["message"]
    r = client.post("/api/v1/ingest", content=b"", headers=headers)
    details(r, 400, "bad_encoding")


def test_unsupported_encoding(client: httpx.Client, stocked: FarmKey) -> None:
    r = client.post(
        "/api/v1/ingest",
        content=orjson.dumps(batch(stocked.farm_id, rows_with(0))),
        headers={**stocked.headers, "Content-Encoding": "br"},
    )
    details(r, 415, "unsupported_encoding")


def test_refused_uploads_are_logged_as_rejected_runs(
    db_url: str, client: httpx.Client, stocked: FarmKey
) -> None:
    from pecus.cloud.database import connect

    post_batch(client, stocked, batch(stocked.farm_id, rows_with(1, yield_kg=80), cycle_id="c-42"))
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT result, rows_received, rows_inserted, cycle_id, error, source_id IS NOT NULL,"
            " agent_key_id FROM sync_runs WHERE tenant_id = %s ORDER BY run_id DESC LIMIT 1",
            [stocked.farm_id],
        ).fetchone()
    assert row is not None
    assert row[:4] == ("rejected", 5, 0, "c-42")
    assert row[4].startswith("invalid_rows:") and row[5] is True and row[6] == stocked.key_id


def test_both_shapes_report_the_same_problems(client: httpx.Client, stocked: FarmKey) -> None:
    rows = [session_row(i) for i in range(11, 21)]
    rows[1] = altered(rows[1], yield_kg=-3, conductivity_rr=30)
    rows[4] = altered(rows[4], started_at="2026-03-01T09:00:00Z", ended_at="2026-03-01T08:00:00Z")
    rows[7] = altered(rows[7], animal_id="", duration_s="long", extra={"x": "y" * 5000})
    body = batch(stocked.farm_id, rows)
    by_rows = details(post_batch(client, stocked, body), 422, "invalid_rows")
    by_columns = details(post_batch(client, stocked, as_columns(body)), 422, "invalid_rows")
    assert by_rows == by_columns
    assert [(d["row"], d["field"]) for d in by_rows] == [
        (1, "yield_kg"),
        (1, "conductivity_rr"),
        (4, "started_at"),
        (7, "animal_id"),
        (7, "duration_s"),
        (7, "extra"),
    ]


def test_a_required_column_missing(client: httpx.Client, stocked: FarmKey) -> None:
    body = as_columns(batch(stocked.farm_id, rows_with(0)))
    del body["columns"]["ended_at"]
    got = details(post_batch(client, stocked, body), 422, "invalid_rows")
    assert got == [{"row": None, "field": "ended_at", "reason": "Field required"}]


def test_nul_characters_are_refused(client: httpx.Client, stocked: FarmKey) -> None:
    rows = rows_with(1, animal_id="12\x003")
    rows[3] = altered(rows[3], extra={"note": "a\x00b"})
    got = details(post_batch(client, stocked, batch(stocked.farm_id, rows)), 422, "invalid_rows")
    assert [(d["row"], d["field"]) for d in got] == [(1, "animal_id"), (3, "extra")]
    assert got[0]["reason"] == "contains a NUL character, which cannot be stored"
