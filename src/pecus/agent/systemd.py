"""systemd's notify protocol: one datagram to $NOTIFY_SOCKET per message (`READY=1`,
`WATCHDOG=1`, `STOPPING=1`, `STATUS=…`). A few lines, so no dependency.

Under `Type=notify` systemd waits for READY=1 before the unit counts as started, and with
`WatchdogSec=` restarts the agent when WATCHDOG=1 stops coming (the daemon loop sends it every
tick, cycles included, so a hung loop is restarted). Without $NOTIFY_SOCKET every call does
nothing: `pecus-agent run` in a terminal.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class SystemdHost:
    """What systemd offers the agent (see `pecus.agent.service.ServiceHost`)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        address = environ.get("NOTIFY_SOCKET", "")
        # "@name" is a socket in the abstract namespace.
        self.address = "\0" + address[1:] if address.startswith("@") else address
        self.heartbeat_interval: float | None = None
        usec = environ.get("WATCHDOG_USEC", "")
        pid = environ.get("WATCHDOG_PID", "")
        # The watchdog is meant for WATCHDOG_PID: this process, or the launcher of the
        # single-file executable, whose child this process is (hence NotifyAccess=all).
        if self.address and usec.isdigit() and (not pid or int(pid) in (os.getpid(), os.getppid())):
            self.heartbeat_interval = int(usec) / 1e6 / 3  # well inside the timeout

    def notify(self, *lines: str) -> bool:
        if not self.address:
            return False
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.connect(self.address)
                sock.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.warning("could not notify systemd at %s: %s", self.address.replace("\0", "@"), exc)
            return False
        return True

    def ready(self) -> None:
        self.notify("READY=1", "STATUS=syncing milkings to the cloud")

    def heartbeat(self) -> None:
        if self.heartbeat_interval is not None:
            self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")

    def keep_awake(self, on: bool) -> None:
        """Not on Linux: a farm server running systemd does not idle-sleep."""

    def event(self, level: str, message: str) -> None:
        """The journal has the log already (stdout)."""
