"""The Render Blueprint (`render.yaml`) can only be tried on Render; what can be checked here is.

It parses; each `pecus` command and option it runs exists; each path it builds or watches exists;
each environment variable it sets is one the code (or uvicorn, or Render) reads; secrets are never
written in it; the dashboard is a single-page app with the API's URL baked in.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import yaml

from pecus.cloud.app import create_app

REPO = Path(__file__).resolve().parents[1]
BLUEPRINT = REPO / "render.yaml"
PECUS = str(Path(sys.executable).with_name("pecus"))

# Read by Render itself, or by uvicorn under `pecus serve`; everything else must be read by our code.
PLATFORM_VARIABLES = {"PYTHON_VERSION", "NODE_VERSION", "FORWARDED_ALLOW_IPS"}
SECRETS = {"DATABASE_URL", "DATABASE_DIRECT_URL", "SUPABASE_JWT_SECRET", "PECUS_JWT_SECRET"}


@pytest.fixture(scope="module")
def blueprint() -> dict[str, Any]:
    data = yaml.safe_load(BLUEPRINT.read_text())
    assert isinstance(data, dict)
    return data


def services(blueprint: dict[str, Any], **match: str) -> list[dict[str, Any]]:
    found = [s for s in blueprint["services"] if all(s.get(k) == v for k, v in match.items())]
    assert found, f"no service with {match}"
    return found


def commands(blueprint: dict[str, Any]) -> list[str]:
    keys = ("buildCommand", "preDeployCommand", "startCommand")
    return [s[k] for s in blueprint["services"] for k in keys if k in s]


def pecus_invocations(command: str) -> list[list[str]]:
    """Each `pecus …` in a shell command line, as its arguments (up to `&&`, `;` or `|`)."""
    found, words = [], shlex.split(command)
    for i, word in enumerate(words):
        if Path(word).name == "pecus":
            args: list[str] = []
            for arg in words[i + 1 :]:
                if arg in ("&&", ";", "|", "||"):
                    break
                args.append(arg)
            found.append(args)
    return found


def test_the_blueprint_has_the_api_the_dashboard_and_the_risk_scan(blueprint: dict[str, Any]) -> None:
    (api,) = services(blueprint, type="web", runtime="python")
    (site,) = services(blueprint, type="web", runtime="static")
    (cron,) = services(blueprint, type="cron")
    assert "pecus serve" in api["startCommand"] and api["preDeployCommand"].endswith("pecus migrate")
    assert cron["startCommand"].endswith("pecus risk-scan")
    assert re.fullmatch(r"[\d*/,-]+( [\d*/,-]+){4}", cron["schedule"]), cron["schedule"]
    assert {"type": "rewrite", "source": "/*", "destination": "/index.html"} in site["routes"]
    site_keys = {v["key"] for v in site["envVars"] if "key" in v}
    assert {"VITE_API_URL", "VITE_AUTH_MODE", "VITE_SUPABASE_URL", "VITE_SUPABASE_ANON_KEY"} <= site_keys


def test_every_pecus_command_and_option_exists(blueprint: dict[str, Any]) -> None:
    invocations = [args for c in commands(blueprint) for args in pecus_invocations(c)]
    assert {args[0] for args in invocations} == {"migrate", "serve", "risk-scan"}
    for args in invocations:
        result = subprocess.run([PECUS, args[0], "--help"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"`pecus {args[0]} --help`: {result.stdout}{result.stderr}"
        for option in (a.split("=")[0] for a in args[1:] if a.startswith("--")):
            assert option in result.stdout, f"`pecus {args[0]}` has no option {option}"
        if args[0] == "serve":  # Render tells the service its port in PORT
            assert "PORT" in result.stdout


def test_the_api_health_check_is_a_route_of_the_api(blueprint: dict[str, Any]) -> None:
    (api,) = services(blueprint, type="web", runtime="python")
    app = create_app("postgresql://unused@127.0.0.1:1/unused")

    async def probe() -> httpx.Response:
        # Without its lifespan (no database): the health check must not need one.
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            return await client.get(api["healthCheckPath"])

    response = anyio.run(probe)
    assert response.status_code == 200, response.text


def test_paths_and_extras_exist(blueprint: dict[str, Any]) -> None:
    (site,) = services(blueprint, type="web", runtime="static")
    publish = REPO / site["staticPublishPath"]
    assert publish.name == "dist" and (publish.parent / "package.json").is_file()
    assert (publish.parent / "package-lock.json").is_file(), "the site's build runs `npm ci`"
    for command in commands(blueprint):
        for folder in re.findall(r"\bcd (\S+)", command):
            assert (REPO / folder).is_dir(), command
        for extra in re.findall(r"--extra (\S+)", command):
            extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
            assert extra in extras, command
    for service in blueprint["services"]:
        for pattern in service.get("buildFilter", {}).get("paths", []):
            fixed = pattern.split("*")[0].rstrip("/")
            assert (REPO / fixed).exists(), f"{service['name']}: buildFilter {pattern} matches nothing"


def test_environment_variables_are_read_by_the_code_and_secrets_never_written(
    blueprint: dict[str, Any],
) -> None:
    groups = {g["name"]: g["envVars"] for g in blueprint.get("envVarGroups", [])}
    python_code = "\n".join(p.read_text() for p in (REPO / "src").rglob("*.py"))
    web_code = "\n".join(p.read_text() for p in (REPO / "web" / "src").rglob("*.ts*"))
    entries = [(name, v) for name, vs in groups.items() for v in vs]
    for service in blueprint["services"]:
        for variable in service.get("envVars", []):
            if "fromGroup" in variable:
                assert variable["fromGroup"] in groups, f"{service['name']}: no group {variable['fromGroup']}"
            else:
                entries.append((service["name"], variable))
    for owner, variable in entries:
        key = variable["key"]
        if key not in PLATFORM_VARIABLES:
            code = web_code if key.startswith("VITE_") else python_code
            assert re.search(rf"\b{key}\b", code), f"{owner}: nothing reads {key}"
        if key in SECRETS:
            assert variable.get("sync") is False and "value" not in variable, (
                f"{owner}: {key} must be sync: false"
            )
    for name, variables in groups.items():
        # Render ignores `sync: false` inside an environment group: such a secret would never be asked for.
        assert all("sync" not in v for v in variables), f"group {name}"
    python = [s for s in blueprint["services"] if s.get("runtime") == "python"]
    for service in python:
        keys = {v["key"] for v in service["envVars"] if "key" in v}
        assert {"DATABASE_URL", "DATABASE_DIRECT_URL"} <= keys, service["name"]
