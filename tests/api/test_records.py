"""`POST /api/v1/ingest/treatments` and `/api/v1/ingest/animals` over real HTTP: counts, idempotence,
the watermark in the handshake, and bad batches refused whole with the row and field named."""

from __future__ import annotations

import gzip
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson

from pecus.cloud.database import connect
from tests.api.conftest import error_of
from tests.support.api import FarmKey, create_farm_with_key, farm_snapshot

AGENT = {"version": "test", "host": "pytest"}
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def treatment(i: int, **changes: Any) -> dict[str, Any]:
    row = {
        "treatment_id": i,
        "animal_id": str(100 + i % 5),
        "lactation_number": 2,
        "started_at": (T0 + timedelta(hours=i)).isoformat(),
        "duration_days": 3,
        "diagnosis": "Mastitis",
        "treatment": "Synulox",
    }
    return {**row, **changes}


def post(
    client: httpx.Client, farm: FarmKey, path: str, rows: list[dict[str, Any]], **envelope: Any
) -> httpx.Response:
    body = {"farm_id": str(farm.farm_id), "source": "delpro", "agent": AGENT, "rows": rows, **envelope}
    headers = {**farm.headers, "Content-Type": "application/json", "Content-Encoding": "gzip"}
    return client.post(f"/api/v1/ingest/{path}", content=gzip.compress(orjson.dumps(body)), headers=headers)


def status(client: httpx.Client, farm: FarmKey) -> dict[str, Any]:
    r = client.get(
        "/api/v1/sync/status", params={"farm_id": str(farm.farm_id), "source": "delpro"}, headers=farm.headers
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


def test_treatments_are_stored_once_and_move_their_own_watermark(
    client: httpx.Client, farm: FarmKey, db_url: str
) -> None:
    assert status(client, farm)["treatments_watermark"] == 0
    first = post(client, farm, "treatments", [treatment(i) for i in (3, 1, 2)], cycle_id="c1")
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 3, "inserted": 3, "already_present": 0, "watermark": 3}
    again = post(client, farm, "treatments", [treatment(i) for i in (2, 3, 4)])
    assert again.json() == {"received": 3, "inserted": 1, "already_present": 2, "watermark": 4}
    # A late row below the watermark is stored; the watermark never moves back.
    late = post(client, farm, "treatments", [treatment(1), treatment(5, treatment=None, diagnosis="")])
    assert late.json() == {"received": 2, "inserted": 1, "already_present": 1, "watermark": 5}
    handshake = status(client, farm)
    assert (handshake["watermark"], handshake["treatments_watermark"]) == (0, 5)
    with connect(db_url) as conn:
        stored = conn.execute(
            "SELECT treatment_id, animal_id, started_at, diagnosis, treatment FROM treatments"
            " WHERE tenant_id = %s ORDER BY 1",
            [farm.farm_id],
        ).fetchall()
    assert [r[0] for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0][1:] == ("101", T0 + timedelta(hours=1), "Mastitis", "Synulox")
    assert stored[4][3:] == ("", None)


def test_a_bad_treatment_is_named_by_row_and_field_and_nothing_is_stored(
    client: httpx.Client, farm: FarmKey, db_url: str
) -> None:
    assert post(client, farm, "treatments", [treatment(1)]).status_code == 200
    before = farm_snapshot(db_url, farm.farm_id)
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    rows = [treatment(2), treatment(3, duration_days=400), treatment(4), treatment(5, started_at=future)]
    r = post(client, farm, "treatments", rows)
    assert r.status_code == 422
    error = error_of(r)
    assert error["code"] == "invalid_rows"
    assert [(d["row"], d["field"]) for d in error["details"]] == [(1, "duration_days"), (3, "started_at")]
    assert "less than or equal to 365" in error["details"][0]["reason"]
    duplicate = post(client, farm, "treatments", [treatment(6), treatment(7), treatment(6)])
    assert duplicate.status_code == 422
    assert [(d["row"], d["field"]) for d in error_of(duplicate)["details"]] == [(2, "treatment_id")]
    nul = post(client, farm, "treatments", [treatment(8, diagnosis="Mast\x00itis")])
    assert [(d["row"], d["field"]) for d in error_of(nul)["details"]] == [(0, "diagnosis")]
    assert farm_snapshot(db_url, farm.farm_id) == before
    with connect(db_url) as conn:
        (rejected,) = conn.execute(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = %s AND result = 'rejected'", [farm.farm_id]
        ).fetchone() or (0,)
    assert rejected == 3  # each refusal logged for the dashboard


def test_a_key_answers_only_for_its_farm(client: httpx.Client, farm: FarmKey, db_url: str) -> None:
    other = create_farm_with_key(db_url)
    for path, rows in (("treatments", [treatment(1)]), ("animals", [{"animal_id": "1"}])):
        r = post(client, farm, path, rows, farm_id=str(other.farm_id))
        assert r.status_code == 403 and error_of(r)["code"] == "farm_forbidden"
        r = client.post(f"/api/v1/ingest/{path}", content=b"{}", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401
    r = post(client, farm, "treatments", [treatment(1)], farm_id=str(uuid.uuid4()), unknown=1)
    assert r.status_code == 403


def test_animals_are_upserted_and_only_changes_count(
    client: httpx.Client, farm: FarmKey, db_url: str
) -> None:
    cows = [
        {"animal_id": "101", "lactation_number": 2, "calving_date": "2026-01-10"},
        {"animal_id": "102", "lactation_number": 1, "calving_date": "2026-02-01"},
    ]
    first = post(client, farm, "animals", cows)
    assert first.status_code == 200, first.text
    assert first.json() == {"received": 2, "updated": 2}
    assert post(client, farm, "animals", cows).json() == {"received": 2, "updated": 0}
    changed = [
        {**cows[0], "exit_date": "2026-03-02"},
        {**cows[1], "lactation_number": 2, "calving_date": "2026-03-01"},
    ]
    assert post(client, farm, "animals", [*changed]).json() == {"received": 2, "updated": 2}
    with connect(db_url) as conn:
        stored = conn.execute(
            "SELECT animal_id, lactation_number, calving_date, exit_date FROM animals WHERE tenant_id = %s"
            " ORDER BY 1",
            [farm.farm_id],
        ).fetchall()
    assert stored == [("101", 2, date(2026, 1, 10), date(2026, 3, 2)), ("102", 2, date(2026, 3, 1), None)]
    before = farm_snapshot(db_url, farm.farm_id)
    bad = post(client, farm, "animals", [{"animal_id": "103"}, {"animal_id": "104", "lactation_number": 0}])
    assert bad.status_code == 422
    assert [(d["row"], d["field"]) for d in error_of(bad)["details"]] == [(1, "lactation_number")]
    assert farm_snapshot(db_url, farm.farm_id) == before
