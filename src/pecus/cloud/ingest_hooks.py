"""The post-commit seam: functions called with newly stored sessions (the AI engine scores them
there): each batch's, or several batches' of one source together when they arrived during a run.

Hooks run in a background task after the ingest has committed and answered, so they never delay
the agent; a hook that fails is logged and changes nothing of what was stored."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence

from psycopg_pool import AsyncConnectionPool

from pecus.cloud.ingest import IngestedBatch

log = logging.getLogger(__name__)

IngestHook = Callable[[AsyncConnectionPool, IngestedBatch], Awaitable[None]]


async def run_hooks(pool: AsyncConnectionPool, hooks: Sequence[IngestHook], batch: IngestedBatch) -> None:
    for hook in hooks:
        try:
            await hook(pool, batch)
        except Exception:
            log.exception(
                "ingest hook %s failed for farm %s source %s (%d sessions); the sessions stay stored",
                getattr(hook, "__qualname__", repr(hook)),
                batch.tenant_id,
                batch.source_id,
                len(batch.transaction_ids),
            )


# Sessions per hook run at most: what one scoring pass holds in memory (features of each).
MAX_SESSIONS_PER_RUN = 20_000

SourceKey = tuple[uuid.UUID, int]


def merge(batches: Sequence[IngestedBatch]) -> IngestedBatch:
    """Batches of one source as one, in arrival order."""
    first = batches[0]
    return IngestedBatch(
        first.tenant_id,
        first.source_id,
        [i for b in batches for i in b.transaction_ids],
        [a for b in batches for a in b.animal_ids],
    )


def _fitting(batches: Sequence[IngestedBatch], limit: int) -> int:
    """How many of the first batches fit in `limit` sessions (always at least one)."""
    size = 0
    for n, b in enumerate(batches):
        size += len(b.transaction_ids)
        if n and size > limit:
            return n
    return len(batches)


class HookRunner:
    """Runs the hooks in the background, one run at a time per source. Batches that commit while
    their source's run is going wait, and the next run takes them together (up to
    `MAX_SESSIONS_PER_RUN` sessions): an agent's catch-up of thousands of batches is scored in a few
    large passes, each reading a cow's history once instead of once per batch, and cannot pile up
    scoring tasks faster than they finish. Live trickles (a batch an hour) run as they come."""

    def __init__(self, max_sessions: int = MAX_SESSIONS_PER_RUN) -> None:
        self.max_sessions = max_sessions
        self._waiting: dict[SourceKey, list[IngestedBatch]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, pool: AsyncConnectionPool, hooks: Sequence[IngestHook], batch: IngestedBatch) -> None:
        if not hooks or not batch.transaction_ids:
            return
        key = (batch.tenant_id, batch.source_id)
        if key in self._waiting:  # a run of this source is going: the next one takes this batch
            self._waiting[key].append(batch)
            return
        self._waiting[key] = [batch]
        task = asyncio.create_task(self._run(key, pool, list(hooks)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, key: SourceKey, pool: AsyncConnectionPool, hooks: list[IngestHook]) -> None:
        try:
            while waiting := self._waiting[key]:
                taken = _fitting(waiting, self.max_sessions)
                self._waiting[key] = waiting[taken:]
                await run_hooks(pool, hooks, merge(waiting[:taken]))
        finally:
            # Cancelled at shutdown: what still waits stays stored, unscored until the risk scan.
            del self._waiting[key]

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float) -> None:
        """Wait for running hooks (at shutdown), cancelling what outlives `timeout`."""
        if not self._tasks:
            return
        _, late = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("cancelled %d ingest hook run(s) still going at shutdown", len(late))
