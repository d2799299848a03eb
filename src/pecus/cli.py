"""`pecus`: the operator's command line for the cloud side."""

from __future__ import annotations

import logging

import typer
from rich.console import Console

app = typer.Typer(help="Pecus Chain cloud: database, API, AI engine and demo.", no_args_is_help=True)
console = Console()


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="Log more.")) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


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
