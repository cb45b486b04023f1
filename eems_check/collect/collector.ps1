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
    exsetup, service, events, log_lines, log_files_skipped, ocs_probe, get_mitigations and truncated. A part that
    cannot be read is null (events, log_lines) or carries an error text; the script itself does not throw.

    The answer is bounded by construction: every text is cut (and marked) so that its JSON form fits a fixed share,
    which is what eems-check accepts (64 KiB for everything but events and log lines, 4 KiB per event, 2.2 KiB per
    log line). Log files are read newest first, only those written in the last -EventDays days, and at most
    -MaxLogBytes bytes in all (the tail of a file when it is larger).

    Windows PowerShell 4.0 compatible (Exchange 2016 on Windows Server 2012 R2 without WMF 5.1): no classes, enums,
    using statements, ::new() or types that only exist from 5.0. No aliases. Nothing here needs a host: a remote
    session that pypsrp opens has none.

.PARAMETER MaxEvents
    Most EEMS events to return (newest first).
.PARAMETER EventDays
    Only events, and log files written, in the last this many days.
.PARAMETER MaxLogLines
    Most matching EEMS log lines to return (newest files first).
.PARAMETER MaxLogBytes
    Most bytes of EEMS log files to read in all.
.PARAMETER ProbeOcs
    Request https://officeclient.microsoft.com/GetExchangeMitigations from this server.
.PARAMETER RunGetMitigations
    Run Get-Mitigations.ps1 with the Exchange cmdlets imported from this server's own /PowerShell endpoint (needs
    delegated credentials: CredSSP or a forwardable Kerberos ticket).
.PARAMETER Proxy
    The server's InternetWebProxy (Get-ExchangeServer), used by the OCS probe as EEMS itself would.
#>
param(
    [int]$MaxEvents = 50,
    [int]$EventDays = 30,
    [int]$MaxLogLines = 200,
    [int]$MaxLogBytes = 8388608,
    [switch]$ProbeOcs,
    [switch]$RunGetMitigations,
    [string]$Proxy = ''
)

$ErrorActionPreference = 'Stop'
$OcsUrl = 'https://officeclient.microsoft.com/GetExchangeMitigations'
$EventSource = 'MSExchange Mitigation Service'
$LogPattern = 'warning|error|untrusted|not deemed safe'
# JSON sizes (quotes and escapes included) each text may take; eems-check's reader checks these add up.
$MaxEventMessageJson = 3600
$MaxLogLineJson = 2000
$MaxFileNameJson = 120
$MaxTextJson = 1000
$MaxMitigations = 25
$MaxMitigationFieldJson = 120
$MaxMitigationDescriptionJson = 400
$MaxStreamRecords = 6
$MaxSkippedFiles = 5
$Truncated = New-Object -TypeName 'System.Collections.Generic.List[string]'
$LogFilesSkipped = New-Object -TypeName 'System.Collections.Generic.List[object]'

function Add-Truncated {
    param([string]$Part)
    if (-not $Truncated.Contains($Part)) { $Truncated.Add($Part) }
}

function Limit-Text {
    # $Text cut so that its JSON form (as ConvertTo-Json writes it, quotes and escapes included) takes at most
    # $MaxJson characters. A cut text ends with a marker giving the original length; $Part is listed in truncated.
    param([AllowNull()][object]$Text, [int]$MaxJson, [string]$Part = 'text')
    if ($null -eq $Text) { return $null }
    $value = [string]$Text
    if ($value.Length * 6 + 2 -le $MaxJson) { return $value }
    if ((ConvertTo-Json -InputObject $value -Compress).Length -le $MaxJson) { return $value }
    $marker = " [cut: $($value.Length) characters]"
    $room = $MaxJson - (ConvertTo-Json -InputObject $marker -Compress).Length
    $low = 0
    $high = [System.Math]::Min($value.Length, [System.Math]::Max($room, 0))
    while ($low -lt $high) {
        $middle = [int][System.Math]::Floor(($low + $high + 1) / 2)
        if ((ConvertTo-Json -InputObject $value.Substring(0, $middle) -Compress).Length -le $room) { $low = $middle }
        else { $high = $middle - 1 }
    }
    if ($low -gt 0 -and [char]::IsHighSurrogate($value[$low - 1])) { $low = $low - 1 }
    Add-Truncated -Part $Part
    return $value.Substring(0, $low) + $marker
}

function Get-InnermostMessage {
    # The message of the innermost exception: PowerShell wraps .NET errors in MethodInvocationException.
    param([System.Exception]$Exception)
    while ($null -ne $Exception.InnerException) { $Exception = $Exception.InnerException }
    return Limit-Text -Text $Exception.Message -MaxJson $MaxTextJson
}

