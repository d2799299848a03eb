"""The deployment files that cannot run here: the PowerShell scripts parse (tree-sitter's
PowerShell grammar, since there is no pwsh on Linux) and say what the install must do; the
systemd unit passes `systemd-analyze verify`; the Windows workflow is well-formed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import tree_sitter
import tree_sitter_powershell
import yaml

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ROOT / "deploy" / "windows"
UNIT = ROOT / "deploy" / "linux" / "pecus-agent.service"
WORKFLOW = ROOT / ".github" / "workflows" / "agent-windows.yml"


def syntax_errors(source: bytes) -> list[str]:
    parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_powershell.language()))
    tree = parser.parse(source)
    problems: list[str] = []

    def walk(node: tree_sitter.Node) -> None:
        if node.type == "ERROR" or node.is_missing:
            row, column = node.start_point
            kind = f"missing {node.type}" if node.is_missing else "syntax error"
            problems.append(f"line {row + 1}, column {column + 1}: {kind}")
        for child in node.children:
            walk(child)

    walk(tree.root_node)
    return problems


@pytest.mark.parametrize("name", ["install-agent.ps1", "uninstall-agent.ps1"])
def test_the_powershell_scripts_parse(name: str) -> None:
    assert syntax_errors((WINDOWS / name).read_bytes()) == []


def test_the_parser_does_find_mistakes() -> None:
    assert syntax_errors(b"if ($x { Write-Host 'a' }\n")
    assert syntax_errors(b"$a = @(1, 2\n")


def test_the_install_script_registers_the_service_as_the_issue_says() -> None:
    script = (WINDOWS / "install-agent.ps1").read_text()
    for line in (
        "#Requires -RunAsAdministrator",
        "$ErrorActionPreference = 'Stop'",
        "Invoke-Sc config $Service start= delayed-auto",
        "Invoke-Sc failure $Service reset= 86400 actions= restart/60000/restart/60000/restart/300000",
        "Invoke-Sc failureflag $Service 1",
        "/inheritance:r /grant:r '*S-1-5-18:F' '*S-1-5-32-544:F'",  # SYSTEM + Administrators
        "Stop-Service -Name $Service -Force",  # upgrade in place
        "& $Target --config $Config check",
    ):
        assert line in script, line
    # The file is locked down before the key is written into it.
    assert script.index("icacls.exe $Config") < script.index("WriteAllText($Config")
    assert "& sc " not in script and "\nsc " not in script  # "sc" is Set-Content in PowerShell


def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    text = UNIT.read_text()
    for setting in ("Type=notify", "Restart=always", "WatchdogSec=", "NotifyAccess=all"):
        assert setting in text, setting
    # verify wants the executable to exist: the same unit, pointing at one that does.
    unit = tmp_path / "pecus-agent.service"
    unit.write_text(text.replace("/usr/local/bin/pecus-agent", shutil.which("true") or "/bin/true"))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_windows_workflow_builds_installs_starts_stops_and_uploads() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    (job,) = workflow["jobs"].values()
    assert job["runs-on"] == "windows-latest"
    script = "\n".join(step.get("run", "") for step in job["steps"])
    for needed in (
        "pyinstaller --noconfirm --clean deploy/windows/pecus-agent.spec",
        "--version",
        "check --offline",
        "install-agent.ps1",
        "Stop-Service PecusAgent",
        "Start-Service PecusAgent",
        "uninstall-agent.ps1",
    ):
        assert needed in script, needed
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in job["steps"])
