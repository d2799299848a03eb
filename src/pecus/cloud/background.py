"""Background jobs of an API process (`pecus serve`, `pecus demo`): the notification dispatcher and
the periodic risk scan. Every instance starts them; advisory locks let one instance at a time do
each job (see `pecus.cloud.locks`), so N instances on Render neither double-send nor double-scan.
`PECUS_BACKGROUND_JOBS=off` keeps an instance out of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from pecus.cloud.notify.config import JobSettings, NeedsSessionConnection, NotifySettings, direct_database_url
from pecus.cloud.notify.dispatcher import Dispatcher
from pecus.cloud.risk_scan import run_scan_job

log = logging.getLogger(__name__)

SCAN_CHECK_S = 60.0
"""How often an instance checks whether the scan is due (it runs once per period among all)."""


class BackgroundJobs:
    def __init__(self, database_url: str, notify: NotifySettings, jobs: JobSettings) -> None:
        self.database_url = database_url
        self.notify = notify
        self.jobs = jobs
        self.url = database_url
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        if not self.jobs.enabled:
            log.info("background jobs are off on this instance (PECUS_BACKGROUND_JOBS=off)")
            return
        try:
            self.url = direct_database_url(self.database_url)
        except NeedsSessionConnection as exc:
            # The API still serves; alerts wait in the outbox until an instance can deliver them.
            log.error("notifications and the scheduled risk scan are NOT running: %s", exc)
            return
        self._tasks.append(asyncio.create_task(Dispatcher(self.url, self.notify).run(self._stop)))
        if self.jobs.risk_scan_minutes > 0:
            self._tasks.append(asyncio.create_task(self._scan_schedule()))

    async def _scan_schedule(self) -> None:
        every = timedelta(minutes=self.jobs.risk_scan_minutes)
        check = min(SCAN_CHECK_S, every.total_seconds())
        while not self._stop.is_set():
            try:
                await run_scan_job(self.url, force=False, every=every)
            except Exception:
                log.exception("scheduled risk scan failed; next try in %.0f s", check)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=check)

    async def stop(self, timeout: float) -> None:
        """Let a delivery in flight finish (so it is marked), then stop; cancel what outlives `timeout`."""
        self._stop.set()
        if not self._tasks:
            return
        _, late = await asyncio.wait(self._tasks, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("cancelled %d background job(s) still running at shutdown", len(late))
