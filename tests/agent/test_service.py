"""The agent as a service: start, stop, suspend, resume, keeping the PC awake, the event log.

`AgentService` is what the Windows service and `pecus-agent run` (systemd) run. Here it runs
for real — the daemon loop, real sync cycles against the real API and real source databases —
with the operating system replaced by `RecordingHost`, which stands where `WindowsHost`
(pecus.agent.windows) stands on a farm PC and records what the service asked of it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from pecus.agent.config import ConfigError
from pecus.agent.daemon import Clocks
from pecus.agent.service import AgentService
from pecus.agent.state import CycleRecord, StateStore
from pecus.agent.windows import PBT_APMRESUMEAUTOMATIC, PBT_APMRESUMESUSPEND, PBT_APMSUSPEND
from tests.agent import delpro_data
from tests.agent.conftest import Agent, SourceDB
from tests.agent.fault_proxy import HOLD_RESPONSE, FaultProxy
from tests.support.tcp_proxy import tcp_proxy

INGEST = "POST /api/v1/ingest"


class RecordingHost:
    """The OS seam, recording every call in order (heartbeats are only counted)."""

    def __init__(self, heartbeat_interval: float | None = None) -> None:
        self.heartbeat_interval = heartbeat_interval
        self.calls: list[tuple[Any, ...]] = []
        self.beats = 0

    def ready(self) -> None:
        self.calls.append(("ready",))

    def heartbeat(self) -> None:
        self.beats += 1

    def stopping(self) -> None:
        self.calls.append(("stopping",))

    def keep_awake(self, on: bool) -> None:
        self.calls.append(("keep_awake", on))

    def event(self, level: str, message: str) -> None:
        self.calls.append(("event", level, message))

    @property
    def awake(self) -> list[bool]:
        return [c[1] for c in self.calls if c[0] == "keep_awake"]

    def events(self, level: str | None = None) -> list[str]:
        return [c[2] for c in self.calls if c[0] == "event" and level in (None, c[1])]


class SleepyClocks:
    """Clocks whose `elapsed` a test moves forward, as a suspend would."""

    def __init__(self) -> None:
        self.asleep = 0.0

    def clocks(self) -> Clocks:
        return Clocks(lambda: time.monotonic() + self.asleep, time.monotonic, "test clocks")


@dataclass
class Running:
    """A service running in a thread, as the service control manager runs SvcDoRun."""

    thread: threading.Thread
    errors: list[BaseException]

    def wait_for(self, predicate: Callable[[], object], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert not self.errors, f"the service failed: {self.errors!r}"
            assert self.thread.is_alive(), "the service stopped"
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.02)


@contextmanager
def running(service: AgentService) -> Iterator[Running]:
    """`service.run()` in a thread; stopped after."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            service.run()
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Running(thread, errors)
    finally:
        service.stop()
        thread.join(30)
    assert not thread.is_alive(), "the service did not stop"
    assert not errors, errors


def service_for(agent: Agent, host: RecordingHost, **kwargs: Any) -> AgentService:
    kwargs.setdefault("settle", 0.05)
    kwargs.setdefault("tick", 0.05)
    return AgentService(host, agent.config_path, {}, **kwargs)


def cycles(agent: Agent) -> list[CycleRecord]:
    # From the settings, not agent.config(): that rewrites agent.toml, which the service may be reading.
    return StateStore(Path(agent.settings["state_file"])).read().cycles


def reasons(agent: Agent) -> list[str]:
    return [c.reason for c in cycles(agent)]


def results(agent: Agent) -> list[list[str]]:
    return [[s.result for s in c.sources] for c in cycles(agent)]


@pytest.fixture
def sqlite_source(make_source_db: Any) -> SourceDB:
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 26))
    return db


def test_start_syncs_then_stop_is_clean(sqlite_source: SourceDB, make_agent: Any) -> None:
    agent = make_agent(sqlite_source.source_settings(), interval="1h")
    host = RecordingHost()
    service = service_for(agent, host)
    with running(service) as svc:
        svc.wait_for(lambda: len(reasons(agent)) == 1, "the first cycle")
        assert agent.cloud_ids() == list(range(1, 26))
        svc.wait_for(lambda: host.beats >= 2, "heartbeats")
    assert not svc.thread.is_alive()
    assert reasons(agent) == ["start"] and results(agent) == [["up_to_date"]]
    assert host.awake == [True, False]  # held during the cycle, released after
    assert host.calls[0][:2] == ("event", "info") and "started" in host.calls[0][2]
    assert host.calls[1] == ("ready",)
    assert host.calls[-2:] == [("stopping",), ("event", "info", "Pecus agent stopped")]
    assert not host.events("error")