function Get-SetupKey {
    # Exchange setup's registry key: MsiInstallPath, the folder $exscripts and ExchangeInstallPath derive from.
    return Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup' -ErrorAction SilentlyContinue
}

function Get-ExSetupInfo {
    # ExSetup.exe on the PATH first (as Health Checker does), then MsiInstallPath from the Setup key.
    $info = [ordered]@{ file_version = $null; source = $null; path = $null; error = $null }
    try {
        $command = Get-Command -Name 'ExSetup.exe' -CommandType Application | Select-Object -First 1
        $info.path = Limit-Text -Text $command.Path -MaxJson $MaxTextJson
        $info.file_version = Limit-Text -Text $command.FileVersionInfo.FileVersion -MaxJson $MaxMitigationFieldJson
        $info.source = 'exsetup'
    } catch {
        try {
            $setup = Get-ItemProperty -Path 'HKLM:\SOFTWARE\Microsoft\ExchangeServer\v15\Setup' -Name 'MsiInstallPath'
            $exe = Join-Path -Path $setup.MsiInstallPath -ChildPath 'bin\ExSetup.exe'
            $info.path = Limit-Text -Text $exe -MaxJson $MaxTextJson
            $info.file_version = Limit-Text -Text (Get-Item -LiteralPath $exe).VersionInfo.FileVersion -MaxJson $MaxMitigationFieldJson
            $info.source = 'registry'
        } catch {
            $info.error = Limit-Text -Text "ExSetup.exe not found on the PATH nor through MsiInstallPath: $(Get-InnermostMessage $_.Exception)" -MaxJson $MaxTextJson
        }
    }
    return $info
}

function Get-InstallPath {
    # ExchangeInstallPath is a machine environment variable written by Exchange setup.
    if ($env:ExchangeInstallPath) { return $env:ExchangeInstallPath }
    $setup = Get-SetupKey
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
    # Events 1005/1006/1008 of the EEMS source, newest first; $null when the log cannot be read. A message is cut
    # to its share: weeks of event 1008 exception chains must not push the answer past what eems-check accepts.
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
    if ($found.Count -gt $MaxEvents) { Add-Truncated -Part 'events' }
    foreach ($record in ($found | Select-Object -First $MaxEvents)) {
        $message = $record.Message
        if ($null -eq $message) { $message = ($record.Properties | ForEach-Object -MemberName 'Value') -join ' ' }
        $events.Add([ordered]@{ id = $record.Id; level = $levels[[int]$record.Level]
                                time = $record.TimeCreated.ToUniversalTime().ToString('o')
                                source = Limit-Text -Text $record.ProviderName -MaxJson $MaxMitigationFieldJson
                                message = Limit-Text -Text $message -MaxJson $MaxEventMessageJson -Part 'event_message' })
    }
    return , $events
}

function Read-LogTail {
    # The matching lines of one log file, at most $Budget (the last ones) from at most its last $MaxBytes bytes.
    # FileShare.ReadWrite and Delete: EEMS keeps the current log open and rotates old ones away.
    param([System.IO.FileInfo]$File, [int]$Budget, [long]$MaxBytes)
    $matched = New-Object -TypeName 'System.Collections.Generic.Queue[string]'
    $share = [System.IO.FileShare]::ReadWrite -bor [System.IO.FileShare]::Delete
    $stream = New-Object -TypeName 'System.IO.FileStream' -ArgumentList @($File.FullName,
        [System.IO.FileMode]::Open, [System.IO.FileAccess]::Read, $share)
    try {
        $start = [long]0
        if ($stream.Length -gt $MaxBytes) {
            $start = $stream.Length - $MaxBytes
            [void]$stream.Seek($start, [System.IO.SeekOrigin]::Begin)
            Add-Truncated -Part 'log_bytes'
        }
        $reader = New-Object -TypeName 'System.IO.StreamReader' -ArgumentList @($stream)
        if ($start -gt 0) { [void]$reader.ReadLine() }
        while ($null -ne ($text = $reader.ReadLine())) {
            if ($text -notmatch $LogPattern) { continue }
            $matched.Enqueue($text)
            if ($matched.Count -gt $Budget) { [void]$matched.Dequeue(); Add-Truncated -Part 'log_lines' }
        }
        return @{ Lines = $matched.ToArray(); Bytes = $stream.Length - $start }
    } finally {
        $stream.Dispose()
    }
}

