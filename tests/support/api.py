"""The cloud API for tests, served for real over HTTP on loopback.

`running_api(url)` starts `python -m pecus.cli serve` as a subprocess on a free port, waits for
`/healthz` and yields the base URL; `serving(app)` runs an app object with uvicorn in a thread (for
tests that install an ingest hook). `create_farm_with_key(url)` makes a farm and an agent key.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from pecus.cloud.agent_keys import create_agent_key
from pecus.cloud.database import connect
from pecus.cloud.farms import create_farm

# A bound on waiting for a cold start (model and library imports) on a loaded machine, not a
# timing assertion: a healthy start takes a few seconds.
STARTUP_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class FarmKey:
    farm_id: uuid.UUID
    key: str
    key_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


def create_farm_with_key(database_url: str, name: str | None = None, time_zone: str = "UTC") -> FarmKey:
    """A new farm (unique name) with one agent key, committed."""
    with connect(database_url) as conn:
        farm_id = create_farm(conn, name or f"Farm {uuid.uuid4().hex[:8]}", time_zone)
        new = create_agent_key(conn, farm_id, "test")
    return FarmKey(farm_id, new.key, new.key_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_healthy(
    base_url: str, timeout: float = STARTUP_TIMEOUT_S, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the API exited with code {proc.returncode} before it was healthy")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the API at {base_url} was not healthy within {timeout} s")
        time.sleep(0.05)


@contextmanager
def running_api(
    database_url: str, env: dict[str, str] | None = None, *, args: Sequence[str] = (), attempts: int = 3
) -> Iterator[str]:
    """`pecus serve` in a subprocess against `database_url`; yields e.g. `http://127.0.0.1:41234`.
    `env` adds or overrides environment variables (e.g. PECUS_MAX_BATCH_SIZE; background jobs are off
    unless it sets PECUS_BACKGROUND_JOBS=on), `args` are more options of `pecus serve` (e.g.
    `--migrate`). The server's output
    goes to a temporary log file, shown in the error if it fails to start."""
    for attempt in range(1, attempts + 1):
        port = free_port()
        log = Path(tempfile.mkstemp(prefix="pecus-api-", suffix=".log")[1])
        child_env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
            # Tests that want the dispatcher and the scheduled scan turn them on.
            "PECUS_BACKGROUND_JOBS": "off",
            **(env or {}),
        }
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pecus.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    *args,
                ],
                env=child_env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_healthy(base_url, proc=proc)
            except (RuntimeError, TimeoutError) as exc:
                output = log.read_text(errors="replace")
                # Another process took the port between free_port() and the bind: try another one.
                if "address already in use" in output.lower() and attempt < attempts:
                    continue
                raise RuntimeError(f"{exc}\n--- API output ---\n{output[-4000:]}") from exc
            yield base_url
            return
        finally:
            stop_process(proc)
            log.unlink(missing_ok=True)


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve an app object with uvicorn in a thread of this process, on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def stored_transaction_ids(database_url: str, farm_id: uuid.UUID, source: str | None = None) -> list[int]:
    """The farm's stored session ids (of one source, or all), sorted, duplicates kept."""
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT m.transaction_id FROM milking_sessions m JOIN sources s USING (tenant_id, source_id)"
            " WHERE m.tenant_id = %s AND (%s::text IS NULL OR s.name = %s) ORDER BY 1",
            [farm_id, source, source],
        ).fetchall()
    return [int(r[0]) for r in rows]


def farm_snapshot(database_url: str, farm_id: uuid.UUID) -> dict[str, object]:
    """Everything ingest may write for a farm (except the sync_runs log), to show a refused batch
    changed nothing."""
    with connect(database_url) as conn:
        snap: dict[str, object] = {}
        for table, order in (
            ("milking_sessions", "source_id, transaction_id"),
            ("animals", "animal_id"),
            ("milking_units", "unit"),
            ("sources", "source_id"),
            ("treatments", "source_id, treatment_id"),
        ):
            snap[table] = conn.execute(
                f"SELECT * FROM {table} WHERE tenant_id = %s ORDER BY {order}", [farm_id]
            ).fetchall()
    return snap
