"""`pecus-agent install | uninstall`: register the agent with the machine's service manager,
so a technician's last step is one command.

Windows: the `PecusAgent` service of the single-file executable (the service control manager
starts `pecus-agent.exe` without arguments; it then reads the default configuration), delayed
automatic start, restarted after a failure; all with `sc.exe`, as `deploy/windows/install-agent.ps1`
does. Linux: a systemd unit (`Type=notify`, watchdog, `Restart=always`) in /etc/systemd/system.
Both are safe to repeat: installing again updates the registration (an upgrade); on Linux it
also restarts the agent, on Windows the new executable runs at the next service start.

The steps are plain command lines, so the technician sees each one and the tests run them
against stand-ins for `sc.exe` and `systemctl`, which do not exist here.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pecus.agent.windows import DESCRIPTION, DISPLAY_NAME, SERVICE_NAME

UNIT_NAME = "pecus-agent.service"
SYSTEMD_DIR = Path("/etc/systemd/system")
# sc.exe's exit code when the service does not exist.
ERROR_SERVICE_DOES_NOT_EXIST = 1060
ERROR_SERVICE_ALREADY_RUNNING = 1056
ERROR_SERVICE_NOT_ACTIVE = 1062
# Restart 1 min after a failure, again after 1 min, then every 5 min; the count resets after a day.
RESTARTS = "restart/60000/restart/60000/restart/300000"

# `deploy/linux/pecus-agent.service` is this text for the default paths (a test keeps them equal).
_UNIT = """\
# systemd unit of the Pecus farm agent (Linux farm PCs and servers); written by
# `pecus-agent install`, which then runs `systemctl daemon-reload`, `enable` and `restart`.
#   pecus-agent check                    # as root; logs: journalctl -u pecus-agent, /var/log/pecus
[Unit]
Description=Pecus farm agent (moves new milkings to the Pecus cloud)
Documentation=file:///usr/local/share/doc/pecus/farm-agent.md
Wants=network-online.target
After=network-online.target

[Service]
# READY=1 once the run loop starts; WATCHDOG=1 from the loop every tick (a third of WatchdogSec
# at most), so a hung agent is restarted. The single-file executable is a small launcher with
# the agent as its child process: the child notifies, hence NotifyAccess=all.
Type=notify
NotifyAccess=all
WatchdogSec=180
ExecStart={exec_start}
Restart=always
RestartSec=60
TimeoutStopSec=30
# Runs as root (defaults: logs in /var/log/pecus, state in /var/lib/pecus), with the rest of
# the system read-only.
LogsDirectory=pecus
StateDirectory=pecus
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes

[Install]
WantedBy=multi-user.target
"""


class InstallError(Exception):
    """A step failed; the message says which and what it printed."""


@dataclass(frozen=True)
class Step:
    argv: list[str]
    ok_codes: tuple[int, ...] = (0,)  # outcomes that are not a failure (e.g. "not running")

    def accepts(self, result: subprocess.CompletedProcess[str]) -> bool:
        # sc.exe exits with the Windows error number and prints "[SC] StartService FAILED 1056:".
        said = f"{result.stdout}\n{result.stderr}"
        return result.returncode in self.ok_codes or any(f"FAILED {code}:" in said for code in self.ok_codes)


def _missing_service(result: subprocess.CompletedProcess[str]) -> bool:
    return Step([], (ERROR_SERVICE_DOES_NOT_EXIST,)).accepts(result)


Run = Callable[[Sequence[str]], subprocess.CompletedProcess[str]]


def _run(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=120, check=False)


def _quote(path: Path) -> str:
    text = str(path)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def systemd_unit(executable: Path, config: Path) -> str:
    return _UNIT.format(exec_start=f"{_quote(executable)} --config {_quote(config)} run")


def windows_steps(executable: Path, exists: bool) -> list[Step]:
    # binPath is the whole command line: the path quoted, so a space in it is not an argument.
    bin_path = f'"{executable}"'
    register = (
        ["sc.exe", "config", SERVICE_NAME, "binPath=", bin_path, "start=", "delayed-auto"]
        if exists
        else ["sc.exe", "create", SERVICE_NAME, "binPath=", bin_path, "start=", "delayed-auto",
              "DisplayName=", DISPLAY_NAME]
    )  # fmt: skip
    return [
        Step(register),
        Step(["sc.exe", "description", SERVICE_NAME, DESCRIPTION]),
        Step(["sc.exe", "failure", SERVICE_NAME, "reset=", "86400", "actions=", RESTARTS]),
        Step(["sc.exe", "failureflag", SERVICE_NAME, "1"]),  # also when it stops with an error
        Step(["sc.exe", "start", SERVICE_NAME], ok_codes=(0, ERROR_SERVICE_ALREADY_RUNNING)),
    ]


def install(
    platform: str, executable: Path, config: Path, *, run: Run = _run, unit_dir: Path = SYSTEMD_DIR
) -> list[str]:
    """Register and start the service; returns the commands run (and files written)."""
    if platform == "win32":
        exists = not _missing_service(run(["sc.exe", "query", SERVICE_NAME]))
        return _perform(windows_steps(executable, exists), run)
    unit = unit_dir / UNIT_NAME
    try:
        unit.write_text(systemd_unit(executable, config))
        unit.chmod(0o644)
    except OSError as exc:
        raise InstallError(f"could not write {unit}: {exc.strerror or exc} (run as root)") from exc
    steps = [
        Step(["systemctl", "daemon-reload"]),
        Step(["systemctl", "enable", UNIT_NAME]),
        Step(["systemctl", "restart", UNIT_NAME]),  # starts it, or restarts it on an upgrade
    ]
    return [f"wrote {unit}", *_perform(steps, run)]


def uninstall(platform: str, *, run: Run = _run, unit_dir: Path = SYSTEMD_DIR) -> list[str]:
    """Stop and remove the service; configuration, logs and state stay. Safe when not installed."""
    if platform == "win32":
        if _missing_service(run(["sc.exe", "query", SERVICE_NAME])):
            return []
        stop = Step(["sc.exe", "stop", SERVICE_NAME], (0, ERROR_SERVICE_NOT_ACTIVE))
        steps = [stop, Step(["sc.exe", "delete", SERVICE_NAME])]
        return _perform(steps, run)
    unit = unit_dir / UNIT_NAME
    if not unit.exists():
        return []
    # 1 and 5: the unit is not loaded (systemd was not told of it yet).
    done = _perform([Step(["systemctl", "disable", "--now", UNIT_NAME], (0, 1, 5))], run)
    unit.unlink()
    return [*done, f"removed {unit}", *_perform([Step(["systemctl", "daemon-reload"])], run)]


def _perform(steps: list[Step], run: Run) -> list[str]:
    done = []
    for step in steps:
        try:
            result = run(step.argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise InstallError(f"`{' '.join(step.argv)}` could not run: {exc}") from exc
        if not step.accepts(result):
            said = (result.stderr or result.stdout).strip()
            raise InstallError(
                f"`{' '.join(step.argv)}` failed with exit code {result.returncode}"
                + (f": {said}" if said else "")
            )
        done.append(" ".join(step.argv))
    return done
