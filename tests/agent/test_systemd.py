"""systemd's notify protocol, received on a real unix datagram socket as systemd would."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pecus.agent.systemd import SystemdHost
from tests.agent import delpro_data
from tests.agent.conftest import SourceDB


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket on a short path (unix socket paths are limited to 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="sd-"))
    path = str(folder / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(10)
    try:
        yield sock, path
    finally:
        sock.close()
        os.unlink(path)
        folder.rmdir()


def pending(sock: socket.socket) -> list[str]:
    messages = []
    sock.setblocking(False)
    try:
        while True:
            messages.append(sock.recv(4096).decode())
    except BlockingIOError:
        return messages
    finally:
        sock.settimeout(10)


def test_ready_watchdog_and_stopping_arrive_as_datagrams(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    host = SystemdHost({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "90000000", "WATCHDOG_PID": str(os.getpid())})
    assert host.heartbeat_interval == 30.0  # a third of WatchdogSec
    host.ready()
    host.heartbeat()
    host.stopping()
    assert pending(sock) == ["READY=1\nSTATUS=syncing milkings to the cloud", "WATCHDOG=1", "STOPPING=1"]


def test_no_watchdog_unless_asked_for_this_process(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    SystemdHost({"NOTIFY_SOCKET": path}).heartbeat()
    other = SystemdHost({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"})
    other.heartbeat()
    assert other.heartbeat_interval is None and pending(sock) == []


def test_abstract_socket_and_no_socket() -> None:
    name = f"pecus-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(10)
        assert SystemdHost({"NOTIFY_SOCKET": "@" + name}).notify("READY=1")
        assert sock.recv(100) == b"READY=1"
    assert not SystemdHost({}).notify("READY=1")  # run in a terminal: nothing to tell


def test_a_vanished_socket_is_logged_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    host = SystemdHost({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not host.notify("READY=1")
    assert "could not notify systemd" in caplog.text


def test_run_under_systemd_notify_and_watchdog(
    notify_socket: tuple[socket.socket, str], make_source_db: Any, make_agent: Any
) -> None:
    """`pecus-agent run` as systemd starts it (Type=notify, WatchdogSec): ready once the loop
    runs, a watchdog ping every tick, cycles included, and STOPPING on SIGTERM."""
    sock, path = notify_socket
    db: SourceDB = make_source_db("sqlite")
    with db.engine.begin() as conn:
        delpro_data.add_herd(conn)
        delpro_data.add_sessions(conn, range(1, 21))
    agent = make_agent(db.source_settings(), interval="1h")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PECUS_AGENT_")}
    env.update(NOTIFY_SOCKET=path, WATCHDOG_USEC="600000")  # WatchdogSec=0.6 s: a ping every 0.2 s
    process = subprocess.Popen(
        [sys.executable, "-m", "pecus.agent.cli", "--config", str(agent.config_path), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert sock.recv(4096).startswith(b"READY=1")
        pings = [sock.recv(4096) for _ in range(3)]
        assert pings == [b"WATCHDOG=1"] * 3
        deadline = time.monotonic() + 60
        while len(agent.cloud_ids()) < 20:
            assert time.monotonic() < deadline, "the first cycle did not finish"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert pending(sock)[-1] == "STOPPING=1"
    assert agent.cloud_ids() == list(range(1, 21))
