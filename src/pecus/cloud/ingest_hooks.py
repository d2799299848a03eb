"""The post-commit seam: functions called with each batch's newly stored sessions (the AI engine
scores them there).

Hooks run in a background task after the ingest has committed and answered, so they never delay
the agent; a hook that fails is logged and changes nothing of what was stored."""

from __future__ import annotations

import asyncio
import logging
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


class HookRunner:
    """Starts hook runs as tasks, keeps them referenced until done, and lets shutdown wait."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, pool: AsyncConnectionPool, hooks: Sequence[IngestHook], batch: IngestedBatch) -> None:
        if not hooks or not batch.transaction_ids:
            return
        task = asyncio.create_task(run_hooks(pool, list(hooks), batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

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
