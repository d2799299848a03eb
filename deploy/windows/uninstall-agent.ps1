<#
.SYNOPSIS
    Removes the Pecus farm agent's Windows service "PecusAgent" and its executable.

.DESCRIPTION
    Stops and deletes the service, its Event Log source and %ProgramFiles%\Pecus. The data in
    %ProgramData%\Pecus (agent.toml with the API key, logs, state) is kept unless -RemoveData.
    Safe to run twice.

.EXAMPLE
    .\uninstall-agent.ps1 -RemoveData
#>
#Requires -RunAsAdministrator
[CmdletBinding()]
param([switch]$RemoveData)
$ErrorActionPreference = 'Stop'

$Service = 'PecusAgent'
$InstallDir = Join-Path $env:ProgramFiles 'Pecus'
$DataDir = Join-Path $env:ProgramData 'Pecus'

$existing = Get-Service -Name $Service -ErrorAction SilentlyContinue
if ($existing) {
    if ($existing.Status -ne 'Stopped') {
        Stop-Service -Name $Service -Force
        $existing.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
    }
    & sc.exe delete $Service | Out-Host  # sc.exe: in PowerShell "sc" is Set-Content
    if ($LASTEXITCODE -ne 0) { throw "sc.exe delete $Service failed with exit code $LASTEXITCODE" }
}
# The single-file executable's launcher may outlive the service by a moment.
Get-Process -Name 'pecus-agent' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -like "$InstallDir\*" } | Wait-Process -Timeout 30 -ErrorAction SilentlyContinue

Remove-Item -Path "HKLM:\SYSTEM\CurrentControlSet\Services\EventLog\Application\$Service" -Recurse -Force -ErrorAction SilentlyContinue
Remove-Item -Path $InstallDir -Recurse -Force -ErrorAction SilentlyContinue
if ($RemoveData) {
    Remove-Item -Path $DataDir -Recurse -Force -ErrorAction SilentlyContinue
    Write-Host "Removed $Service, $InstallDir and $DataDir"
} else {
    Write-Host "Removed $Service and $InstallDir; kept $DataDir (configuration, logs, state)"
}
