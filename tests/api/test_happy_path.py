"""An agent's round trip: handshake, upload, handshake again."""

from __future__ import annotations

import gzip

import httpx
import orjson

from tests.support.api import FarmKey
from tests.support.sessions import batch, session_row


def test_handshake_then_gzip_upload_moves_the_watermark(client: httpx.Client, farm: FarmKey) -> None:
    params = {"farm_id": str(farm.farm_id), "source": "delpro"}
    status = client.get("/api/v1/sync/status", params=params, headers=farm.headers)
    assert status.status_code == 200
    assert status.json() == {
        "farm_id": str(farm.farm_id),
        "source": "delpro",
        "watermark": 0,
        "treatments_watermark": 0,
        "max_batch_size": 5000,
        "max_body_bytes": 16 * 1024 * 1024,
    }

    body = gzip.compress(orjson.dumps(batch(farm.farm_id, [session_row(i) for i in range(1, 21)])))
    r = client.post(
        "/api/v1/ingest",
        content=body,
        headers={**farm.headers, "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"received": 20, "inserted": 20, "already_present": 0, "watermark": 20}

    status = client.get("/api/v1/sync/status", params=params, headers=farm.headers)
    assert status.json()["watermark"] == 20
