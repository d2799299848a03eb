"""Agent keys: created and revoked with the CLI, checked on every request, bound to one farm."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from typer.testing import CliRunner

from pecus.cli import app
from pecus.cloud.agent_keys import KEY_LENGTH, hash_key
from pecus.cloud.database import connect
from pecus.cloud.farms import create_farm
from tests.api.conftest import error_of, post_batch
from tests.support.api import FarmKey, create_farm_with_key, farm_snapshot
from tests.support.sessions import batch, session_row

runner = CliRunner(env={"COLUMNS": "200"})


def sync_status(client: httpx.Client, farm_id: object, headers: dict[str, str]) -> httpx.Response:
    return client.get(
        "/api/v1/sync/status", params={"farm_id": str(farm_id), "source": "delpro"}, headers=headers
    )


def test_cli_creates_a_key_that_works_then_revokes_it(
    db_url: str, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    with connect(db_url) as conn:
        farm_id = create_farm(conn, "CLI farm")
    created = runner.invoke(app, ["create-agent-key", "--farm", str(farm_id), "--label", "office PC"])
    assert created.exit_code == 0, created.output
    key = created.stdout.strip()
    assert key.startswith("pcs_") and len(key) == KEY_LENGTH
    assert "shown only this once" in created.stderr
    with connect(db_url) as conn:
        row = conn.execute(
            "SELECT key_id, label, key_prefix, key_hash FROM agent_keys WHERE tenant_id = %s", [farm_id]
        ).fetchone()
    assert row is not None
    key_id, label, prefix, stored_hash = row
    assert (label, prefix, bytes(stored_hash)) == ("office PC", key[:12], hash_key(key))
    assert str(key_id) in created.stderr

    headers = {"Authorization": f"Bearer {key}"}
    assert sync_status(client, farm_id, headers).status_code == 200

    revoked = runner.invoke(app, ["revoke-agent-key", "--farm", str(farm_id), "--key-id", str(key_id)])
    assert revoked.exit_code == 0, revoked.output
    r = sync_status(client, farm_id, headers)
    assert r.status_code == 401 and error_of(r)["code"] == "revoked_key"
    r = post_batch(client, FarmKey(farm_id, key, key_id), batch(farm_id, [session_row(1)]))
    assert r.status_code == 401 and error_of(r)["code"] == "revoked_key"


def test_cli_refuses_unknown_farm_and_key(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    unknown = uuid.uuid4()
    result = runner.invoke(app, ["create-agent-key", "--farm", str(unknown)])
    assert result.exit_code != 0 and f"no farm with id {unknown}" in result.output
    result = runner.invoke(app, ["create-agent-key", "--farm", "not-a-uuid"])
    assert result.exit_code != 0 and "is not a farm id" in result.output
    farm = create_farm_with_key(db_url)
    result = runner.invoke(app, ["revoke-agent-key", "--farm", str(farm.farm_id), "--key-id", str(unknown)])
    assert result.exit_code != 0 and "has no agent key" in result.output
    # Another farm's key cannot be revoked through this farm.
    other = create_farm_with_key(db_url)
    result = runner.invoke(
        app, ["revoke-agent-key", "--farm", str(farm.farm_id), "--key-id", str(other.key_id)]
    )
    assert result.exit_code != 0


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "missing_key"),
        ("Bearer", "missing_key"),
        ("Basic dXNlcjpwYXNz", "malformed_key"),
        ("Bearer not-a-key", "malformed_key"),
        ("Bearer pcs_" + "A" * 43, "unknown_key"),
    ],
)
def test_missing_or_wrong_key_is_401(
    db_url: str, client: httpx.Client, farm: FarmKey, authorization: str | None, code: str
) -> None:
    before = farm_snapshot(db_url, farm.farm_id)
    headers = {"Authorization": authorization} if authorization else {}
    for r in (
        sync_status(client, farm.farm_id, headers),
        client.post("/api/v1/ingest", json=batch(farm.farm_id, [session_row(1)]), headers=headers),
    ):
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
        assert error_of(r)["code"] == code
    assert farm_snapshot(db_url, farm.farm_id) == before


def test_a_key_of_farm_a_is_refused_for_any_other_farm(db_url: str, client: httpx.Client) -> None:
    a, b = create_farm_with_key(db_url), create_farm_with_key(db_url)
    post_batch(client, b, batch(b.farm_id, [session_row(1)]))
    before = farm_snapshot(db_url, b.farm_id)
    unknown = uuid.uuid4()
    answers = {}
    for target in (b.farm_id, unknown, "not-a-uuid"):
        for r in (
            sync_status(client, target, a.headers),
            post_batch(client, a, batch(target, [session_row(2)])),
        ):
            assert r.status_code == 403, r.text
            error = error_of(r)
            assert error["code"] == "farm_forbidden"
            answers[str(target)] = error["message"].replace(str(target), "<farm>")
    # An existing farm and a farm that does not exist get the same answer: nothing to probe.
    assert len(set(answers.values())) == 1
    assert farm_snapshot(db_url, b.farm_id) == before


def test_bad_batch_for_another_farm_is_403_not_422(db_url: str, client: httpx.Client) -> None:
    a, b = create_farm_with_key(db_url), create_farm_with_key(db_url)
    r = post_batch(client, a, batch(b.farm_id, [session_row(1, yield_kg=99)]))
    assert r.status_code == 403 and error_of(r)["code"] == "farm_forbidden"


def test_last_used_at_is_recorded(db_url: str, client: httpx.Client, farm: FarmKey) -> None:
    def last_used() -> object:
        with connect(db_url) as conn:
            row = conn.execute(
                "SELECT last_used_at FROM agent_keys WHERE key_id = %s", [farm.key_id]
            ).fetchone()
        assert row is not None
        return row[0]

    assert last_used() is None
    assert sync_status(client, farm.farm_id, farm.headers).status_code == 200
    first = last_used()
    assert first is not None
    time.sleep(0.05)
    assert sync_status(client, farm.farm_id, farm.headers).status_code == 200
    assert last_used() == first  # written at most once a minute, not on every request
