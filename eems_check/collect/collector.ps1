# eems-check-collector
<#
.SYNOPSIS
    Collects what eems-check needs to know about the Exchange Emergency Mitigation Service (EEMS) on this server.

.DESCRIPTION
    eems-check sends this script over the default WinRM endpoint (Microsoft.PowerShell, /wsman) to each Exchange
    server. It only reads: the ExSetup.exe file version (registry fallback), the MSExchangeMitigation service, the
    EEMS events in the Application log, matching lines of the EEMS log folder and, when asked, a TLS 1.2 request to
    the Office Config Service and a run of Get-Mitigations.ps1. It changes nothing on the server.

    It returns ONE string: compact JSON with the keys collector, collector_version, computer_name, collected_at,
    exsetup, service, events, log_lines, ocs_probe, get_mitigations and truncated. A part that cannot be read is
    null (events, log_lines) or carries an error text; the script itself does not throw.
    Windows PowerShell 5.1 compatible; no aliases.

.PARAMETER MaxEvents
    Most EEMS events to return (newest first).
.PARAMETER EventDays
    Only events of the last this many days.
.PARAMETER MaxLogLines
    Most matching EEMS log lines to return (newest files first).
.PARAMETER ProbeOcs
    Request https://officeclient.microsoft.com/GetExchangeMitigations from this server.
.PARAMETER RunGetMitigations
    Load the Exchange Management Shell and run Get-Mitigations.ps1 (needs Kerberos delegation or CredSSP).
.PARAMETER Proxy
    The server's InternetWebProxy (Get-ExchangeServer), used by the OCS probe as EEMS itself would.
#>
param(
    [int]$MaxEvents = 50,
    [int]$EventDays = 30,
    [int]$MaxLogLines = 200,
    [switch]$ProbeOcs,
    [switch]$RunGetMitigations,
    [string]$Proxy = ''
)

$ErrorActionPreference = 'Stop'
$OcsUrl = 'https://officeclient.microsoft.com/GetExchangeMitigations'
$EventSource = 'MSExchange Mitigation Service'
$LogPattern = 'warning|error|untrusted|not deemed safe'
$MaxLineLength = 2000
$Truncated = New-Object -TypeName 'System.Collections.Generic.List[string]'

function Get-InnermostMessage {
    # The message of the innermost exception: PowerShell wraps .NET errors in MethodInvocationException.
    param([System.Exception]$Exception)
    while ($null -ne $Exception.InnerException) { $Exception = $Exception.InnerException }
    return $Exception.Message
}

function Get-ExSetupInfo {
    # ExSetup.exe on the PATH first (as Health Checker does), then MsiInstallPath from the Setup key.
    $info = [ordered]@{ file_version = $null; source = $null; path = $null; error = $null }
    try {
        $command = Get-Command -Name 'ExSetup.exe' -CommandType Application | Select-Object -First 1
        $info.path = $command.Path
        $info.file_version = $command.FileVersionInfo.FileVersion
        $info.source = 'exsetup'
    } catch {
        try {
            $setup = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup' -Name 'MsiInstallPath'
            $info.path = Join-Path -Path $setup.MsiInstallPath -ChildPath 'bin\ExSetup.exe'
            $info.file_version = (Get-Item -LiteralPath $info.path).VersionInfo.FileVersion
            $info.source = 'registry'
        } catch {
            $info.error = "ExSetup.exe not found on the PATH nor through MsiInstallPath: $(Get-InnermostMessage $_.Exception)"
        }
    }
    return $info
}

function Get-InstallPath {
    # ExchangeInstallPath is a machine environment variable written by Exchange setup.
    if ($env:ExchangeInstallPath) { return $env:ExchangeInstallPath }
    $setup = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup' -ErrorAction SilentlyContinue
    if ($null -ne $setup) { return $setup.MsiInstallPath }
    return $null
}

function Get-MitigationService {
    # $null when the service is not installed (Exchange without EEMS).
    $service = Get-Service -Name 'MSExchangeMitigation' -ErrorAction SilentlyContinue
    if ($null -eq $service) { return $null }
    # [string] turns the enums into their names and a missing StartType (.NET before 4.6.1) into ''.
    return [ordered]@{ name = $service.Name; status = [string]$service.Status; start_type = [string]$service.StartType }
}