function Get-MitigationLogLine {
    # Matching lines of Logging\MitigationService: files written in the last $EventDays days, newest first, within
    # $MaxLogBytes in all. A file that cannot be read is skipped and named in $LogFilesSkipped; the others count.
    param([string]$InstallPath)
    $lines = New-Object -TypeName 'System.Collections.Generic.List[object]'
    if (-not $InstallPath) { return , $lines }
    $folder = Join-Path -Path $InstallPath -ChildPath 'Logging\MitigationService'
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) { return , $lines }
    $since = (Get-Date).ToUniversalTime().AddDays(-$EventDays)
    try {
        $files = @(Get-ChildItem -LiteralPath $folder -File | Where-Object -FilterScript { $_.LastWriteTimeUtc -ge $since } |
            Sort-Object -Property 'LastWriteTimeUtc' -Descending)
    } catch {
        return $null
    }
    $bytesLeft = [long]$MaxLogBytes
    foreach ($file in $files) {
        $budget = $MaxLogLines - $lines.Count
        if ($budget -le 0) { Add-Truncated -Part 'log_lines'; break }
        if ($bytesLeft -le 0) { Add-Truncated -Part 'log_bytes'; break }
        try {
            $tail = Read-LogTail -File $file -Budget $budget -MaxBytes $bytesLeft
        } catch {
            if ($LogFilesSkipped.Count -lt $MaxSkippedFiles) {
                $LogFilesSkipped.Add([ordered]@{ file = Limit-Text -Text $file.Name -MaxJson $MaxFileNameJson
                                                 error = Get-InnermostMessage $_.Exception })
            } else {
                Add-Truncated -Part 'log_files_skipped'
            }
            continue
        }
        $bytesLeft = $bytesLeft - $tail.Bytes
        $name = Limit-Text -Text $file.Name -MaxJson $MaxFileNameJson
        foreach ($text in $tail.Lines) {
            $lines.Add([ordered]@{ file = $name; line = Limit-Text -Text $text -MaxJson $MaxLogLineJson -Part 'log_line' })
        }
    }
    return , $lines
}

function Get-CertificateIssuer {
    # The issuer of the certificate this request was served (a TLS-inspecting proxy shows its own CA here).
    param([System.Net.HttpWebRequest]$Request)
    if ($null -eq $Request -or $null -eq $Request.ServicePoint -or $null -eq $Request.ServicePoint.Certificate) { return $null }
    return Limit-Text -Text $Request.ServicePoint.Certificate.Issuer -MaxJson $MaxTextJson
}

