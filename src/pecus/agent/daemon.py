"""The run loop behind `pecus-agent run`, the Windows service and the systemd unit.

A cycle at start, then every `interval`, and soon after the machine resumes from sleep. Resume
is known two ways: the service tells (`resume`, from a Windows power event), or the loop sees it.
The loop never sleeps longer than `tick` seconds; at each tick it compares two clocks that differ
only while the machine is suspended (`Clocks`): if the one that runs on in suspend advanced much
more than the one that stands still, the machine slept, and a cycle runs (after `settle` seconds
for the network to come back) instead of at the end of an interval stretched by the suspend.

The controls (`stop`, `wake`, `suspend`, `resume`) may be called from any thread — the service
control handler runs on its own — and `heartbeat` is called every tick while the loop is alive,
cycles included, for a systemd watchdog.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True)
class Clocks:
    """Two clocks in seconds that advance together while the machine is awake: `elapsed` runs on
    while it is suspended, `awake` stands still."""

    elapsed: Clock
    awake: Clock
    name: str


def system_clocks() -> Clocks:
    """The best pair this OS offers.

    Linux: CLOCK_BOOTTIME vs CLOCK_MONOTONIC (both immune to clock changes). Windows: Python's
    monotonic clock counts suspend there, so the interrupt-time counters (`pecus.agent.windows`).
    Elsewhere the wall clock vs the monotonic clock; a wall clock set forward looks like a sleep
    (one extra cycle, harmless) and one set back is ignored.
    """
    if sys.platform == "win32":
        from pecus.agent.windows import interrupt_time_clocks

        return interrupt_time_clocks()
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return Clocks(
            lambda: time.clock_gettime(boottime), time.monotonic, "CLOCK_BOOTTIME vs CLOCK_MONOTONIC"
        )
    return Clocks(time.time, time.monotonic, "wall clock vs monotonic clock")


class SleepDetector:
    """How long the machine slept between two readings: what `elapsed` gained over `awake`,
    when that is more than `jump` seconds (smaller differences are clock noise)."""

    def __init__(self, clocks: Clocks, jump: float) -> None:
        self.clocks = clocks
        self.jump = jump
        self.reset()

    def reset(self) -> None:
        self._elapsed, self._awake = self.clocks.elapsed(), self.clocks.awake()

    def slept(self) -> float:
        """Seconds asleep since the last reading (0.0 below `jump`); takes a new reading."""
        elapsed, awake = self.clocks.elapsed(), self.clocks.awake()
        gap = (elapsed - self._elapsed) - (awake - self._awake)
        self._elapsed, self._awake = elapsed, awake
        return gap if gap > self.jump else 0.0


class Daemon:
    def __init__(
        self,
        cycle: Callable[[str], Awaitable[object]],
        interval: float,
        *,
        tick: float = 30.0,
        jump: float = 90.0,
        settle: float = 10.0,
        clocks: Clocks | None = None,
        heartbeat: Callable[[], None] | None = None,
        around_cycle: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self._cycle = cycle
        self.interval = interval
        self.tick = tick
        self.settle = settle
        self.clocks = clocks or system_clocks()
        self._detector = SleepDetector(self.clocks, jump)
        self._monotonic = self.clocks.awake  # schedules by time awake; a sleep is caught by the detector
        self._heartbeat = heartbeat
        self._around_cycle = around_cycle or contextlib.nullcontext
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task[object] | None = None
        self._stopping = False
        self._suspended = False
        self._requested: str | None = None
        self._resuming: asyncio.TimerHandle | None = None

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
        """The machine is going to sleep: cancel the cycle in flight, start none until `resume`
        (a resume still settling is called off)."""

        def on_loop() -> None:
            self._suspended = True
            if self._resuming is not None:
                self._resuming.cancel()
                self._resuming = None
            self._cancel_cycle()

        self._suspended = True
        self._call(on_loop)
        log.info("suspending: sync paused")

    def resume(self, settle: float | None = None, reason: str = "resume") -> None:
        """The machine woke up: a cycle after `settle` seconds (default `self.settle`), to let the
        network come back."""

        def wake() -> None:
            self._resuming = None
            self._suspended = False
            self.wake(reason)

        def on_loop() -> None:
            assert self._loop is not None
            if self._resuming is not None:
                self._resuming.cancel()
            self._resuming = self._loop.call_later(delay, wake)

        delay = self.settle if settle is None else settle
        loop = self._loop
        if loop is None:
            wake()
        else:
            loop.call_soon_threadsafe(on_loop)

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
        self._detector.reset()
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
            slept = self._detector.slept()
            if slept and not self._suspended:  # (a suspend the service announced is resumed by it)
                log.info("the machine slept for %.0f s (%s): a cycle soon", slept, self.clocks.name)
                self.resume(reason="resume (clock jump)")
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
