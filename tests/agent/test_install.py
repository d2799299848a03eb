"""`pecus-agent install | uninstall` run against stand-ins for `systemctl` and `sc.exe` (neither
a service manager nor Windows runs here): small scripts on PATH that record their arguments and
answer with the exit codes the real ones give."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pecus.agent.install import UNIT_NAME, InstallError, install, systemd_unit, uninstall

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`systemctl` and `sc.exe` that append their argv to calls.log; with $FAKE_NO_SERVICE set,
    `sc.exe query` answers as for a service that does not exist (error 1060; exit codes are 8-bit
    here, so the number is in the output, as sc.exe prints it); a call matching $FAKE_FAIL exits 1."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    script = f"""#!/bin/sh
echo "$(basename "$0") $*" >> {log}
case "$(basename "$0") $*" in $FAKE_FAIL) echo "Access is denied." >&2; exit 1;; esac
if [ "$(basename "$0") $1" = "sc.exe query" ] && [ -n "$FAKE_NO_SERVICE" ]; then
  echo "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:"; exit 36
fi
exit 0
"""
    for name in ("systemctl", "sc.exe"):
        (bin_dir / name).write_text(script)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_FAIL", "no-such-call")
    log.touch()
    return log


def calls(log: Path) -> list[str]:
    return log.read_text().splitlines()


def test_linux_install_writes_the_unit_and_starts_it(fake_tools: Path, tmp_path: Path) -> None:
    exe, config = Path("/opt/pecus agent/pecus-agent"), Path("/etc/pecus/agent.toml")
    done = install("linux", exe, config, unit_dir=tmp_path)
    unit = (tmp_path / UNIT_NAME).read_text()
    assert 'ExecStart="/opt/pecus agent/pecus-agent" --config /etc/pecus/agent.toml run' in unit
    assert calls(fake_tools) == [
        "systemctl daemon-reload", f"systemctl enable {UNIT_NAME}", f"systemctl restart {UNIT_NAME}"
    ]  # fmt: skip
    assert done[0] == f"wrote {tmp_path / UNIT_NAME}"
    # Again (an upgrade): the same unit, restarted.
    install("linux", exe, config, unit_dir=tmp_path)
    assert (tmp_path / UNIT_NAME).read_text() == unit and calls(fake_tools)[
        -1
    ] == f"systemctl restart {UNIT_NAME}"


def test_linux_uninstall_removes_the_unit_and_is_safe_to_repeat(fake_tools: Path, tmp_path: Path) -> None:
    install("linux", Path("/usr/local/bin/pecus-agent"), Path("/etc/pecus/agent.toml"), unit_dir=tmp_path)
    fake_tools.write_text("")
    uninstall("linux", unit_dir=tmp_path)
    assert not (tmp_path / UNIT_NAME).exists()
    assert calls(fake_tools) == [f"systemctl disable --now {UNIT_NAME}", "systemctl daemon-reload"]
    assert uninstall("linux", unit_dir=tmp_path) == []


def test_a_failing_step_is_named_with_what_it_printed(
    fake_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL", f"systemctl enable {UNIT_NAME}")
    with pytest.raises(
        InstallError, match=rf"`systemctl enable {UNIT_NAME}` failed with exit code 1: Access is denied"
    ):
        install("linux", Path("/usr/local/bin/pecus-agent"), Path("/etc/pecus/agent.toml"), unit_dir=tmp_path)
    # It stopped there: nothing started.
    assert f"systemctl restart {UNIT_NAME}" not in calls(fake_tools)


def test_an_unwritable_unit_folder_says_to_run_as_root(fake_tools: Path, tmp_path: Path) -> None:
    with pytest.raises(InstallError, match=r"could not write .*run as root"):
        install("linux", Path("/x"), Path("/y"), unit_dir=tmp_path / "missing")
    assert calls(fake_tools) == []


def test_windows_install_creates_the_service_with_recovery(
    fake_tools: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_NO_SERVICE", "1")  # not installed yet
    install("win32", Path(r"C:\Program Files\Pecus\pecus-agent.exe"), Path("unused"))
    made = calls(fake_tools)
    assert made[0] == "sc.exe query PecusAgent"
    assert made[1] == (
        'sc.exe create PecusAgent binPath= "C:\\Program Files\\Pecus\\pecus-agent.exe" start= delayed-auto'
        " DisplayName= Pecus farm agent"
    )
    assert (
        "sc.exe failure PecusAgent reset= 86400 actions= restart/60000/restart/60000/restart/300000" in made
    )
    assert "sc.exe failureflag PecusAgent 1" in made and made[-1] == "sc.exe start PecusAgent"


def test_windows_install_again_updates_the_service(fake_tools: Path) -> None:
    install("win32", Path(r"C:\Pecus\pecus-agent.exe"), Path("unused"))  # query says: it exists
    assert calls(fake_tools)[1].startswith('sc.exe config PecusAgent binPath= "C:\\Pecus\\pecus-agent.exe"')


def test_windows_uninstall(fake_tools: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    uninstall("win32")
    assert calls(fake_tools) == [
        "sc.exe query PecusAgent",
        "sc.exe stop PecusAgent",
        "sc.exe delete PecusAgent",
    ]
    fake_tools.write_text("")
    monkeypatch.setenv("FAKE_NO_SERVICE", "1")
    assert uninstall("win32") == [] and calls(fake_tools) == ["sc.exe query PecusAgent"]


def test_the_shipped_unit_is_the_one_install_writes() -> None:
    shipped = (ROOT / "deploy" / "linux" / "pecus-agent.service").read_text()
    assert shipped == systemd_unit(Path("/usr/local/bin/pecus-agent"), Path("/etc/pecus/agent.toml"))


def test_install_refuses_a_bad_configuration_before_touching_the_system(
    fake_tools: Path, tmp_path: Path
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text('cloud_url = "not a url"\n')
    result = subprocess.run(
        [sys.executable, "-m", "pecus.agent", "--config", str(config), "install"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert str(config) in result.stdout and calls(fake_tools) == []
    missing = subprocess.run(
        [sys.executable, "-m", "pecus.agent", "--config", str(tmp_path / "none.toml"), "install"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert missing.returncode == 2 and "no configuration at" in missing.stdout


def test_install_from_a_module_run_says_which_command_to_use(fake_tools: Path, tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    shutil.copy(ROOT / "deploy" / "agent.example.toml", config)
    (tmp_path / "agent.key").write_text("pcs_example-key\n")
    result = subprocess.run(
        [sys.executable, "-m", "pecus.agent", "--config", str(config), "install"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "run the installed `pecus-agent install`" in result.stdout and calls(fake_tools) == []
