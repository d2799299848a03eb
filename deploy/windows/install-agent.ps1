<#
.SYNOPSIS
    Installs the Pecus farm agent as the Windows service "PecusAgent", or upgrades it in place.

.DESCRIPTION
    Copies pecus-agent.exe to %ProgramFiles%\Pecus, writes %ProgramData%\Pecus\agent.toml from the
    parameters (readable by SYSTEM and Administrators only: it holds the API key), registers the
    service (delayed automatic start, restart on failure), starts it and runs `pecus-agent check`.
    Run it again to upgrade: it stops the service, replaces the executable and starts it again;
    without the configuration parameters it keeps the existing agent.toml.

.EXAMPLE
    .\install-agent.ps1 -CloudUrl https://api.pecus.example -FarmId 6f1c3a52-6a8e-4c8c-9a36-0d6f0f6b1e11 `
        -ApiKey pk_live_... -TimeZone Europe/Rome `
        -SourceUrl 'mssql+pymssql://pecus_reader:PASSWORD@localhost/DDMVMS'

.EXAMPLE
    .\install-agent.ps1          # upgrade: pecus-agent.exe next to this script, agent.toml kept
#>
#Requires -RunAsAdministrator
[CmdletBinding()]
param(
    [string]$Exe = (Join-Path $PSScriptRoot 'pecus-agent.exe'),  # the new executable
    [string]$CloudUrl,
    [string]$FarmId,
    [string]$ApiKey,
    [string]$SourceUrl,       # SQLAlchemy URL of the DelPro database
    [string]$TimeZone,        # IANA name, e.g. Europe/Rome
    [string]$Interval = '1h'
)
$ErrorActionPreference = 'Stop'

$Service = 'PecusAgent'
$InstallDir = Join-Path $env:ProgramFiles 'Pecus'
$DataDir = Join-Path $env:ProgramData 'Pecus'
$Target = Join-Path $InstallDir 'pecus-agent.exe'
$Config = Join-Path $DataDir 'agent.toml'

# sc.exe, never "sc": in PowerShell "sc" is Set-Content.
function Invoke-Sc {
    & sc.exe @args | Out-Host
    if ($LASTEXITCODE -ne 0) { throw "sc.exe $args failed with exit code $LASTEXITCODE" }
}

# A TOML basic string: backslashes and quotes escaped.
function ConvertTo-TomlString([string]$Value) {
    '"' + $Value.Replace('\', '\\').Replace('"', '\"') + '"'
}

$settings = @($CloudUrl, $FarmId, $ApiKey, $SourceUrl, $TimeZone)
$given = @($settings | Where-Object { $_ }).Count
$writeConfig = $given -gt 0
if ($given -gt 0 -and $given -lt $settings.Count) {
    throw 'Give all of -CloudUrl -FarmId -ApiKey -SourceUrl -TimeZone (or none, to keep agent.toml).'
}
if (-not $writeConfig -and -not (Test-Path $Config)) {
    throw "There is no $Config yet: give -CloudUrl -FarmId -ApiKey -SourceUrl -TimeZone."
}
if (-not (Test-Path $Exe)) { throw "Cannot find the executable $Exe (use -Exe PATH)." }
$Exe = (Resolve-Path $Exe).Path

# 1. Upgrade: stop the running service and wait until the executable is no longer in use.
$existing = Get-Service -Name $Service -ErrorAction SilentlyContinue
if ($existing -and $existing.Status -ne 'Stopped') {
    Write-Host "Stopping $Service ..."
    Stop-Service -Name $Service -Force
    $existing.WaitForStatus('Stopped', [TimeSpan]::FromSeconds(60))
}
Get-Process -Name 'pecus-agent' -ErrorAction SilentlyContinue |
    Where-Object { $_.Path -eq $Target } | Wait-Process -Timeout 30 -ErrorAction SilentlyContinue

# 2. The executable, and the folder it unpacks itself into at each start (see the .spec).
New-Item -ItemType Directory -Force -Path $InstallDir, $DataDir, (Join-Path $DataDir 'tmp') | Out-Null
if ($Exe -ne $Target) { Copy-Item -Path $Exe -Destination $Target -Force }

# 3. The configuration: an empty file first, locked down to SYSTEM (S-1-5-18) and Administrators
#    (S-1-5-32-544) by SID (group names differ by language), then the settings.
if ($writeConfig) {
    New-Item -ItemType File -Force -Path $Config | Out-Null
    & icacls.exe $Config /inheritance:r /grant:r '*S-1-5-18:F' '*S-1-5-32-544:F' | Out-Null
    if ($LASTEXITCODE -ne 0) { throw "icacls could not restrict $Config" }
    $toml = @(
        '# Pecus farm agent; written by install-agent.ps1. Reference: docs/farm-agent.md'
        "cloud_url = $(ConvertTo-TomlString $CloudUrl)"
        "farm_id = $(ConvertTo-TomlString $FarmId)"
        "api_key = $(ConvertTo-TomlString $ApiKey)"
        "time_zone = $(ConvertTo-TomlString $TimeZone)"
        "interval = $(ConvertTo-TomlString $Interval)"
        ''
        '[[source]]'
        'name = "delpro"'
        "url = $(ConvertTo-TomlString $SourceUrl)"
    ) -join "`r`n"
    [System.IO.File]::WriteAllText($Config, $toml + "`r`n")  # UTF-8, keeps the ACL
    Write-Host "Wrote $Config (SYSTEM and Administrators only)"
}

# 4. The Event Log source: .NET's message file prints each event's text as is.
$eventKey = "HKLM:\SYSTEM\CurrentControlSet\Services\EventLog\Application\$Service"
New-Item -Path $eventKey -Force | Out-Null
$messages = Join-Path $env:SystemRoot 'Microsoft.NET\Framework64\v4.0.30319\EventLogMessages.dll'
New-ItemProperty -Path $eventKey -Name EventMessageFile -PropertyType ExpandString -Value $messages -Force | Out-Null
New-ItemProperty -Path $eventKey -Name TypesSupported -PropertyType DWord -Value 7 -Force | Out-Null

# 5. The service: delayed automatic start (after boot settles, SQL Server first), restarted 1 min
#    after a failure, again after 1 min, then every 5 min; failure actions also when it stops
#    with an error (failureflag), e.g. an unusable configuration.
if (-not $existing) {
    New-Service -Name $Service -BinaryPathName "`"$Target`"" -DisplayName 'Pecus farm agent' `
        -StartupType Automatic -Description 'Moves new milkings from the farm''s DelPro database to the Pecus cloud.' | Out-Null
}
Invoke-Sc config $Service start= delayed-auto
Invoke-Sc failure $Service reset= 86400 actions= restart/60000/restart/60000/restart/300000
Invoke-Sc failureflag $Service 1

# 6. Start it, and check the setup as a technician would.
Start-Service -Name $Service
Write-Host "$Service is $((Get-Service -Name $Service).Status)"
& $Target --config $Config check
if ($LASTEXITCODE -ne 0) { Write-Warning 'Some checks failed: fix agent.toml, then run install-agent.ps1 again (no parameters).' }

Write-Host ''
Write-Host "Logs:    $(Join-Path $DataDir 'logs\agent.log')"
Write-Host "Events:  Event Viewer > Windows Logs > Application, source $Service"
Write-Host "Status:  & '$Target' status"
