"""`pecus`: the operator's command line for the cloud side."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

app = typer.Typer(help="Pecus Chain cloud: database, API, AI engine and demo.", no_args_is_help=True)
console = Console()
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more.")) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT)


@app.command()
def migrate() -> None:
    """Apply pending database migrations (DATABASE_DIRECT_URL, else DATABASE_URL, else the embedded
    database). Runs hold a session advisory lock, so not through Supabase's transaction pooler."""
    from pecus.cloud.database import database_url
    from pecus.cloud.migrations import migrate as run

    applied = run(_migration_url(database_url()))
    console.print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


def _migration_url(url: str) -> str:
    """Migrations serialise on a session advisory lock, which the transaction pooler cannot hold
    (each statement may run on another server connection): use the session connection."""
    from pecus.cloud.notify.config import NeedsSessionConnection, direct_database_url

    try:
        return direct_database_url(url)
    except NeedsSessionConnection:
        console.print(
            "[red]error:[/red] DATABASE_URL is Supabase's transaction pooler (port 6543), where the"
            " migrations' advisory lock cannot be held: set DATABASE_DIRECT_URL to the session pooler"
            " or the direct connection (port 5432)",
            highlight=False,
        )
        raise typer.Exit(2) from None


@app.command("create-farm")
def create_farm(
    name: str = typer.Option(..., "--name", help="The farm's name."),
    time_zone: str = typer.Option("UTC", "--time-zone", help="IANA zone of the farm, e.g. Europe/Rome."),
) -> None:
    """Create a farm (tenant) and print its id."""
    from pecus.cloud import farms
    from pecus.cloud.database import connect

    try:
        farms.check_time_zone(time_zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--time-zone") from exc
    with connect() as conn:
        farm_id = farms.create_farm(conn, name, time_zone)
    console.print(str(farm_id))


@app.command("create-user")
def create_user(
    email: str = typer.Option(..., "--email", help="The person's e-mail (their sign-in name)."),
    farm: str = typer.Option(..., "--farm", help="Farm id, or its exact name."),
    role: str = typer.Option(..., "--role", help="owner, farmer, vet or viewer."),
    password: str | None = typer.Option(
        None,
        "--password",
        help="Set this password (min. 8 characters); a new account without one gets a generated one.",
    ),
) -> None:
    """Add a person to a farm with a role, creating their sign-in account when needed (local mode)."""
    from pecus.cloud.auth.config import auth_mode
    from pecus.cloud.auth.users import create_user as run
    from pecus.cloud.database import connect

    try:
        local = auth_mode() == "local"
        with connect() as conn:
            result = run(conn, email, farm, role, password, local_accounts=local)
    except (ValueError, LookupError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    verb = "created" if result.created else "updated"
    console.print(f"{verb} user {result.user_id}: {role} of farm {result.farm_id}")
    if result.generated_password:
        console.print(f"password (shown once): {result.generated_password}")


@app.command()
def simulate(
    cows: int = typer.Option(120, "--cows", min=1, help="Herd size."),
    days: float = typer.Option(
        60, "--days", min=0.1, help="Days of history, ending now (or --start + days)."
    ),
    seed: int = typer.Option(1, "--seed", help="Same seed, same farm."),
    out: Path = typer.Option(..., "--out", help="Folder for delpro.sqlite, sessions.csv, cases.csv."),
    start: datetime | None = typer.Option(None, "--start", help="UTC start, e.g. 2025-01-01T00:00:00+00:00."),
    time_zone: str = typer.Option(
        "Europe/Rome", "--time-zone", help="The farm's zone (DelPro stores local time)."
    ),
    emerging: int = typer.Option(
        0, "--emerging", min=0, help="Clinical cases emerging at the end of the history."
    ),
    live_days: float = typer.Option(
        0, "--live-days", min=0, help="Days of future milkings a live robot can append."
    ),
    delpro_url: str | None = typer.Option(
        None, "--delpro-url", help="SQLAlchemy URL instead of the SQLite file."
    ),
) -> None:
    """Simulate a DelPro farm: the source database, labelled sessions and the mastitis cases."""
    from pecus.ai.operations import simulate_to
    from pecus.cloud.farms import check_time_zone

    try:
        check_time_zone(time_zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--time-zone") from exc
    if start is not None and start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    files = simulate_to(
        out, cows=cows, days=days, seed=seed, start=start, time_zone=time_zone,
        emerging_cases=emerging, live_days=live_days, delpro_url=delpro_url,
    )  # fmt: skip
    console.print(f"{files.sessions} milkings of {files.cows} cows, {files.cases} clinical cases")
    console.print(f"DelPro source: {files.delpro_url}")
    console.print(f"labelled sessions: {files.sessions_csv}\ncases: {files.cases_csv}")


model_app = typer.Typer(
    help="The mastitis risk model: train, evaluate, score, approve.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


def _default_models_dir() -> Path:
    from pecus.cloud.settings import pecus_home

    return pecus_home() / "models"


@model_app.command("train")
def model_train(
    with_feedback: bool = typer.Option(
        False, "--with-feedback", help="Add farmers' alert feedback and treated cases (DATABASE_URL)."
    ),
    register: bool | None = typer.Option(
        None,
        "--register/--no-register",
        help="Store in the database for approval (default: with --with-feedback).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for <version>/ (default: $PECUS_HOME/models)."
    ),
    quick: bool = typer.Option(
        False, "--quick", help="Tiny farms, seconds: tries the pipeline, not a usable model."
    ),
) -> None:
    """Train a new model version on simulated farms (and farm feedback)."""
    from pecus.ai.operations import train

    result, path = train(
        out=out or _default_models_dir(), quick=quick, with_feedback=with_feedback,
        register=with_feedback if register is None else register,
    )  # fmt: skip
    _print_evaluation(result.evaluation)
    console.print(f"model {result.model.version} written to {path} ({result.seconds:.0f} s)")
    if with_feedback if register is None else register:
        console.print(f"stored for approval: pecus model approve {result.model.version}")


@model_app.command("evaluate")
def model_evaluate(
    model: str | None = typer.Option(
        None, "--model", help="Model directory or packaged version (default: newest)."
    ),
    write_card: Path | None = typer.Option(
        None, "--write-card", help="Write the model card (and its PNG) here."
    ),
    quick: bool = typer.Option(False, "--quick", help="Tiny farms, seconds."),
    farm: str | None = typer.Option(
        None,
        "--farm",
        help="Instead: the field accuracy report of this farm (id or exact name; DATABASE_URL).",
    ),
    days: int | None = typer.Option(
        None, "--days", min=1, max=730, help="With --farm: local days back, today included (default 90)."
    ),
    as_json: bool = typer.Option(False, "--json", help="With --farm: print the report as JSON."),
) -> None:
    """Measure a model and the rule baseline on simulated farms it never saw, or (--farm) the
    live model, the rule baseline and DelPro's MDi on a farm's own treated cases."""
    if farm is None:
        for given, name in [(days is not None, "--days"), (as_json, "--json")]:
            if given:
                raise typer.BadParameter("needs --farm", param_hint=name)
        from pecus.ai.operations import evaluate

        chosen, evaluation = evaluate(model=model, quick=quick, card=write_card)
        console.print(f"model {chosen.version}")
        _print_evaluation(evaluation)
        if write_card:
            console.print(f"model card written to {write_card}")
        return
    for given, name in [
        (model is not None, "--model"),
        (write_card is not None, "--write-card"),
        (quick, "--quick"),
    ]:
        if given:
            raise typer.BadParameter("is for the simulated evaluation, not with --farm", param_hint=name)
    from pecus.ai.field_accuracy import DEFAULT_DAYS
    from pecus.ai.operations import field_report

    try:
        report = field_report(farm, days=days or DEFAULT_DAYS)
    except LookupError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print_field_accuracy(report)


def _print_field_accuracy(report: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    console.print(
        f"farm {report.farm_id}: {report.from_day} to {report.to_day} ({report.time_zone}),"
        f" {report.milkings} milkings, {report.treatments} treatments, {len(report.cases)} mastitis cases"
    )
    table = Table("detector", "cases warned", "sensitivity", "median lead", "warned >= 24 h", "alerts",
                  "without case", "confirmed false", "false / 1,000")  # fmt: skip
    for d in report.detectors:
        if not d.available:
            table.add_row(d.detector, "no data", *["-"] * 7)
            continue
        unjudged = f" ({d.cases_not_judged} not judged)" if d.cases_not_judged else ""
        table.add_row(
            d.detector,
            f"{d.cases_warned} / {d.cases}{unjudged}",
            "-" if d.sensitivity is None else f"{100 * d.sensitivity:.0f} %",
            "-" if d.lead_hours_median is None else f"{d.lead_hours_median:.0f} h",
            str(d.warned_24h),
            str(d.alerts),
            str(d.alerts_without_case),
            str(d.confirmed_false),
            "-" if d.false_alerts_per_1000_milkings is None else f"{d.false_alerts_per_1000_milkings:.2f}",
        )
    console.print(table)
    if any(d.cases_not_judged for d in report.detectors):
        console.print(
            "not judged: cases whose milkings reached the cloud too late for an alert (the model alerts"
            " only on milkings synced within 72 h: not on the first sync's backlog)",
            highlight=False,
        )
    names = Table("diagnosis", "treatments", "clinical mastitis")
    for n in report.diagnoses:
        names.add_row(escape(n.diagnosis), str(n.treatments), "yes" if n.mastitis else "no")
    console.print(names)
    console.print(f"mastitis patterns: {escape(', '.join(report.patterns))}", highlight=False)


def _print_evaluation(evaluation: Any) -> None:
    from rich.table import Table

    table = Table(
        "score", "sensitivity (48 h)", "specificity / cow-day", "false alerts / 1,000", "median warning"
    )
    rows = [
        ("model", evaluation.model),
        ("rule, same specificity", evaluation.rule_same_specificity),
        ("rule, default alarms", evaluation.rule_default),
    ]
    for name, m in rows:
        warning = "-" if m.median_warning_h is None else f"{m.median_warning_h:.0f} h"
        table.add_row(
            name,
            f"{100 * m.sensitivity:.1f} %",
            f"{100 * m.specificity:.2f} %",
            f"{m.false_alerts_per_1000:.2f}",
            warning,
        )
    console.print(table)


@model_app.command("score")
def model_score(
    input: Path = typer.Option(
        ..., "--input", exists=True, dir_okay=False, help="Sessions CSV (contract columns)."
    ),
    output: Path = typer.Option(..., "--output", dir_okay=False, help="transaction_id,unit,risk_score,alert"),
    model: str | None = typer.Option(
        None, "--model", help="Model directory or packaged version (default: newest)."
    ),
) -> None:
    """Score a sessions CSV: one output row per input row."""
    from pecus.ai.operations import score
    from pecus.ai.scoring import InputError

    try:
        chosen, rows, alerts = score(source=input, target=output, model=model)
    except InputError as exc:
        console.print(f"[red]{input}: {exc}[/red]")
        raise typer.Exit(2) from exc
    console.print(f"{rows} milkings scored with model {chosen.version}: {alerts} alert(s) -> {output}")


@model_app.command("list")
def model_list() -> None:
    """Models shipped in the package and stored in the database (DATABASE_URL)."""
    from pecus.ai.model import model_dirs, packaged_folder
    from pecus.ai.registry import stored_versions
    from pecus.cloud.database import connect

    for path in model_dirs(packaged_folder()):
        console.print(f"{path.name}  packaged (approved by release)")
    with connect() as conn:
        for v in stored_versions(conn):
            state = (
                f"approved {v.approved_at:%Y-%m-%d %H:%M} by {v.approved_by}"
                if v.approved_at
                else "not approved"
            )
            sens = v.metrics.get("sensitivity")
            figure = f", sensitivity {100 * sens:.1f} %" if isinstance(sens, int | float) else ""
            console.print(f"{v.version}  stored, {state}{figure}")


@model_app.command("approve")
def model_approve(
    version: str = typer.Argument(..., help="A stored version (see `pecus model list`)."),
    by: str = typer.Option(..., "--by", help="Who approves (recorded)."),
) -> None:
    """Approve a stored model: live scoring uses it within a minute."""
    from pecus.ai.registry import approve
    from pecus.cloud.database import connect

    with connect() as conn:
        try:
            approve(conn, version, by)
        except LookupError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from exc
    console.print(f"model {version} approved by {by}")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", envvar="HOST", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", envvar="PORT", help="Port to listen on (Render sets PORT)."),
    workers: int = typer.Option(1, "--workers", envvar="WEB_CONCURRENCY", help="Worker processes."),
    run_migrations: bool = typer.Option(False, "--migrate", help="Apply pending migrations first."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log every request."),
) -> None:
    """Run the cloud API (uvicorn). Migrations run only with --migrate (Render runs them pre-deploy)."""
    import uvicorn

    from pecus.cloud.database import database_url

    url = database_url()
    if run_migrations:
        from pecus.cloud.migrations import migrate as run

        applied = run(_migration_url(url))
        console.print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))
    # Every worker builds the app from the factory; DATABASE_URL carries the resolved URL to them.
    os.environ["DATABASE_URL"] = url
    uvicorn.run(
        "pecus.cloud.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        proxy_headers=True,
        # Applied in every worker process: our log format, uvicorn's loggers included.
        log_config={
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"plain": {"format": LOG_FORMAT}},
            "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
            "root": {"handlers": ["stderr"], "level": logging.getLevelName(logging.getLogger().level)},
        },
    )


@app.command("create-agent-key")
def create_agent_key(
    farm: str = typer.Option(..., "--farm", help="The farm's id."),
    label: str = typer.Option("", "--label", help="A note to tell keys apart, e.g. the farm PC's name."),
) -> None:
    """Create an API key for the farm's agent. The key is printed once (on stdout) and stored only as
    a hash: put it in the agent's config now."""
    from pecus.cloud import agent_keys
    from pecus.cloud.database import connect

    farm_id = _farm_id(farm)
    with connect() as conn:
        try:
            new = agent_keys.create_agent_key(conn, farm_id, label)
        except agent_keys.UnknownFarm as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    err = Console(stderr=True)
    err.print(f"agent key {new.key_id} ({new.display_prefix}…) for farm {farm_id}; shown only this once:")
    typer.echo(new.key)


@app.command("revoke-agent-key")
def revoke_agent_key(
    farm: str = typer.Option(..., "--farm", help="The farm's id."),
    key_id: str = typer.Option(..., "--key-id", help="The key's id (printed by create-agent-key)."),
) -> None:
    """Revoke an agent key: requests with it are refused (401) from now on."""
    from pecus.cloud import agent_keys
    from pecus.cloud.database import connect

    farm_id = _farm_id(farm)
    try:
        key_uuid = uuid.UUID(key_id)
    except ValueError as exc:
        raise typer.BadParameter(f"{key_id!r} is not a key id (a UUID)", param_hint="--key-id") from exc
    with connect() as conn:
        try:
            when = agent_keys.revoke_agent_key(conn, farm_id, key_uuid)
        except agent_keys.UnknownKey as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from exc
    console.print(f"agent key {key_uuid} of farm {farm_id} revoked at {when.isoformat()}")


def _farm_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise typer.BadParameter(f"{value!r} is not a farm id (a UUID)", param_hint="--farm") from exc


@app.command()
def dispatch(
    once: bool = typer.Option(False, "--once", help="Deliver what is due now, then exit."),
) -> None:
    """Deliver notifications from the outbox. `pecus serve` does this itself (one instance at a
    time); run this where the API runs with PECUS_BACKGROUND_JOBS=off. Prints a JSON summary."""
    import asyncio
    import json

    from pecus.cloud.database import database_url
    from pecus.cloud.notify.config import NotifySettings, direct_database_url
    from pecus.cloud.notify.dispatcher import Dispatcher, run_until_signalled

    try:
        url = direct_database_url(database_url())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="DATABASE_DIRECT_URL") from exc
    dispatcher = Dispatcher(url, NotifySettings.from_env())
    if not once:
        asyncio.run(run_until_signalled(dispatcher))
        return
    result = asyncio.run(dispatcher.run_once())
    summary = {"lock": result is not None, **(vars(result) if result is not None else {})}
    typer.echo(json.dumps(summary))