function Get-MitigationEvent {
    # Events 1005/1006/1008 of the EEMS source, newest first; $null when the log cannot be read.
    $levels = @{ 0 = 'Information'; 1 = 'Critical'; 2 = 'Error'; 3 = 'Warning'; 4 = 'Information'; 5 = 'Verbose' }
    $events = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $filter = @{ LogName = 'Application'; ProviderName = $EventSource; Id = @(1005, 1006, 1008)
                 StartTime = (Get-Date).AddDays(-$EventDays) }
    try {
        $found = @(Get-WinEvent -FilterHashtable $filter -MaxEvents ($MaxEvents + 1))
    } catch {
        if ($_.FullyQualifiedErrorId -match '^NoMatching(Events|Providers)Found') { return , $events }
        return $null
    }
    if ($found.Count -gt $MaxEvents) { $Truncated.Add('events') }
    foreach ($record in ($found | Select-Object -First $MaxEvents)) {
        $message = $record.Message
        if ($null -eq $message) { $message = ($record.Properties | ForEach-Object -MemberName 'Value') -join ' ' }
        $events.Add([ordered]@{ id = $record.Id; level = $levels[[int]$record.Level]
                                time = $record.TimeCreated.ToUniversalTime().ToString('o')
                                source = $record.ProviderName; message = [string]$message })
    }
    return , $events
}

function Get-MitigationLogLine {
    # Matching lines of Logging\MitigationService: newest files first, the last matches of each file, each line cut
    # at $MaxLineLength. Files are opened with FileShare.ReadWrite because EEMS keeps the current log open.
    param([string]$InstallPath)
    $lines = New-Object -TypeName 'System.Collections.Generic.List[object]'
    if (-not $InstallPath) { return , $lines }
    $folder = Join-Path -Path $InstallPath -ChildPath 'Logging\MitigationService'
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) { return , $lines }
    try {
        $files = @(Get-ChildItem -LiteralPath $folder -File | Sort-Object -Property 'LastWriteTimeUtc' -Descending)
        foreach ($file in $files) {
            $budget = $MaxLogLines - $lines.Count
            if ($budget -le 0) { $Truncated.Add('log_lines'); break }
            $matched = New-Object -TypeName 'System.Collections.Generic.Queue[string]'
            $dropped = $false
            $stream = New-Object -TypeName 'System.IO.FileStream' -ArgumentList @($file.FullName,
                [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, [System.IO.FileShare]::ReadWrite)
            try {
                $reader = New-Object -TypeName 'System.IO.StreamReader' -ArgumentList @($stream)
                while ($null -ne ($text = $reader.ReadLine())) {
                    if ($text -notmatch $LogPattern) { continue }
                    if ($text.Length -gt $MaxLineLength) { $text = $text.Substring(0, $MaxLineLength) }
                    $matched.Enqueue($text)
                    if ($matched.Count -gt $budget) { [void]$matched.Dequeue(); $dropped = $true }
                }
            } finally {
                $stream.Dispose()
            }
            if ($dropped) { $Truncated.Add('log_lines') }
            foreach ($text in $matched) { $lines.Add([ordered]@{ file = $file.Name; line = $text }) }
            if ($dropped) { break }
        }
    } catch {
        return $null
    }
    return , $lines
}

function Invoke-OcsProbe {
    # One GET over TLS 1.2 through InternetWebProxy (direct without it, as EEMS does). Never throws.
    $probe = [ordered]@{ ran = $true; url = $OcsUrl; proxy = $null; status_code = $null; error = $null }
    $response = $null
    try {
        [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.SecurityProtocolType]::Tls12
        $request = [System.Net.WebRequest]::Create($OcsUrl)
        $request.Method = 'GET'
        $request.Timeout = 20000
        $request.ReadWriteTimeout = 20000
        $request.Proxy = $null
        if ($Proxy) {
            $request.Proxy = New-Object -TypeName 'System.Net.WebProxy' -ArgumentList @($Proxy, $true)
            $probe.proxy = $Proxy
        }
        $response = $request.GetResponse()
        $probe.status_code = [int]$response.StatusCode
    } catch {
        $inner = $_.Exception
        while ($null -ne $inner.InnerException -and $inner -isnot [System.Net.WebException]) { $inner = $inner.InnerException }
        if ($inner -is [System.Net.WebException] -and $null -ne $inner.Response) {
            $probe.status_code = [int]$inner.Response.StatusCode
            $inner.Response.Close()
        }
        $probe.error = Get-InnermostMessage $_.Exception
    } finally {
        if ($null -ne $response) { $response.Close() }
    }
    return $probe
}

