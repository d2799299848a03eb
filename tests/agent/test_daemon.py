"""The run loop: when cycles happen, how they stop, and resume detection with injected clocks."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pecus.agent.daemon import Clocks, Daemon, SleepDetector, system_clocks

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


class FakeClocks:
    """Clocks a test moves by hand: `awake` by the real monotonic clock (so the loop's short
    waits still pass), `elapsed` the same plus whatever the test says the machine slept."""

    def __init__(self) -> None:
        self.asleep = 0.0

    def clocks(self) -> Clocks:
        return Clocks(lambda: time.monotonic() + self.asleep, time.monotonic, "test clocks")


def test_sleep_detector_reports_a_suspend_between_two_readings() -> None:
    elapsed, awake = [1000.0], [500.0]
    detector = SleepDetector(Clocks(lambda: elapsed[0], lambda: awake[0], "injected"), jump=90)
    elapsed[0] += 30
    awake[0] += 30  # an ordinary 30 s tick
    assert detector.slept() == 0.0
    elapsed[0] += 3 * 3600 + 12  # three hours in suspend, then 12 s of the tick awake
    awake[0] += 12
    assert detector.slept() == 3 * 3600
    elapsed[0] += 30
    awake[0] += 30
    assert detector.slept() == 0.0  # measured from the last reading, not from the start


def test_sleep_detector_ignores_noise_and_clocks_set_back() -> None:
    elapsed, awake = [0.0], [0.0]
    detector = SleepDetector(Clocks(lambda: elapsed[0], lambda: awake[0], "injected"), jump=90)
    elapsed[0] += 30 + 60  # a wall clock nudged a minute forward by NTP
    awake[0] += 30
    assert detector.slept() == 0.0
    elapsed[0] -= 3600  # or set back an hour
    awake[0] += 30
    assert detector.slept() == 0.0


def test_this_machine_has_a_clock_pair_that_agrees_while_awake() -> None:
    clocks = system_clocks()
    assert clocks.name == "CLOCK_BOOTTIME vs CLOCK_MONOTONIC"  # Linux, where the tests run
    detector = SleepDetector(clocks, jump=0.5)
    time.sleep(0.05)
    assert detector.slept() == 0.0


def test_the_loop_never_waits_longer_than_a_tick_by_default() -> None:
    # Notice a resume within a minute of waking: the awake clock stands still in suspend, so a
    # wait resumes where it stopped; a short tick bounds how long it still runs after waking.
    daemon = Daemon(Cycles(), interval=3600)
    assert daemon.tick <= 30 and daemon.tick < daemon.interval


async def test_a_suspend_seen_on_the_clocks_runs_a_cycle_after_the_settle_delay() -> None:
    fake = FakeClocks()
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, jump=60, settle=0.05, clocks=fake.clocks())
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    await asyncio.sleep(0.05)
    assert cycles.reasons == ["start"]  # ticks without a jump start nothing
    fake.asleep = 2 * 3600.0  # two hours in suspend: elapsed moved, awake did not
    await cycles.until(2)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start", "resume (clock jump)"]


async def test_small_clock_differences_are_not_a_resume() -> None:
    fake = FakeClocks()
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, jump=60, settle=0, clocks=fake.clocks())
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    fake.asleep = 30.0
    await asyncio.sleep(0.05)
    fake.asleep = -3600.0
    await asyncio.sleep(0.05)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start"]


async def test_a_suspend_announced_by_the_service_is_not_counted_twice() -> None:
    fake = FakeClocks()
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, jump=60, settle=0.05, clocks=fake.clocks())
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    daemon.suspend()
    await asyncio.sleep(0.03)
    fake.asleep = 3600.0  # the machine sleeps while the service knows it is suspended
    await asyncio.sleep(0.05)
    daemon.resume()
    await cycles.until(2)
    await asyncio.sleep(0.1)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start", "resume"]


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


async def test_a_suspend_while_a_resume_settles_calls_the_resume_off() -> None:
    cycles = Cycles()
    daemon = Daemon(cycles, interval=3600, tick=0.01, settle=0.1)
    runner = asyncio.create_task(daemon.run())
    await cycles.until(1)
    daemon.suspend()
    daemon.resume()  # woke up ...
    await asyncio.sleep(0.02)
    daemon.suspend()  # ... and went back to sleep before the network settled
    await asyncio.sleep(0.3)
    assert cycles.reasons == ["start"]
    daemon.resume(settle=0.01)
    await cycles.until(2)
    daemon.stop()
    await asyncio.wait_for(runner, 5)
    assert cycles.reasons == ["start", "resume"]


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
