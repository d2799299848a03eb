"""The API (`pecus serve`) and the agent (`pecus-agent run`) as child processes.

Each child gets its own process group, so a Ctrl+C in the terminal reaches only the demo, which
then stops them in order (agent first, then the API, which finishes scoring what it received).
Their output goes to a log file; the agent's lines are also shown in the terminal.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import httpx

WINDOWS = sys.platform == "win32"


class Child:
    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        log_path: Path,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._echo = echo
        self._tail: deque[str] = deque(maxlen=40)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if WINDOWS else 0  # type: ignore[attr-defined]
        self.proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            start_new_session=not WINDOWS,
            creationflags=flags,
        )
        self._pump = threading.Thread(target=self._copy_output, name=f"{name}-output", daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        assert self.proc.stdout is not None
        with self.log_path.open("a", encoding="utf-8") as log:
            for line in self.proc.stdout:
                log.write(line)
                log.flush()
                self._tail.append(line.rstrip("\n"))
                if self._echo is not None:
                    self._echo(line.rstrip("\n"))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return "\n".join(self._tail)

    def stop(self, timeout: float) -> int:
        """Ask the child to stop (SIGTERM; CTRL_BREAK on Windows), kill it after `timeout` s."""
        if self.alive():
            if WINDOWS:
                self.proc.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._pump.join(timeout=5)
        return self.proc.returncode


def console_script(name: str, module: str) -> list[str]:
    """The installed console script next to this Python, else `python -m module`."""
    folder = Path(sys.executable).parent
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.is_file():
            return [str(candidate)]
    return [sys.executable, "-m", module]


def choose_port(host: str, wanted: int) -> int:
    """`wanted` if it is free (0: any free port), else a free one."""
    for port in (wanted, 0) if wanted else (0,):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError(f"no free port on {host}")


def start_api(host: str, port: int, env: Mapping[str, str], log_path: Path) -> Child:
    argv = [*console_script("pecus", "pecus.cli"), "serve", "--host", host, "--port", str(port)]
    return Child("api", argv, {**env, "PYTHONUNBUFFERED": "1"}, log_path)


def wait_ready(child: Child, base_url: str, timeout: float) -> None:
    """Until `/readyz` answers 200 (the database answers and the schema is current)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"the API stopped (exit code {child.proc.returncode}):\n{child.tail()}")
        try:
            response = httpx.get(f"{base_url}/readyz", timeout=2.0)
            if response.status_code == 200:
                return
            last = response.text
        except httpx.TransportError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise TimeoutError(
        f"the API at {base_url} was not ready within {timeout:.0f} s ({last}):\n{child.tail()}"
    )


def start_agent(config: Path, env: Mapping[str, str], log_path: Path, echo: Callable[[str], None]) -> Child:
    # The generated config is the whole truth: PECUS_AGENT_* variables of this shell would override it.
    clean = {k: v for k, v in env.items() if not k.upper().startswith("PECUS_AGENT_")}
    argv = [*console_script("pecus-agent", "pecus.agent.cli"), "--config", str(config), "run"]
    return Child("agent", argv, {**clean, "PYTHONUNBUFFERED": "1"}, log_path, echo)


def agent_config(
    *,
    cloud_url: str,
    farm_id: str,
    key_file: Path,
    time_zone: str,
    interval: float,
    source_url: str,
    state_dir: Path,
) -> str:
    """The agent's TOML for the demo (see deploy/agent.example.toml for every setting)."""

    def quoted(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "\n".join(
        [
            "# Written by `pecus demo` at every start; edit deploy/agent.example.toml for a real farm.",
            f"cloud_url = {quoted(cloud_url)}",
            f"farm_id = {quoted(farm_id)}",
            f"api_key_file = {quoted(str(key_file))}",
            f"time_zone = {quoted(time_zone)}",
            f"interval = {interval:g}",
            f"log_dir = {quoted(str(state_dir / 'logs'))}",
            f"state_file = {quoted(str(state_dir / 'agent-state.json'))}",
            "",
            "[[source]]",
            'name = "delpro"',
            f"url = {quoted(source_url)}",
            "",
        ]
    )


def environment_without(names: Sequence[str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