function Convert-MitigationOutput {
    # Splits what Get-Mitigations.ps1 wrote (all streams merged) into objects, warnings and errors.
    param([object[]]$Output)
    $result = [ordered]@{ ran = $true; mitigations = @(); warnings = @(); errors = @() }
    $mitigations = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $errors = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($item in $Output) {
        if ($item -is [System.Management.Automation.WarningRecord]) { $warnings.Add($item.Message) }
        elseif ($item -is [System.Management.Automation.ErrorRecord]) { $errors.Add($item.ToString()) }
        elseif ($item -is [System.Management.Automation.InformationRecord] -or $item -is [string]) { continue }
        elseif ($null -ne $item.Id) {
            $mitigations.Add([ordered]@{ server = [string]$item.Server; id = [string]$item.Id; type = [string]$item.Type
                                         description = [string]$item.Description; status = [string]$item.Status })
        }
    }
    $result.mitigations = $mitigations.ToArray()
    $result.warnings = $warnings.ToArray()
    $result.errors = $errors.ToArray()
    return $result
}

$installPath = Get-InstallPath
$document = [ordered]@{
    collector = 'eems-check-collector'
    collector_version = 1
    computer_name = $env:COMPUTERNAME
    collected_at = (Get-Date).ToUniversalTime().ToString('o')
    exsetup = Get-ExSetupInfo
    service = Get-MitigationService
    events = Get-MitigationEvent
    log_lines = Get-MitigationLogLine -InstallPath $installPath
    ocs_probe = [ordered]@{ ran = $false; reason = 'not requested' }
    get_mitigations = [ordered]@{ ran = $false; reason = 'not requested' }
    truncated = @()
}
if ($ProbeOcs) { $document.ocs_probe = Invoke-OcsProbe }

if ($RunGetMitigations) {
    # Get-Mitigations.ps1 needs the Exchange cmdlets. Connect-ExchangeServer opens a second remote session from this
    # server (a double hop), which works only with Kerberos delegation or CredSSP. Loaded at script scope on purpose:
    # the imported session must outlive the block that loads it.
    $getMitigations = if ($installPath) { Join-Path -Path $installPath -ChildPath 'Scripts\Get-Mitigations.ps1' }
    $remoteExchange = if ($installPath) { Join-Path -Path $installPath -ChildPath 'bin\RemoteExchange.ps1' }
    if (-not $getMitigations -or -not (Test-Path -LiteralPath $getMitigations)) {
        $document.get_mitigations.reason = "Get-Mitigations.ps1 was not found under '$installPath\Scripts'"
    } else {
        # Continue, not Stop: RemoteExchange.ps1 and the script write non-terminating errors (a session without a
        # console host, for one) that must be collected, not abort the block that loads the shell.
        $ErrorActionPreference = 'Continue'
        $loadOutput = @()
        try {
            $loadOutput = @(. { . $remoteExchange; Connect-ExchangeServer -auto -ClientApplication:ManagementShell } *>&1)
        } catch {
            $loadOutput = @($_)
        }
        if (-not (Get-Command -Name 'Get-ExchangeServer' -ErrorAction SilentlyContinue)) {
            $loadErrors = @($loadOutput | Where-Object -FilterScript { $_ -is [System.Management.Automation.ErrorRecord] })
            $detail = if ($loadErrors.Count -gt 0) { ": $($loadErrors[-1].ToString())" } else { '' }
            $document.get_mitigations.reason = ('the Exchange Management Shell could not be loaded (needs Kerberos ' +
                "delegation or CredSSP for the second hop)$detail")
        } else {
            try {
                $output = @(& $getMitigations -Identity $env:COMPUTERNAME *>&1)
                $document.get_mitigations = Convert-MitigationOutput -Output $output
            } catch {
                $document.get_mitigations.reason = "Get-Mitigations.ps1 failed: $(Get-InnermostMessage $_.Exception)"
            }
        }
        $ErrorActionPreference = 'Stop'
    }
}

$document.truncated = @($Truncated | Select-Object -Unique)
ConvertTo-Json -InputObject $document -Depth 6 -Compress
