"""The run loop: when cycles happen, how they stop, and resume detection with injected clocks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pecus.agent.daemon import Daemon

pytestmark = pytest.mark.anyio


class Cycles:
    """A stand-in cycle that records why it ran; `block` makes it wait until cancelled."""

    def __init__(self, block: bool = False, fail: bool = False) -> None:
        self.reasons: list[str] = []
        self.cancelled = 0
        self.block = block
        self.fail = fail
        self.changed = asyncio.Event()

    async def __call__(self, reason: str) -> None:
        self.reasons.append(reason)
        self.changed.set()
        if self.fail:
            raise RuntimeError("bug in a cycle")
        if self.block:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise

    async def until(self, count: int) -> None:
        while len(self.reasons) < count:
            self.changed.clear()
            await asyncio.wait_for(self.changed.wait(), 5)


async def test_a_cycle_at_start_then_every_interval() -> None:
    cycles = Cycles()
    daemon = Daemon(cycles, interval=0.02, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(3)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons[:3] == ["start", "interval", "interval"]


async def test_wake_runs_a_cycle_now_instead_of_after_the_hour() -> None:
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    daemon.wake("technician")
    await cycles.until(2)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start", "technician"]


async def test_a_jump_of_the_wall_clock_is_a_resume_from_sleep() -> None:
    asleep = [0.0]
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, jump=60, wall=lambda: time.time() + asleep[0])
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    await asyncio.sleep(0.05)
    assert cycles.reasons == ["start"]  # ticks without a jump start nothing
    asleep[0] = 2 * 3600.0  # two hours in suspend: wall clock moved, monotonic did not
    await cycles.until(2)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start", "resume (clock jump)"]


async def test_small_clock_corrections_are_not_a_resume() -> None:
    shift = [0.0]
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, jump=60, wall=lambda: time.time() + shift[0])
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    shift[0] = 30.0  # NTP nudges the clock half a minute
    await asyncio.sleep(0.05)
    shift[0] = -3600.0  # or someone sets it back an hour
    await asyncio.sleep(0.05)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start"]


async def test_stop_from_another_thread_cancels_the_cycle_in_flight() -> None:
    cycles = Cycles(block=True)
    daemon = Daemon(cycles, interval=3600, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    threading.Thread(target=daemon.stop).start()  # as the service control handler does
    await asyncio.wait_for(runner, 5)
    assert cycles.cancelled == 1


async def test_suspend_pauses_and_resume_runs_a_cycle() -> None:
    cycles = Cycles(block=True)
    daemon = Daemon(cycles, interval=0.02, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    daemon.suspend()
    await asyncio.sleep(0.1)  # several intervals pass while suspended
    assert cycles.reasons == ["start"] and cycles.cancelled == 1
    cycles.block = False
    threading.Thread(target=daemon.resume, kwargs={"settle": 0.01}).start()
    await cycles.until(2)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons[:2] == ["start", "resume"]


async def test_a_failing_cycle_does_not_stop_the_loop() -> None:
    cycles = Cycles(fail=True)
    daemon = Daemon(cycles, interval=0.01, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(3)
    daemon.stop()
    await asyncio.wait_for(runner, 5)


async def test_heartbeat_and_the_hook_around_each_cycle() -> None:
    beats: list[float] = []
    held: list[str] = []

    @contextmanager
    def keep_awake() -> Iterator[None]:
        held.append("on")
        yield
        held.append("off")

    cycles = Cycles()
    daemon = Daemon(
        cycles, interval=3600, tick=0.01, heartbeat=lambda: beats.append(1), around_cycle=keep_awake
    )
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    await asyncio.sleep(0.05)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert held == ["on", "off"] and len(beats) >= 2


async def test_cancelling_the_loop_itself_propagates() -> None:
    cycles = Cycles(block=True)
    daemon = Daemon(cycles, interval=3600, tick=0.01)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner
    assert cycles.cancelled == 1
