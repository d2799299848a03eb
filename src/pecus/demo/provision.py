"""The demo's farm and owner, made once and found again on the next run.

What must survive between runs (the farm's id, the owner's password, the agent key's id, the
inbox's port and notification target) is kept in `demo.json` (mode 0600) next to the simulated
source. The farm and the owner are made the way an operator makes them (`pecus create-farm`,
`pecus create-user`): these functions are the ones those commands call.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import psycopg
from pydantic import BaseModel, ValidationError

from pecus.cloud import farms
from pecus.cloud.auth.users import create_user

FARM_NAME = "Demo farm"
TIME_ZONE = "Europe/Rome"
OWNER_EMAIL = "demo@pecus.example"


class DemoState(BaseModel):
    farm_id: uuid.UUID | None = None
    password: str | None = None
    key_id: uuid.UUID | None = None
    inbox_port: int | None = None
    inbox_url: str | None = None
    target_id: int | None = None


def load_state(path: Path) -> DemoState:
    try:
        return DemoState.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return DemoState()
    except (OSError, ValidationError, ValueError):
        # A damaged file costs a new farm, never a failed demo.
        return DemoState()


def save_state(path: Path, state: DemoState) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    write_private(temporary, state.model_dump_json(indent=1))
    os.replace(temporary, path)


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (it holds a password or a key)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


def farm_exists(conn: psycopg.Connection[Any], farm_id: uuid.UUID) -> bool:
    return conn.execute("SELECT 1 FROM public.tenants WHERE tenant_id = %s", [farm_id]).fetchone() is not None


def ensure_farm(conn: psycopg.Connection[Any], state: DemoState, *, new_source: bool) -> bool:
    """The demo farm's id in `state`; True when a farm was created now. A new source (the old one
    was deleted) gets a new farm too: the cloud's watermark of the old farm would be above every id
    of the new source, and the agent rightly refuses to upload into that."""
    if state.farm_id is not None and not new_source and farm_exists(conn, state.farm_id):
        return False
    state.farm_id = farms.create_farm(conn, FARM_NAME, TIME_ZONE)
    state.key_id = state.target_id = None
    return True


def ensure_owner(conn: psycopg.Connection[Any], state: DemoState) -> str:
    """The demo owner (local sign-in) with the password kept in `state`; returns the e-mail."""
    assert state.farm_id is not None
    state.password = state.password or secrets.token_urlsafe(9)
    create_user(conn, OWNER_EMAIL, str(state.farm_id), "owner", state.password, local_accounts=True)
    return OWNER_EMAIL
