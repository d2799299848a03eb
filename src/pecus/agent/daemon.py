"""The run loop behind `pecus-agent run`, the Windows service and the systemd unit.

A cycle at start, then every `interval`, and at once after the machine resumes from sleep. The
loop wakes every `tick` seconds; if the wall clock advanced much more than the monotonic clock
since the last tick, the machine was asleep (the monotonic clock stands still in suspend) and a
cycle runs now instead of at the end of a stretched interval.

The controls (`stop`, `wake`, `suspend`, `resume`) may be called from any thread — the service
control handler runs on its own — and `heartbeat` is called every tick while the loop is alive,
cycles included, for a systemd watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager

log = logging.getLogger(__name__)

Clock = Callable[[], float]


class Daemon:
    def __init__(
        self,
        cycle: Callable[[str], Awaitable[object]],
        interval: float,
        *,
        tick: float = 30.0,
        jump: float = 90.0,
        wall: Clock = time.time,
        monotonic: Clock = time.monotonic,
        heartbeat: Callable[[], None] | None = None,
        around_cycle: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._cycle = cycle
        self.interval = interval
        self.tick = tick
        self.jump = jump
        self._wall = wall
        self._monotonic = monotonic
        self._heartbeat = heartbeat
        self._around_cycle = around_cycle or contextlib.nullcontext
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[object] | None = None
        self._stopping = False
        self._suspended = False
        self._requested: str | None = None

    # --- controls, safe from any thread --------------------------------------------------------

    def stop(self) -> None:
        """Cancel the cycle in flight (an interrupted upload is harmless) and leave `run`."""
        self._stopping = True
        self._call(self._cancel_cycle)

    def wake(self, reason: str) -> None:
        """Run a cycle now (after a resume, or when asked); one already running just finishes."""
        self._requested = reason
        self._call(lambda: None)

    def suspend(self) -> None:
        """The machine is going to sleep: cancel the cycle in flight, start none until `resume`."""
        self._suspended = True
        self._call(self._cancel_cycle)
        log.info("suspending: sync paused")

    def resume(self, settle: float = 0.0) -> None:
        """The machine woke up: a cycle after `settle` seconds (let the network come back)."""

        def wake() -> None:
            self._suspended = False
            self.wake("resume")

        if self._loop is None:
            wake()
        else:
            self._loop.call_soon_threadsafe(self._loop.call_later, settle, wake)

    # --- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        ticker = asyncio.create_task(self._beat())
        try:
            reason: str | None = "start"
            next_due = self._monotonic()
            while not self._stopping:
                if reason is not None:
                    await self._run_cycle(reason)
                    next_due = self._monotonic() + self.interval
                reason = await self._wait(next_due)
        finally:
            ticker.cancel()
            self._loop = None
        log.info("stopped")

    async def _run_cycle(self, reason: str) -> None:
        self._task = asyncio.ensure_future(self._cycle(reason))
        try:
            with self._around_cycle():
                await self._task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # the loop itself is being cancelled, not just the cycle
        except Exception:
            log.exception("the sync cycle failed unexpectedly; the agent carries on")
        finally:
            self._task = None

    async def _wait(self, next_due: float) -> str | None:
        """Until the next cycle is due; returns why (None when stopping)."""
        assert self._event is not None
        last_wall, last_mono = self._wall(), self._monotonic()
        while not self._stopping:
            if not self._suspended:
                if self._requested is not None:
                    reason, self._requested = self._requested, None
                    return reason
                if self._monotonic() >= next_due:
                    return "interval"
            self._event.clear()
            timeout = self.tick if self._suspended else max(0.0, min(self.tick, next_due - self._monotonic()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), timeout)
            now_wall, now_mono = self._wall(), self._monotonic()
            slept = (now_wall - last_wall) - (now_mono - last_mono)
            last_wall, last_mono = now_wall, now_mono
            if slept > self.jump and not self._suspended:
                log.info(
                    "the wall clock moved %.0f s more than the monotonic clock: resumed from sleep", slept
                )
                return "resume (clock jump)"
        return None

    async def _beat(self) -> None:
        while self._heartbeat is not None:
            try:
                self._heartbeat()
            except Exception:
                log.exception("heartbeat failed")
            await asyncio.sleep(self.tick)

    def _cancel_cycle(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._event is not None:
            self._event.set()

    def _call(self, action: Callable[[], None]) -> None:
        """Run `action` on the loop's thread and wake the loop (flags set before `run` need neither)."""
        loop, event = self._loop, self._event
        if loop is None or event is None:
            return

        def on_loop() -> None:
            action()
            event.set()

        loop.call_soon_threadsafe(on_loop)