function Invoke-OcsProbe {
    # One GET over TLS 1.2 through InternetWebProxy (direct without it, as EEMS does). Like Health Checker, the
    # proxy gets this session's default credentials and local addresses bypass it. Never throws.
    $probe = [ordered]@{ ran = $true; url = $OcsUrl; proxy = $null; status_code = $null; error = $null
                         certificate_issuer = $null }
    $request = $null
    $response = $null
    try {
        [System.Net.ServicePointManager]::SecurityProtocol = [System.Net.SecurityProtocolType]::Tls12
        $request = [System.Net.WebRequest]::Create($OcsUrl)
        $request.Method = 'GET'
        $request.Timeout = 20000
        $request.ReadWriteTimeout = 20000
        $request.Proxy = $null
        if ($Proxy) {
            $webProxy = New-Object -TypeName 'System.Net.WebProxy' -ArgumentList @($Proxy, $true)
            $webProxy.Credentials = [System.Net.CredentialCache]::DefaultNetworkCredentials
            $request.Proxy = $webProxy
            $probe.proxy = Limit-Text -Text $Proxy -MaxJson $MaxTextJson
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
    if ($probe.status_code -eq 407) { $probe.error = 'proxy requires authentication (inconclusive)' }
    $probe.certificate_issuer = Get-CertificateIssuer -Request $request
    return $probe
}

function Add-MitigationRecord {
    # Files one record Get-Mitigations.ps1 wrote (all streams merged) as it arrives, so that warnings written
    # before a failure are kept. Informational records (verbose, debug, information) and plain text are skipped
    # by their base type or shape: InformationRecord itself does not exist before PowerShell 5.0.
    param([object]$Item, [System.Collections.IDictionary]$Result)
    if ($null -eq $Item -or $Item -is [string]) { return }
    if ($Item -is [System.Management.Automation.WarningRecord]) {
        if ($Result.warnings.Count -lt $MaxStreamRecords) {
            $Result.warnings.Add((Limit-Text -Text $Item.Message -MaxJson $MaxTextJson -Part 'get_mitigations'))
        } else { Add-Truncated -Part 'get_mitigations' }
    } elseif ($Item -is [System.Management.Automation.ErrorRecord]) {
        if ($Result.errors.Count -lt $MaxStreamRecords) {
            $Result.errors.Add((Limit-Text -Text $Item.ToString() -MaxJson $MaxTextJson -Part 'get_mitigations'))
        } else { Add-Truncated -Part 'get_mitigations' }
    } elseif ($Item -is [System.Management.Automation.InformationalRecord]) {
        return
    } elseif ($null -ne $Item.PSObject.Properties['Id'] -and $null -ne $Item.Id) {
        if ($Result.mitigations.Count -ge $MaxMitigations) { Add-Truncated -Part 'get_mitigations'; return }
        $Result.mitigations.Add([ordered]@{
            server = Limit-Text -Text $Item.Server -MaxJson $MaxMitigationFieldJson -Part 'get_mitigations'
            id = Limit-Text -Text $Item.Id -MaxJson $MaxMitigationFieldJson -Part 'get_mitigations'
            type = Limit-Text -Text $Item.Type -MaxJson $MaxMitigationFieldJson -Part 'get_mitigations'
            description = Limit-Text -Text $Item.Description -MaxJson $MaxMitigationDescriptionJson -Part 'get_mitigations'
            status = Limit-Text -Text $Item.Status -MaxJson $MaxMitigationFieldJson -Part 'get_mitigations' })
    }
}

function Invoke-GetMitigationsHostless {
    # Get-Mitigations.ps1 needs the Exchange cmdlets. This remote session has no host, so the Exchange Management
    # Shell's own loader (RemoteExchange.ps1 and Connect-ExchangeServer) cannot run here: it sizes the console
    # window when it loads and prompts when it cannot connect. Instead, a session to this server's own /PowerShell
    # endpoint is imported with Import-PSSession. That second hop needs delegated credentials (CredSSP or a
    # forwardable Kerberos ticket); without them it fails at 'session' and eems-check says so in one line.
    # The script runs with strict mode off (Exchange's scripts are not strict-clean) and its records are filed as
    # they arrive; a failure is kept next to the warnings written before it.
    Set-StrictMode -Off
    $ErrorActionPreference = 'Continue'
    $result = [ordered]@{ ran = $false; reason = $null; host = $env:COMPUTERNAME; failed_at = $null; error = $null
                          mitigations = (New-Object -TypeName 'System.Collections.Generic.List[object]')
                          warnings = (New-Object -TypeName 'System.Collections.Generic.List[string]')
                          errors = (New-Object -TypeName 'System.Collections.Generic.List[string]') }
    $setup = Get-SetupKey
    $scripts = $null
    if ($null -ne $setup -and $setup.MsiInstallPath) { $scripts = Join-Path -Path $setup.MsiInstallPath -ChildPath 'Scripts' }
    $scriptPath = $null
    if ($scripts) { $scriptPath = Join-Path -Path $scripts -ChildPath 'Get-Mitigations.ps1' }
    if (-not $scriptPath -or -not (Test-Path -LiteralPath $scriptPath -PathType Leaf)) {
        $result.reason = Limit-Text -Text "Get-Mitigations.ps1 was not found under '$scripts' (`$exscripts from MsiInstallPath)" -MaxJson $MaxTextJson
        return $result
    }
    $fqdn = $env:COMPUTERNAME
    try { $fqdn = [System.Net.Dns]::GetHostEntry($env:COMPUTERNAME).HostName } catch { $fqdn = $env:COMPUTERNAME }
    try {
        $session = New-PSSession -ConfigurationName 'Microsoft.Exchange' -ConnectionUri "http://$fqdn/PowerShell/" -Authentication 'Kerberos' -ErrorAction 'Stop'
    } catch {
        $result.failed_at = 'session'
        $result.error = Get-InnermostMessage $_.Exception
        return $result
    }
    try {
        try {
            [void](Import-PSSession -Session $session -DisableNameChecking -AllowClobber -ErrorAction 'Stop')
        } catch {
            $result.failed_at = 'import'
            $result.error = Get-InnermostMessage $_.Exception
            return $result
        }
        $result.ran = $true
        try {
            & $scriptPath -Identity $env:COMPUTERNAME *>&1 | ForEach-Object -Process { Add-MitigationRecord -Item $_ -Result $result }
        } catch {
            $result.failed_at = 'script'
            $result.error = Get-InnermostMessage $_.Exception
        }
    } finally {
        Remove-PSSession -Session $session -ErrorAction 'SilentlyContinue'
    }
    $result.mitigations = $result.mitigations.ToArray()
    $result.warnings = $result.warnings.ToArray()
    $result.errors = $result.errors.ToArray()
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
    log_files_skipped = @()
    ocs_probe = [ordered]@{ ran = $false; reason = 'not requested' }
    get_mitigations = [ordered]@{ ran = $false; reason = 'not requested' }
    truncated = @()
}
if ($ProbeOcs) { $document.ocs_probe = Invoke-OcsProbe }
if ($RunGetMitigations) { $document.get_mitigations = Invoke-GetMitigationsHostless }

$document.log_files_skipped = $LogFilesSkipped.ToArray()
$document.truncated = $Truncated.ToArray()
ConvertTo-Json -InputObject $document -Depth 6 -Compress
