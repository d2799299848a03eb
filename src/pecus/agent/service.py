"""The agent as an unattended service: what `pecus-agent run`, the Windows service and the
systemd unit all run.

`AgentService.run()` loads the configuration, sets up logging and runs the daemon loop
(`pecus.agent.daemon`) in the calling thread until `stop()`. Around it, the OS is reached only
through a `ServiceHost` — `WindowsHost` (pecus.agent.windows: Event Log, keeping the PC awake),
`SystemdHost` (pecus.agent.systemd: readiness, watchdog) — so this logic runs under test anywhere.

- stop: cancels the cycle in flight (an interrupted upload is harmless: ingest is idempotent)
  and returns without waiting for a database read that is stuck (e.g. on a table DelPro has
  locked): such reads run in daemon threads whose result is dropped.
- power events: suspend cancels the cycle (closing its HTTP and database connections, which
  belong to the cycle) and starts none; resume starts a cycle after `settle` seconds, on new
  connections.
- keep awake: while a cycle runs the host holds off idle sleep (`keep_awake` in the config).
- events of note (start, stop, suspend, resume, a failed cycle) also go to the host's event log.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pecus import __version__
from pecus.agent.config import AgentConfig, ConfigError, load_config
from pecus.agent.cycle import Syncer
from pecus.agent.daemon import Clocks, Daemon
from pecus.agent.logs import setup_agent_logging
from pecus.agent.state import CycleRecord, StateStore
from pecus.agent.windows import PBT_APMRESUMEAUTOMATIC, PBT_APMSUSPEND

log = logging.getLogger("pecus.agent")

TICK_S = 30.0  # the loop looks at its clocks this often: a resume is seen within a minute
SETTLE_S = 10.0  # after a resume, time for the network to come back before a cycle
T = TypeVar("T")


class ServiceHost(Protocol):
    """What the operating system's service manager offers the agent."""

    heartbeat_interval: float | None  # the longest gap between two heartbeats, if watched

    def ready(self) -> None: ...
    def heartbeat(self) -> None: ...
    def stopping(self) -> None: ...
    def keep_awake(self, on: bool) -> None: ...
    def event(self, level: Any, message: str) -> None: ...


def default_host() -> ServiceHost:
    if sys.platform == "win32":
        from pecus.agent.windows import WindowsHost

        return WindowsHost()
    from pecus.agent.systemd import SystemdHost

    return SystemdHost()


class AgentService:
    def __init__(
        self,
        host: ServiceHost,
        config_path: Path | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        verbose: bool = False,
        console: logging.Handler | None = None,
        settle: float = SETTLE_S,
        tick: float = TICK_S,
        clocks: Clocks | None = None,
        syncer: Callable[[AgentConfig], Syncer] | None = None,
    ) -> None:
        self.host = host
        self.config_path = config_path
        self.environ = environ
        self.verbose = verbose
        self.console = console
        self.settle = settle
        self.tick = min(tick, host.heartbeat_interval or tick)
        self.clocks = clocks
        self._make_syncer = syncer or (lambda c: Syncer(c, StateStore(c.resolved_state_file())))
        self.daemon: Daemon | None = None
        self._lock = threading.Lock()
        self._stopped = False

    # --- called by the service manager, from any thread ---------------------------------------

    def run(self, *, handle_signals: bool = False) -> None:
        """Until `stop()`. Raises ConfigError (after logging it) when the configuration is unusable."""
        try:
            config = load_config(self.config_path, self.environ)
        except ConfigError as exc:
            self.host.event("error", f"Pecus agent cannot start: {exc}")
            raise
        setup_agent_logging(config, verbose=self.verbose, console=self.console)
        with self._lock:
            if self._stopped:
                return
            syncer = self._make_syncer(config)
            self.daemon = daemon = Daemon(
                lambda reason: self._cycle(syncer, reason),
                config.interval,
                tick=self.tick,
                settle=self.settle,
                clocks=self.clocks,
                heartbeat=self.host.heartbeat,
                around_cycle=self._keep_awake if config.keep_awake else None,
            )
        started = (
            f"Pecus agent {__version__} started: cloud {config.cloud_url}, farm {config.farm_id},"
            f" sources {config.source_names()}, a cycle every {config.interval:.0f} s;"
            f" logs in {config.resolved_log_dir()}"
        )
        log.info(started)
        self.host.event("info", started)
        self.host.ready()
        try:
            _run_loop(daemon.run(), self.stop if handle_signals else None)
        finally:
            self.host.event("info", "Pecus agent stopped")

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            daemon = self.daemon
        self.host.stopping()
        if daemon is not None:
            daemon.stop()

    def power_event(self, event: int) -> None:
        """A Windows power broadcast (SERVICE_CONTROL_POWEREVENT); must return at once."""
        daemon = self.daemon
        if daemon is None:
            return
        if event == PBT_APMSUSPEND:
            self.host.event("info", "the PC is going to sleep: sync paused")
            daemon.suspend()
        elif event == PBT_APMRESUMEAUTOMATIC:  # always sent on wake (RESUMESUSPEND only with a user)
            log.info("the PC woke up: a sync cycle in %.0f s", self.settle)
            self.host.event("info", "the PC woke up: sync resumes")
            daemon.resume(self.settle)

    # --- inside the loop ----------------------------------------------------------------------

    async def _cycle(self, syncer: Syncer, reason: str) -> CycleRecord:
        try:
            record = await syncer.cycle(reason)
        except Exception as exc:
            self.host.event("error", f"sync cycle failed ({reason}): {type(exc).__name__}: {exc}")
            raise
        if not record.ok:
            failed = "; ".join(
                f"{s.source}{'' if s.stream == 'sessions' else ' ' + s.stream}: {s.result.replace('_', ' ')}"
                + (f" ({s.message})" if s.message else "")
                for s in [*record.sources, *record.streams]
                if not s.ok
            )
            self.host.event("error", f"sync cycle {record.cycle_id} failed ({reason}): {failed}")
        return record

    @contextmanager
    def _keep_awake(self) -> Iterator[None]:
        self.host.keep_awake(True)
        try:
            yield
        finally:
            self.host.keep_awake(False)


class _DaemonThreads(ThreadPoolExecutor):
    """The loop's executor (`asyncio.to_thread`): each call in its own daemon thread, and a
    shutdown that does not wait. A read stuck on a locked table cannot hold up a stop; its
    result is dropped and the thread ends with the process."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()

        def work() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                result = fn(*args, **kwargs)
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)

        threading.Thread(target=work, name="pecus-agent-io", daemon=True).start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        pass


def _run_loop(main: Coroutine[Any, Any, None], on_signal: Callable[[], None] | None) -> None:
    with asyncio.Runner() as runner:
        loop = runner.get_loop()
        loop.set_default_executor(_DaemonThreads())
        if on_signal is not None:
            for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGBREAK", None)):
                if sig is None:
                    continue
                try:
                    loop.add_signal_handler(sig, on_signal)
                except (NotImplementedError, RuntimeError):  # Windows
                    signal.signal(sig, lambda *_: on_signal())
        runner.run(main)