@app.command("risk-scan")
def risk_scan() -> None:
    """Scan every farm now: stale data feeds, recovered cows, missed scores. For the Render cron
    job; `pecus serve` also runs it on a schedule. Prints a JSON summary."""
    import asyncio
    import json

    from pecus.cloud.database import database_url
    from pecus.cloud.notify.config import direct_database_url
    from pecus.cloud.risk_scan import run_scan_job

    try:
        url = direct_database_url(database_url())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="DATABASE_DIRECT_URL") from exc
    summary = asyncio.run(run_scan_job(url, force=True))
    typer.echo(json.dumps(summary, default=str))


@app.command()
def demo(
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open the dashboard in a browser."),
    exit_after: int | None = typer.Option(
        None,
        "--exit-after",
        min=1,
        help="Exit after N agent cycles (exit code 0 when the last one was fine). The live robot "
        "pauses before the last cycle, so the cloud ends with every milking of the source.",
    ),
    port: int = typer.Option(8000, "--port", min=0, help="The API's port (busy or 0: a free one)."),
    cows: int = typer.Option(120, "--cows", min=2, help="Herd size of a new demo farm."),
    days: float = typer.Option(60, "--days", min=8, help="Days of history of a new demo farm, ending now."),
    interval: float = typer.Option(20, "--interval", min=2, help="Seconds between the agent's cycles."),
) -> None:
    """The whole platform on this machine: database, simulated DelPro farm, API and dashboard, the
    farm agent, live milkings and a local notification inbox. Ctrl+C stops it; running it again
    resumes. State in $PECUS_HOME/demo (delete it to start over)."""
    from pecus.demo import DemoOptions, run_demo

    options = DemoOptions(
        open_browser=not no_browser, exit_after=exit_after, port=port, cows=cows, days=days, interval=interval
    )
    raise typer.Exit(run_demo(options, Console(soft_wrap=True)))


if __name__ == "__main__":
    app()
