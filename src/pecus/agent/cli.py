"""`pecus-agent`: the farm agent's command line (what the service runs, and what a technician types).

Exit codes: 0 = fine / up to date, 1 = not up to date or a check failed, 2 = unusable configuration.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from pecus import __version__
from pecus.agent.malloc import single_arena

app = typer.Typer(
    help="Pecus farm agent: moves new milkings from the farm's DelPro database to the Pecus cloud.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
log = logging.getLogger("pecus.agent")
_options: dict[str, Any] = {"config": None, "verbose": False}


def _version(value: bool) -> None:
    if value:
        console.print(f"pecus-agent {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    config: Path | None = typer.Option(
        None,
        "--config",
        "-c",
        help="The agent.toml to use (default: $PECUS_AGENT_CONFIG or the per-OS path).",
    ),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more (DEBUG)."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    global console
    console = Console()  # made per invocation, so it sees this terminal's size and capabilities
    _options.update(config=config, verbose=verbose)


def _load() -> Any:
    from pecus.agent.config import ConfigError, load_config

    try:
        return load_config(_options["config"])
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


def _logging(config: Any, interactive: bool) -> None:
    from pecus.agent.logs import setup_agent_logging

    handler: logging.Handler | None = None
    if interactive:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False, markup=False, rich_tracebacks=False)
    setup_agent_logging(config, verbose=_options["verbose"], console=handler)


def _syncer(config: Any, progress: Any = None) -> Any:
    from pecus.agent.cycle import Syncer
    from pecus.agent.state import StateStore

    return Syncer(config, StateStore(config.resolved_state_file()), progress=progress)


@app.command()
def run() -> None:
    """The daemon loop (what the service runs): a cycle at start, every interval, and after resume."""
    from pecus.agent.config import ConfigError
    from pecus.agent.service import AgentService, default_host

    service = AgentService(default_host(), _options["config"], verbose=_options["verbose"])
    try:
        service.run(handle_signals=True)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def sync(
    once: bool = typer.Option(True, "--once", help="One full cycle, then exit (the default)."),
    source: list[str] = typer.Option([], "--source", "-s", help="Only this source (repeatable)."),
) -> None:
    """One sync cycle; exit code 0 when the cloud is up to date."""
    config = _load()
    for name in source:
        _checked_source(config, name)
    interactive = console.is_interactive
    _logging(config, interactive)
    if interactive:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bars: dict[str, Any] = {}
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("ids"),
            TimeRemainingColumn(), console=console, transient=False,
        ) as progress:  # fmt: skip

            def show(name: str, first: int, current: int, last: int) -> None:
                if name not in bars:
                    bars[name] = progress.add_task(f"source {name}", total=max(1, last - first))
                progress.update(bars[name], completed=current - first, total=max(1, last - first))

            record = asyncio.run(_syncer(config, show).cycle("sync --once", source or None))
    else:
        record = asyncio.run(_syncer(config).cycle("sync --once", source or None))
    for item in [*record.sources, *record.streams]:
        colour = "green" if item.ok else "red"
        what = item.source if item.stream == "sessions" else f"{item.source} {item.stream}"
        console.print(
            f"[{colour}]{what}: {item.result.replace('_', ' ')}[/{colour}]"
            f" (sent {item.sent}, inserted {item.inserted}, watermark {item.watermark})",
            highlight=False,
        )
    raise typer.Exit(0 if record.ok else 1)


def _checked_source(config: Any, name: str) -> None:
    from pecus.agent.config import ConfigError

    try:
        config.source(name)
    except ConfigError as exc:
        console.print(f"[red]{exc.problems[0]}[/red]", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def check(
    offline: bool = typer.Option(
        False, "--offline", help="Only the local side: config, folders, source databases."
    ),
) -> None:
    """Diagnostics: configuration, local databases, cloud, key, watermarks, clock."""
    from pecus.agent.check import run_checks

    _, findings = asyncio.run(run_checks(_options["config"], os.environ, offline=offline))
    marks = {"ok": "[green]OK  [/green]", "warn": "[yellow]WARN[/yellow]", "fail": "[red]FAIL[/red]"}
    for finding in findings:
        console.print(f"{marks[finding.level]} {finding.text}", highlight=False, soft_wrap=True)
    failed = sum(f.level == "fail" for f in findings)
    console.print("all checks passed" if not failed else f"{failed} check(s) failed", highlight=False)
    raise typer.Exit(1 if failed else 0)


@app.command()
def status(last: int = typer.Option(10, "--last", "-n", help="How many cycles to show.")) -> None:
    """The last cycles from the local state: when, rows, result."""
    from pecus.agent.state import StateStore

    config = _load()
    state = StateStore(config.resolved_state_file()).read()
    if not state.cycles:
        console.print(f"no sync cycle recorded yet (state file {config.resolved_state_file()})")
        raise typer.Exit(1)
    table = Table(title=f"last {min(last, len(state.cycles))} sync cycles")
    for column in (
        "started (local time)",
        "why",
        "source",
        "stream",
        "result",
        "sent",
        "inserted",
        "watermark",
        "local max",
    ):
        table.add_column(column)
    for cycle in state.cycles[-last:]:
        when = cycle.started_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        for item in [*cycle.sources, *cycle.streams]:
            colour = "green" if item.ok else "red"
            table.add_row(
                when, cycle.reason, item.source, item.stream,
                f"[{colour}]{item.result.replace('_', ' ')}[/{colour}]",
                str(item.sent), str(item.inserted), str(item.watermark or ""), str(item.local_max or ""),
            )  # fmt: skip
            when = ""
    console.print(table)
    last_cycle = state.cycles[-1]
    for item in [*last_cycle.sources, *last_cycle.streams]:
        if item.message and (not item.ok or item.result == "not_available"):
            colour = "red" if not item.ok else "yellow"
            console.print(
                f"[{colour}]{item.source} {item.stream}: {item.message}[/{colour}]", highlight=False
            )
    for name, marker in state.resync.items():
        console.print(
            f"[yellow]source {name}: resync from id {marker.from_id} pending (at id {marker.cursor};"
            f" the cloud had {marker.cloud_watermark})[/yellow]",
            highlight=False,
        )
    raise typer.Exit(0 if state.cycles[-1].ok else 1)


@app.command()
def resync(
    source: str = typer.Option(..., "--source", "-s", help="The source to upload again."),
    from_id: int = typer.Option(..., "--from", min=0, help="Upload the rows with ids above this one."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """After a restored or replaced local database: upload from an id although the cloud has more."""
    from pecus.agent.uploader import CloudError

    config = _load()
    _checked_source(config, source)
    console.print(
        f"The next cycles will upload source {source} from id {from_id + 1} on, although the cloud's"
        " watermark is higher. Rows whose ids the cloud already has are kept as the cloud has them"
        " (the cloud never overwrites), so only ids it does not have yet are added.",
        highlight=False,
    )
    if not yes and not typer.confirm("Go ahead?"):
        raise typer.Exit(1)
    try:
        marker = asyncio.run(_syncer(config).request_resync(source, from_id))
    except CloudError as exc:
        console.print(f"[red]could not ask the cloud for its watermark: {exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    console.print(
        f"resync of {source} from id {from_id} recorded (the cloud has up to {marker.cloud_watermark});"
        " it runs at the next cycle, or now with `pecus-agent sync --once`",
        highlight=False,
    )


def _this_executable() -> Path:
    """What the service should start: the single-file executable, or this `pecus-agent` script."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable)
    if sys.platform == "win32":
        console.print(
            "[red]the Windows service runs the single-file pecus-agent.exe (built with"
            " deploy/windows/pecus-agent.spec): run `pecus-agent.exe install` from it[/red]",
            highlight=False,
        )
        raise typer.Exit(2)
    script = Path(sys.argv[0]).resolve()
    if script.suffix == ".py":  # `python -m pecus.agent`: a service cannot start a module file
        console.print("[red]run the installed `pecus-agent install`, not `python -m pecus.agent`[/red]")
        raise typer.Exit(2)
    return script


