"""The post-commit seam: hooks get each batch's new sessions after the commit, in the background;
a failing hook is logged and loses nothing."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from typing import cast

import httpx
import pytest
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.api_settings import ApiSettings
from pecus.cloud.app import create_app
from pecus.cloud.ingest import IngestedBatch
from pecus.cloud.ingest_hooks import HookRunner
from tests.api.conftest import post_batch
from tests.support.api import FarmKey, serving, stored_transaction_ids
from tests.support.sessions import batch, session_row


class Recorder:
    def __init__(self) -> None:
        self.batches: list[IngestedBatch] = []
        self.seen_rows: list[int] = []
        self.called = threading.Event()

    async def __call__(self, pool: AsyncConnectionPool, ingested: IngestedBatch) -> None:
        # The hook reads through the pool it is given: the batch is committed by now.
        async with pool.connection() as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM milking_sessions WHERE tenant_id = %s AND transaction_id = ANY(%s)",
                [ingested.tenant_id, ingested.transaction_ids],
            )
            row = await cur.fetchone()
        self.seen_rows.append(row[0] if row else -1)
        self.batches.append(ingested)
        self.called.set()


async def failing_hook(pool: AsyncConnectionPool, ingested: IngestedBatch) -> None:
    raise RuntimeError("model file missing")


@pytest.fixture
def hooked(db_url: str) -> Iterator[tuple[str, Recorder]]:
    # The seam alone: live scoring (tested in tests/ai) is switched off here.
    app = create_app(db_url, ApiSettings(ai_enabled=False))
    recorder = Recorder()
    app.state.ingest_hooks.extend([failing_hook, recorder])
    with serving(app) as url:
        yield url, recorder


def test_hooks_get_the_new_sessions_and_a_failing_hook_loses_nothing(
    db_url: str, hooked: tuple[str, Recorder], farm: FarmKey, caplog: pytest.LogCaptureFixture
) -> None:
    url, recorder = hooked
    rows = [session_row(i, animal=f"cow-{i % 3}") for i in range(1, 7)]
    with httpx.Client(base_url=url, timeout=30) as c, caplog.at_level(logging.ERROR):
        post_batch(c, farm, batch(farm.farm_id, rows[:2]))
        r = post_batch(c, farm, batch(farm.farm_id, rows))
        assert r.status_code == 200
        assert r.json() == {"received": 6, "inserted": 4, "already_present": 2, "watermark": 6}
        deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
        while len(recorder.batches) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert stored_transaction_ids(db_url, farm.farm_id) == [1, 2, 3, 4, 5, 6]
    # Each batch's hooks run as their own background task: they may finish in any order.
    first, second = sorted(recorder.batches, key=lambda b: b.transaction_ids[0])
    assert (first.transaction_ids, first.animal_ids) == ([1, 2], ["cow-1", "cow-2"])
    assert (second.tenant_id, second.transaction_ids) == (farm.farm_id, [3, 4, 5, 6])
    assert second.animal_ids == ["cow-0", "cow-1", "cow-2", "cow-0"]
    assert sorted(recorder.seen_rows) == [2, 4]  # committed before the hooks ran
    failures = [
        r for r in caplog.records if "ingest hook" in r.getMessage() and "failing_hook" in r.getMessage()
    ]
    assert len(failures) == 2 and failures[0].exc_info is not None
    assert "model file missing" in str(failures[0].exc_info[1])


def test_a_batch_with_nothing_new_calls_no_hook(hooked: tuple[str, Recorder], farm: FarmKey) -> None:
    url, recorder = hooked
    body = batch(farm.farm_id, [session_row(1)])
    with httpx.Client(base_url=url, timeout=30) as c:
        post_batch(c, farm, body)
        assert recorder.called.wait(10)
        recorder.called.clear()
        assert post_batch(c, farm, body).json()["already_present"] == 1
        # Followed by a batch with new rows: its hook call is the next one recorded.
        post_batch(c, farm, batch(farm.farm_id, [session_row(2)]))
        assert recorder.called.wait(10)
    assert [b.transaction_ids for b in recorder.batches] == [[1], [2]]


def test_hooks_do_not_delay_the_answer(db_url: str, farm: FarmKey) -> None:
    release = threading.Event()
    finished = threading.Event()

    async def slow_hook(pool: AsyncConnectionPool, ingested: IngestedBatch) -> None:
        await asyncio.to_thread(release.wait, 20)  # runs until the test has its answer
        finished.set()

    app = create_app(db_url)
    app.state.ingest_hooks.append(slow_hook)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        r = post_batch(c, farm, batch(farm.farm_id, [session_row(1)]))
        assert r.status_code == 200 and not finished.is_set()
        # The same keep-alive connection serves the next request while the hook is still running.
        assert c.get("/healthz").status_code == 200 and not finished.is_set()
        release.set()
        assert finished.wait(10)


def test_live_scoring_is_registered_unless_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from pecus.ai.live import score_ingested

    assert create_app("postgresql:///unused").state.ingest_hooks == [score_ingested]
    monkeypatch.setenv("PECUS_AI_ENABLED", "0")
    assert create_app("postgresql:///unused").state.ingest_hooks == []


def test_batches_that_commit_during_a_run_are_taken_together(db_url: str, farm: FarmKey) -> None:
    """A catch-up: while the source's hooks run, the next batches wait and the next run gets them
    as one (one history read per cow instead of one per batch); nothing is lost or repeated."""
    release = threading.Event()
    runs: list[list[int]] = []

    async def slow_hook(pool: AsyncConnectionPool, ingested: IngestedBatch) -> None:
        runs.append(ingested.transaction_ids)
        await asyncio.to_thread(release.wait, 20)

    app = create_app(db_url, ApiSettings(ai_enabled=False))
    app.state.ingest_hooks.append(slow_hook)
    with serving(app) as url, httpx.Client(base_url=url, timeout=10) as c:
        for first in (1, 3, 5):  # three batches while the first run is held
            post_batch(c, farm, batch(farm.farm_id, [session_row(first), session_row(first + 1)]))
        release.set()
        deadline = time.monotonic() + 30  # a bound on waiting, not a timing assertion
        while sum(map(len, runs)) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert runs == [[1, 2], [3, 4, 5, 6]]


@pytest.mark.anyio
async def test_a_run_takes_no_more_sessions_than_its_cap() -> None:
    runner = HookRunner(max_sessions=3)
    runs: list[tuple[int, list[int]]] = []

    async def hook(pool: AsyncConnectionPool, ingested: IngestedBatch) -> None:
        runs.append((ingested.source_id, ingested.transaction_ids))
        await asyncio.sleep(0)

    farm = uuid.uuid4()
    pool = cast(AsyncConnectionPool, None)  # the hook never touches it
    # All queued before the first run starts (nothing has awaited yet).
    for ids in ([1], [2, 3], [4], [5, 6, 7, 8], [9]):
        runner.start(pool, [hook], IngestedBatch(farm, 1, ids, ["cow"] * len(ids)))
    runner.start(pool, [hook], IngestedBatch(farm, 2, [1], ["cow"]))  # another source: its own run
    await runner.drain(10)
    # Whole batches up to the cap; a batch over the cap still runs, alone.
    assert [ids for source, ids in runs if source == 1] == [[1, 2, 3], [4], [5, 6, 7, 8], [9]]
    assert [ids for source, ids in runs if source == 2] == [[1]]
    assert runner.pending == 0