def test_suspend_cancels_the_upload_and_closes_connections_then_resume_syncs(
    sqlite_source: SourceDB, make_agent: Any, cloud_url: str
) -> None:
    with FaultProxy(cloud_url).running() as faults:
        host_port = faults.url.removeprefix("http://").split(":")
        with tcp_proxy(host_port[0], int(host_port[1])) as wire:
            agent = make_agent(sqlite_source.source_settings(), url=f"http://127.0.0.1:{wire.port}")
            faults.plan(INGEST, HOLD_RESPONSE)  # the first upload is committed, its answer held
            host = RecordingHost()
            service = service_for(agent, host)
            with running(service) as svc:
                assert faults.held.wait(60), "the first upload never started"
                assert wire.open_connections >= 1 and host.awake == [True]

                service.power_event(PBT_APMSUSPEND)
                svc.wait_for(lambda: wire.open_connections == 0, "the connections to close")
                svc.wait_for(lambda: host.awake == [True, False], "the keep-awake hold to end")
                svc.wait_for(lambda: len(reasons(agent)) == 1, "the cancelled cycle to be recorded")
                assert results(agent) == [["cancelled"]]
                faults.release.set()

                with sqlite_source.engine.begin() as conn:  # robots milk while the PC sleeps
                    delpro_data.add_sessions(conn, range(26, 41))
                time.sleep(0.3)  # several ticks: nothing runs while suspended
                assert len(reasons(agent)) == 1

                service.power_event(PBT_APMRESUMESUSPEND)  # only with a user: not the cue
                service.power_event(PBT_APMRESUMEAUTOMATIC)
                svc.wait_for(lambda: len(reasons(agent)) == 2, "the cycle after resume")
                assert reasons(agent) == ["start", "resume"] and results(agent)[1] == ["up_to_date"]
                svc.wait_for(lambda: wire.open_connections == 0, "the resume cycle to close its connections")
    assert agent.cloud_ids() == list(range(1, 41))  # each once: nothing lost, nothing twice
    assert host.awake == [True, False, True, False]
    assert "the PC is going to sleep: sync paused" in host.events("info")
    assert "the PC woke up: sync resumes" in host.events("info")


def test_a_sleep_seen_only_on_the_clocks_runs_a_cycle(sqlite_source: SourceDB, make_agent: Any) -> None:
    # No power events (Linux, or a Windows PC that does not send them): the loop's clocks tell.
    agent = make_agent(sqlite_source.source_settings(), interval="1h")
    sleepy = SleepyClocks()
    service = service_for(agent, RecordingHost(), clocks=sleepy.clocks())
    with running(service) as svc:
        svc.wait_for(lambda: len(reasons(agent)) == 1, "the first cycle")
        with sqlite_source.engine.begin() as conn:
            delpro_data.add_sessions(conn, range(26, 31))
        sleepy.asleep = 5 * 3600.0  # the PC slept five hours
        svc.wait_for(lambda: len(reasons(agent)) == 2, "the cycle after the sleep")
    assert reasons(agent) == ["start", "resume (clock jump)"]
    assert agent.cloud_ids() == list(range(1, 31))


def test_a_failed_cycle_goes_to_the_event_log(
    sqlite_source: SourceDB, make_agent: Any, free_port: int
) -> None:
    agent = make_agent(sqlite_source.source_settings(), url=f"http://127.0.0.1:{free_port}", retry_attempts=1)
    host = RecordingHost()
    with running(service_for(agent, host)) as svc:
        svc.wait_for(lambda: host.events("error"), "an error event")
    (event,) = host.events("error")
    assert event.startswith("sync cycle ") and "failed (start): delpro: cloud unreachable" in event
    assert host.awake == [True, False]


def test_keep_awake_can_be_turned_off(sqlite_source: SourceDB, make_agent: Any) -> None:
    agent = make_agent(sqlite_source.source_settings(), keep_awake=False)
    host = RecordingHost()
    with running(service_for(agent, host)) as svc:
        svc.wait_for(lambda: len(reasons(agent)) == 1, "the first cycle")
    assert host.awake == []


def test_stop_does_not_wait_for_a_read_stuck_on_a_locked_table(make_source_db: Any, make_agent: Any) -> None:
    db: SourceDB = make_source_db("postgresql")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 6))
    table = f'"{db.schema}"."SessionMilkYield"'
    agent = make_agent(db.source_settings())
    with db.engine.connect() as locker, db.engine.connect() as observer:
        locker.execute(text(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))  # DelPro updating

        def waiting() -> int:
            sql = f"SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = '{table}'::regclass"
            return int(observer.execute(text(sql)).scalar_one())

        service = service_for(agent, RecordingHost())
        thread = threading.Thread(target=service.run, daemon=True)
        thread.start()
        Running(thread, []).wait_for(waiting, "the agent's read to wait for the lock")
        service.stop()
        thread.join(30)
        assert not thread.is_alive(), "stop waited for the stuck read"
        assert waiting() == 1  # the read is still stuck: the stop did not wait for it
        locker.rollback()
    assert results(agent) == [["cancelled"]]


def test_an_unusable_configuration_is_an_error_event_and_fails_the_start(
    make_agent: Any, sqlite_source: SourceDB
) -> None:
    agent = make_agent(sqlite_source.source_settings(), time_zone="Mars/Olympus")
    host = RecordingHost()
    with pytest.raises(ConfigError):  # the service stops with an error: its recovery restarts it
        service_for(agent, host).run()
    (event,) = host.events("error")
    assert "Pecus agent cannot start" in event and "Mars/Olympus" in event
    assert ("ready",) not in host.calls


def test_a_stop_before_the_loop_starts_runs_no_cycle(sqlite_source: SourceDB, make_agent: Any) -> None:
    agent = make_agent(sqlite_source.source_settings())
    service = service_for(agent, RecordingHost())
    service.stop()  # the service control manager's stop arrived while the service was starting
    service.run()
    assert reasons(agent) == [] and agent.cloud_ids() == []