@app.command()
def install() -> None:
    """Register the agent as a service of this machine (Windows service or systemd unit) and
    start it. Run it again after an upgrade. Needs Administrator / root."""
    from pecus.agent.config import CONFIG_ENV, default_config_path
    from pecus.agent.install import InstallError
    from pecus.agent.install import install as register

    config_path = Path(_options["config"] or os.environ.get(CONFIG_ENV) or default_config_path()).resolve()
    if sys.platform == "win32" and config_path != default_config_path():
        console.print(
            f"[red]the Windows service reads {default_config_path()}: put the configuration there[/red]",
            highlight=False,
        )
        raise typer.Exit(2)
    if not config_path.exists():
        console.print(f"[red]no configuration at {config_path}: write it first[/red]", highlight=False)
        raise typer.Exit(2)
    _load()  # a service that would stop at once with a bad configuration is not installed
    try:
        done = register(sys.platform, _this_executable(), config_path)
    except InstallError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    for line in done:
        console.print(f"[green]done[/green] {line}", highlight=False)
    console.print("installed and started; now run `pecus-agent check`", highlight=False)


@app.command()
def uninstall() -> None:
    """Stop and remove the service. The configuration, logs and state stay."""
    from pecus.agent.install import InstallError
    from pecus.agent.install import uninstall as unregister

    try:
        done = unregister(sys.platform)
    except InstallError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    for line in done:
        console.print(f"[green]done[/green] {line}", highlight=False)
    console.print("removed" if done else "the service is not installed", highlight=False)


def main() -> None:
    """The `pecus-agent` console script."""
    single_arena()  # before any thread: memory stays flat over a long backlog
    app()


if __name__ == "__main__":
    main()
