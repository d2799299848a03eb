"""`pecus`: the operator's command line for the cloud side."""

from __future__ import annotations

import logging
import os
import uuid

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
    """Apply pending database migrations (DATABASE_URL, or the embedded database)."""
    from pecus.cloud.migrations import migrate as run

    applied = run()
    console.print(f"applied {len(applied)} migration(s)" + (f": {', '.join(applied)}" if applied else ""))


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

        applied = run(url)
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
def demo() -> None:
    """Run the platform locally on the embedded database (grows with each part of the platform)."""
    from pecus.cloud.database import database_url
    from pecus.cloud.migrations import migrate as run

    url = database_url()
    applied = run(url)
    console.print(f"database: {url} (migrations applied now: {len(applied)})")
    console.print("The API, agent and dashboard are not part of the demo yet.")


if __name__ == "__main__":
    app()
