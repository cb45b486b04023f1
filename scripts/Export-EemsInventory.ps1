<#
.SYNOPSIS
    Collects the eems-check inventory from the Exchange Management Shell and writes it as JSON, for
    "eems-check evaluate" to judge on any machine.

.DESCRIPTION
    Run it in the Exchange Management Shell (EMS) on an Exchange server or a management box. It reads what
    eems-check scan reads, with the admin's own EMS session and WinRM, and writes the same inventory format
    (eems_check/schemas/inventory.schema.json; schema "eems-check/inventory", version 1):

      * Get-OrganizationConfig: the organisation name and MitigationsEnabled.
      * Get-ExchangeServer: Name, Fqdn, Site, ServerRole, Edition, IsEdgeServer, AdminDisplayVersion,
        MitigationsEnabled, MitigationsApplied, MitigationsBlocked, DataCollectionEnabled, InternetWebProxy.
      * On every selected server except Edge Transport servers, over WinRM with Invoke-Command: eems-check's own
        read-only collector script (-CollectorPath): the ExSetup.exe version (the exact build, security update
        included), the MSExchangeMitigation service, EEMS events 1005/1006/1008, matching lines of the EEMS log
        and, with -ProbeOcs, a request to the Office Config Service through the server's InternetWebProxy.
      * With -RunGetMitigations: Get-Mitigations.ps1 -Identity <server>, run here in EMS, with its warnings (the
        connectivity warning comes only on the warning stream).

    A server that cannot be collected is still listed, with collection status unreachable, auth_failed, timeout or
    error and a one-line reason; Edge Transport servers are listed as not_scanned. Servers are collected
    -ThrottleLimit at a time, each under a -TimeoutSeconds limit.

    The collector runs as a script block with named parameters rather than with Invoke-Command -FilePath:
    -FilePath binds -ArgumentList by position, and a switch parameter such as the collector's -ProbeOcs can never
    be bound by position. The script text sent is the collector file itself, unchanged.

    The file is written as UTF-8 without a byte order mark by default (-Encoding). Its own timestamps are
    [DateTime] values, which Windows PowerShell 5.1 writes as \/Date(milliseconds)\/ and PowerShell 7 as ISO 8601
    text; eems-check reads both. The server list is always written as a JSON array, even for a single server.
    Enum values (ServerRole, Edition, service status) are written as their names.

    It changes nothing in Exchange or on the servers.

.PARAMETER Path
    The inventory file to write. Default: eems-inventory-<yyyyMMdd-HHmmss>.json in the current folder.

.PARAMETER Server
    Collect only these servers (names or FQDNs). A name Get-ExchangeServer does not list is written as
    not_scanned with a reason.

.PARAMETER Site
    Collect only servers in these Active Directory sites.

.PARAMETER Role
    Collect only servers with these roles, for example Mailbox.

.PARAMETER CollectorPath
    The eems-check collector script. Default: ..\eems_check\collect\collector.ps1 relative to this script, as in
    a checkout of the eems-check repository (or the installed package's eems_check\collect\collector.ps1).

.PARAMETER Credential
    Account for the WinRM connections to the servers (local administrator or member of Remote Management Users
    there). Default: the current user.

.PARAMETER Authentication
    WinRM authentication: Default (Kerberos in a domain), Kerberos, Negotiate or Credssp.

.PARAMETER UseSSL
    Connect to WinRM over HTTPS (port 5986).

.PARAMETER ProbeOcs
    From each server, request https://officeclient.microsoft.com/GetExchangeMitigations through its
    InternetWebProxy, as EEMS would.

.PARAMETER RunGetMitigations
    Run $exscripts\Get-Mitigations.ps1 -Identity <server> here in EMS for every server except Edge servers, and
    record its mitigations, warnings and errors. Note that its connectivity check runs from this machine.

.PARAMETER MaxEvents
    Most EEMS events per server (default 50).

.PARAMETER EventDays
    Read EEMS events of the last this many days (default 30).

.PARAMETER MaxLogLines
    Most matching EEMS log lines per server (default 200).

.PARAMETER ThrottleLimit
    How many servers are collected at once (default 32, as Invoke-Command).

.PARAMETER TimeoutSeconds
    Wall-clock limit per server; a server still running after it is recorded as timeout (default 300).

.PARAMETER Encoding
    UTF8NoBOM (default), UTF8BOM or Unicode (UTF-16 LE with byte order mark). eems-check reads all three.

.EXAMPLE
    .\Export-EemsInventory.ps1 -Path C:\Temp\inventory.json

    Collects every server of the organisation and writes C:\Temp\inventory.json. Then, on any machine with
    eems-check: eems-check evaluate C:\Temp\inventory.json -o C:\Temp\eems-report

.EXAMPLE
    .\Export-EemsInventory.ps1 -Site London -ProbeOcs -RunGetMitigations -Path .\london.json

    Collects the London site, probes the Office Config Service from each server and runs Get-Mitigations.ps1.

.EXAMPLE
    .\Export-EemsInventory.ps1 -Server ex19-01, ex19-02 -CollectorPath C:\eems-check\eems_check\collect\collector.ps1 -Credential (Get-Credential CONTOSO\exadmin)

    Collects two servers with another account and a collector script at a different place.

.OUTPUTS
    System.IO.FileInfo: the inventory file written.

.NOTES
    Windows PowerShell 5.1 (the Exchange Management Shell) or PowerShell 7. Needs the Exchange cmdlets
    (View-Only Organization Management is enough) and WinRM access to the servers.
#>
[CmdletBinding()]
param(
    [ValidateNotNullOrEmpty()]
    [string]$Path,

    [ValidateNotNullOrEmpty()]
    [string[]]$Server,

    [ValidateNotNullOrEmpty()]
    [string[]]$Site,

    [ValidateNotNullOrEmpty()]
    [string[]]$Role,

    [ValidateNotNullOrEmpty()]
    [string]$CollectorPath,

    [System.Management.Automation.PSCredential]
    [System.Management.Automation.Credential()]
    $Credential = [System.Management.Automation.PSCredential]::Empty,

    [ValidateSet('Default', 'Kerberos', 'Negotiate', 'Credssp')]
    [string]$Authentication = 'Default',

    [switch]$UseSSL,

    [switch]$ProbeOcs,

    [switch]$RunGetMitigations,

    [ValidateRange(1, 10000)]
    [int]$MaxEvents = 50,

    [ValidateRange(1, 3650)]
    [int]$EventDays = 30,

    [ValidateRange(1, 100000)]
    [int]$MaxLogLines = 200,

    [ValidateRange(1, 256)]
    [int]$ThrottleLimit = 32,

    [ValidateRange(10, 86400)]
    [int]$TimeoutSeconds = 300,

    [ValidateSet('UTF8NoBOM', 'UTF8BOM', 'Unicode')]
    [string]$Encoding = 'UTF8NoBOM'
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

$ExportVersion = '0.1.0'
$CollectorMarker = '# eems-check-collector'
$CollectorName = 'eems-check-collector'
$EdgeReason = 'Edge Transport server: outside the domain and without EEMS, so not scanned'
$FinishedStates = @('Completed', 'Failed', 'Stopped', 'Disconnected')

# The collector runs remotely with named parameters (see .DESCRIPTION for why not -FilePath).
$RemoteBlock = {
    param([string]$CollectorText, [hashtable]$CollectorParameters)
    $collector = [scriptblock]::Create($CollectorText)
    & $collector @CollectorParameters
}

function Get-BagValue {
    # A property of an object, or $null when it is absent: strict mode throws on a missing property, and older
    # Exchange builds lack the Mitigations* properties altogether.
    param([object]$InputObject, [Parameter(Mandatory = $true)][string]$Name)
    if ($null -eq $InputObject) { return $null }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function ConvertTo-NullableBool {
    param([object]$Value)
    if ($null -eq $Value) { return $null }
    if ($Value -is [bool]) { return $Value }
    return ([string]$Value).Trim() -eq 'True'
}

function ConvertTo-Text {
    # Enums, versions, URIs and ADObjectIds as their names ([string]), never as numbers; $null for empty.
    param([object]$Value)
    if ($null -eq $Value) { return $null }
    $text = ([string]$Value).Trim()
    if ($text.Length -eq 0) { return $null }
    return $text
}

function Add-TextItem {
    # Appends each non-empty value of a (multi-valued) property to $List as text. Filling a list instead of
    # returning an array keeps arrays away from the pipeline, which would unroll a one-element array.
    param(
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][System.Collections.Generic.List[string]]$List,
        [object]$Value,
        [string]$Split
    )
    foreach ($item in $Value) {
        if ($null -eq $item) { continue }
        $parts = @([string]$item)
        if ($Split) { $parts = ([string]$item).Split($Split) }
        foreach ($part in $parts) {
            $text = $part.Trim()
            if ($text.Length -gt 0) { $List.Add($text) }
        }
    }
}

function Get-SiteName {
    # Site is an ADObjectId: its Name, or the last part of "contoso.com/Configuration/Sites/<site>".
    param([object]$Value)
    if ($null -eq $Value) { return $null }
    $name = ConvertTo-Text -Value (Get-BagValue -InputObject $Value -Name 'Name')
    if ($name) { return $name }
    $text = ConvertTo-Text -Value $Value
    if ($null -eq $text) { return $null }
    return $text.Split('/')[-1]
}

function New-ServerEntry {
    # The schema-shaped facts of one Get-ExchangeServer object (an ordered dictionary, written as a JSON object).
    param([Parameter(Mandatory = $true)][object]$ExchangeServer)
    $roles = New-Object -TypeName 'System.Collections.Generic.List[string]'
    Add-TextItem -List $roles -Value (Get-BagValue -InputObject $ExchangeServer -Name 'ServerRole') -Split ','
    $applied = New-Object -TypeName 'System.Collections.Generic.List[string]'
    Add-TextItem -List $applied -Value (Get-BagValue -InputObject $ExchangeServer -Name 'MitigationsApplied')
    $blocked = New-Object -TypeName 'System.Collections.Generic.List[string]'
    Add-TextItem -List $blocked -Value (Get-BagValue -InputObject $ExchangeServer -Name 'MitigationsBlocked')
    $isEdge = ConvertTo-NullableBool -Value (Get-BagValue -InputObject $ExchangeServer -Name 'IsEdgeServer')
    if ($null -eq $isEdge) { $isEdge = $roles.Contains('Edge') }
    $name = ConvertTo-Text -Value (Get-BagValue -InputObject $ExchangeServer -Name 'Name')
    if ($null -eq $name) { $name = ConvertTo-Text -Value $ExchangeServer }
    $version = ConvertTo-Text -Value (Get-BagValue -InputObject $ExchangeServer -Name 'AdminDisplayVersion')
    $buildSource = $null
    if ($version) { $buildSource = 'admin_display_version' }
    return [ordered]@{
        name = $name
        fqdn = ConvertTo-Text -Value (Get-BagValue -InputObject $ExchangeServer -Name 'Fqdn')
        site = Get-SiteName -Value (Get-BagValue -InputObject $ExchangeServer -Name 'Site')
        roles = $roles.ToArray()
        edition = ConvertTo-Text -Value (Get-BagValue -InputObject $ExchangeServer -Name 'Edition')
        is_edge = [bool]$isEdge
        admin_display_version = $version
        exsetup_version = $null
        build_source = $buildSource
        eems = [ordered]@{
            enabled = ConvertTo-NullableBool -Value (Get-BagValue -InputObject $ExchangeServer -Name 'MitigationsEnabled')
            applied = $applied.ToArray()
            blocked = $blocked.ToArray()
            data_collection_enabled = ConvertTo-NullableBool -Value (Get-BagValue -InputObject $ExchangeServer -Name 'DataCollectionEnabled')
            internet_web_proxy = ConvertTo-Text -Value (Get-BagValue -InputObject $ExchangeServer -Name 'InternetWebProxy')
        }
    }
}

function Set-Collection {
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Entry,
        [Parameter(Mandatory = $true)][string]$Status,
        [string]$Reason,
        [object]$CollectedAt,
        [object]$DurationMs
    )
    if (-not $Reason) { $Reason = $null }
    $Entry['collection'] = [ordered]@{ status = $Status; reason = $Reason; collected_at = $CollectedAt; duration_ms = $DurationMs }
}

function Copy-Known {
    # A new ordered dictionary with just the schema's keys of one object the collector returned (absent: $null).
    param([object]$InputObject, [Parameter(Mandatory = $true)][string[]]$Key)
    $copy = [ordered]@{}
    foreach ($name in $Key) { $copy[$name] = Get-BagValue -InputObject $InputObject -Name $name }
    return $copy
}

function Add-CollectorReading {
    # Merges the collector's JSON answer into $Entry, as eems-check scan does. Returns the problems (missing or
    # unreadable parts, which make the status partial) and notes; throws when the answer is unusable.
    param(
        [Parameter(Mandatory = $true)][System.Collections.IDictionary]$Entry,
        [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text,
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][System.Collections.Generic.List[string]]$Problems,
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][System.Collections.Generic.List[string]]$Notes
    )
    try {
        $doc = ConvertFrom-Json -InputObject $Text
    } catch {
        $start = ($Text -replace '\s+', ' ')
        if ($start.Length -gt 60) { $start = $start.Substring(0, 60) + '...' }
        throw "the collector's answer is not JSON; it starts '$start'"
    }
    if ((Get-BagValue -InputObject $doc -Name 'collector') -ne $CollectorName) {
        throw 'the answer is JSON but not from the eems-check collector'
    }
    $computer = [string](Get-BagValue -InputObject $doc -Name 'computer_name')
    $want = ([string]$Entry['name']).Split('.')[0].ToLowerInvariant()
    $short = $want
    if ($short.Length -gt 15) { $short = $short.Substring(0, 15) }
    $got = $computer.Split('.')[0].ToLowerInvariant()
    if (-not $computer -or ($got -ne $want -and $got -ne $short)) {
        throw "the collector ran on '$computer', not on '$($Entry['name'])': check DNS"
    }
    $present = @($doc.PSObject.Properties | ForEach-Object -MemberName 'Name')
    foreach ($section in @('exsetup', 'service', 'events', 'log_lines', 'ocs_probe', 'get_mitigations')) {
        if ($present -notcontains $section) { $Problems.Add("the collector's answer lacks '$section'") }
    }
    $exsetup = Get-BagValue -InputObject $doc -Name 'exsetup'
    $fileVersion = ConvertTo-Text -Value (Get-BagValue -InputObject $exsetup -Name 'file_version')
    $source = Get-BagValue -InputObject $exsetup -Name 'source'
    if ($fileVersion -and @('exsetup', 'registry') -contains $source) {
        $Entry['exsetup_version'] = $fileVersion
        $Entry['build_source'] = [string]$source
    } elseif ($present -contains 'exsetup') {
        $why = Get-BagValue -InputObject $exsetup -Name 'error'
        if (-not $why) { $why = 'no version returned' }
        $Problems.Add("ExSetup version unknown: $why")
    }
    if ($present -contains 'service') {
        $service = Get-BagValue -InputObject $doc -Name 'service'
        if ($null -eq $service) { $Entry['service'] = $null }
        else { $Entry['service'] = Copy-Known -InputObject $service -Key @('name', 'status', 'start_type') }
    }
    foreach ($part in @(
            @{ Key = 'events'; Fields = @('id', 'level', 'time', 'source', 'message') },
            @{ Key = 'log_lines'; Fields = @('file', 'line') })) {
        if ($present -notcontains $part.Key) { continue }
        # Read the property directly: returned from a function, an empty array would arrive as $null.
        $items = $doc.PSObject.Properties[$part.Key].Value
        if ($null -eq $items) {
            $Entry[$part.Key] = $null
            $Problems.Add("the collector could not read its $($part.Key.Replace('_', ' '))")
            continue
        }
        $copies = New-Object -TypeName 'System.Collections.Generic.List[object]'
        foreach ($item in $items) { if ($null -ne $item) { $copies.Add((Copy-Known -InputObject $item -Key $part.Fields)) } }
        $Entry[$part.Key] = $copies.ToArray()
    }
    if ($present -contains 'ocs_probe') {
        $probe = Get-BagValue -InputObject $doc -Name 'ocs_probe'
        if ($null -eq $probe) { $Entry['ocs_probe'] = $null }
        else { $Entry['ocs_probe'] = Copy-Known -InputObject $probe -Key @('ran', 'reason', 'url', 'proxy', 'status_code', 'error') }
    }
    if ($present -contains 'get_mitigations') {
        $result = Get-BagValue -InputObject $doc -Name 'get_mitigations'
        if ($null -eq $result) { $Entry['get_mitigations'] = $null }
        else {
            $copy = Copy-Known -InputObject $result -Key @('ran', 'reason')
            $mitigations = New-Object -TypeName 'System.Collections.Generic.List[object]'
            foreach ($item in (Get-BagValue -InputObject $result -Name 'mitigations')) {
                if ($null -ne $item) { $mitigations.Add((Copy-Known -InputObject $item -Key @('server', 'id', 'type', 'description', 'status'))) }
            }
            $warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
            Add-TextItem -List $warnings -Value (Get-BagValue -InputObject $result -Name 'warnings')
            $errors = New-Object -TypeName 'System.Collections.Generic.List[string]'
            Add-TextItem -List $errors -Value (Get-BagValue -InputObject $result -Name 'errors')
            $copy['mitigations'] = $mitigations.ToArray()
            $copy['warnings'] = $warnings.ToArray()
            $copy['errors'] = $errors.ToArray()
            $Entry['get_mitigations'] = $copy
        }
    }
    $cut = New-Object -TypeName 'System.Collections.Generic.List[string]'
    Add-TextItem -List $cut -Value (Get-BagValue -InputObject $doc -Name 'truncated')
    if ($cut.Count -gt 0) {
        $Notes.Add("bounded: $($cut.ToArray() -join ', ') (raise -MaxEvents/-MaxLogLines to see more)")
    }
    # As it came: text in Windows PowerShell 5.1; PowerShell 7's ConvertFrom-Json makes ISO 8601 text a [DateTime],
    # which its ConvertTo-Json writes back as ISO 8601 (a [string] cast would give culture-formatted text).
    return (Get-BagValue -InputObject $doc -Name 'collected_at')
}

function ConvertTo-UnsignedCode {
    # Error codes as unsigned 32-bit numbers: PowerShell reads 0x80338029 as a negative Int32, and ErrorCode may
    # hold either form.
    param([Parameter(Mandatory = $true)][int64]$Code)
    if ($Code -lt 0) { return $Code + 4294967296 }
    return $Code
}

function Get-FailureStatus {
    # The collection status and a one-line reason for a failed Invoke-Command. Error codes first (they do not
    # depend on the Windows display language), then the English message texts.
    param([Parameter(Mandatory = $true)][System.Exception]$Exception, [Parameter(Mandatory = $true)][string]$Target)
    $codeStatus = @{}
    foreach ($code in @(5, 1326, 1311, 1396, 0x8009030C, 0x8009030E, 0x80090303, 0x80090322)) { $codeStatus[(ConvertTo-UnsignedCode -Code $code)] = 'auth_failed' }
    foreach ($code in @(53, 1722, 12007, 12029, 0x80338012, 0x80338126, 0x80072EE7, 0x80072EFD)) { $codeStatus[(ConvertTo-UnsignedCode -Code $code)] = 'unreachable' }
    foreach ($code in @(1460, 12002, 0x80338029, 0x80072EE2)) { $codeStatus[(ConvertTo-UnsignedCode -Code $code)] = 'timeout' }
    $errorCode = $null
    $transport = $false
    $current = $Exception
    while ($null -ne $current) {
        if ($current -is [System.Management.Automation.Remoting.PSRemotingTransportException]) {
            $transport = $true
            $errorCode = ConvertTo-UnsignedCode -Code $current.ErrorCode
        }
        $current = $current.InnerException
    }
    $message = (($Exception.Message -replace 'For more information, see the about_Remote_Troubleshooting Help topic\.', '') -replace '\s+', ' ').Trim()
    if ($message.Length -gt 300) { $message = $message.Substring(0, 297) + '...' }
    $reason = "WinRM $($Target): $message"
    $status = 'error'
    if ($null -ne $errorCode -and $codeStatus.ContainsKey($errorCode)) { $status = $codeStatus[$errorCode] }
    elseif ($message -match 'cannot find the computer|cannot be resolved|network path was not found') { $status = 'unreachable' }
    elseif ($message -match 'Access is denied|logon failure|user name or password|Kerberos|authenticat|credentials') { $status = 'auth_failed' }
    elseif ($message -match 'timed out|timeout') { $status = 'timeout' }
    elseif ($message -match 'cannot connect|not reachable|firewall exception|WinRM service|is not running') { $status = 'unreachable' }
    elseif (-not $transport) { $reason = "WinRM $($Target): the collector failed: $message" }
    return @{ Status = $status; Reason = $reason }
}

function Invoke-GetMitigationsScript {
    # Get-Mitigations.ps1 -Identity <server> in this EMS session. Its warnings are merged into the output with 3>&1
    # rather than captured with -WarningVariable: a common parameter reaches only an advanced script, and whether
    # Get-Mitigations.ps1 is one is not documented (for a plain script -WarningVariable would be ignored).
    param([Parameter(Mandatory = $true)][string]$ScriptPath, [Parameter(Mandatory = $true)][string]$Identity)
    $result = [ordered]@{ ran = $true; reason = $null; mitigations = @(); warnings = @(); errors = @() }
    $mitigations = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $errors = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $previous = $ErrorActionPreference
    $ErrorActionPreference = 'Continue'
    try {
        $output = @(& $ScriptPath -Identity $Identity 3>&1 2>&1)
    } catch {
        $result['ran'] = $false
        $result['reason'] = "Get-Mitigations.ps1 failed: $($_.Exception.Message)"
        $output = @()
    } finally {
        $ErrorActionPreference = $previous
    }
    foreach ($item in $output) {
        if ($null -eq $item) { continue }
        if ($item -is [System.Management.Automation.WarningRecord]) { $warnings.Add($item.Message) }
        elseif ($item -is [System.Management.Automation.ErrorRecord]) { $errors.Add($item.ToString()) }
        elseif ($item -is [string]) { continue }
        elseif ($null -ne (Get-BagValue -InputObject $item -Name 'Id')) {
            $mitigations.Add([ordered]@{
                    server = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Server')
                    id = [string](Get-BagValue -InputObject $item -Name 'Id')
                    type = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Type')
                    description = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Description')
                    status = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Status')
                })
        }
    }
    $result['mitigations'] = $mitigations.ToArray()
    $result['warnings'] = $warnings.ToArray()
    $result['errors'] = $errors.ToArray()
    return $result
}

function Resolve-FullPath {
    param([Parameter(Mandatory = $true)][string]$Path)
    return $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
}

# --- preconditions ----------------------------------------------------------------------------------------

if ($null -eq (Get-Command -Name 'Get-ExchangeServer' -ErrorAction SilentlyContinue)) {
    throw ('Get-ExchangeServer was not found: run this script in the Exchange Management Shell (or a session ' +
        'with the Exchange cmdlets imported).')
}
if (-not $CollectorPath) {
    $CollectorPath = Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'eems_check\collect\collector.ps1'
}
$CollectorPath = Resolve-FullPath -Path $CollectorPath
if (-not (Test-Path -LiteralPath $CollectorPath -PathType Leaf)) {
    throw ("The eems-check collector script was not found at '$CollectorPath'. Pass -CollectorPath with the path " +
        'of eems_check\collect\collector.ps1 from a checkout of eems-check or from its installed package ' +
        '(py -3 -c "import eems_check, os; print(os.path.dirname(eems_check.__file__))").')
}
$collectorText = Get-Content -LiteralPath $CollectorPath -Raw -Encoding UTF8
if (-not $collectorText.StartsWith($CollectorMarker)) {
    throw "'$CollectorPath' is not the eems-check collector (its first line is not '$CollectorMarker')."
}
if (-not $Path) { $Path = 'eems-inventory-{0}.json' -f (Get-Date).ToString('yyyyMMdd-HHmmss') }
$Path = Resolve-FullPath -Path $Path
$getMitigationsPath = $null
if ($RunGetMitigations) {
    $scriptsFolder = Get-Variable -Name 'exscripts' -ValueOnly -ErrorAction SilentlyContinue
    if (-not $scriptsFolder -and $env:ExchangeInstallPath) { $scriptsFolder = Join-Path -Path $env:ExchangeInstallPath -ChildPath 'Scripts' }
    if ($scriptsFolder) { $getMitigationsPath = Join-Path -Path $scriptsFolder -ChildPath 'Get-Mitigations.ps1' }
}

# --- organisation and servers -------------------------------------------------------------------------------

# A plain [DateTime] (not Get-Date, whose extra DisplayHint property ConvertTo-Json 5.1 would write as an object).
$startedUtc = [System.DateTime]::UtcNow
$orgName = $null
$orgMitigations = $null
try {
    $organization = Get-OrganizationConfig
    $orgName = ConvertTo-Text -Value (Get-BagValue -InputObject $organization -Name 'Name')
    $orgMitigations = ConvertTo-NullableBool -Value (Get-BagValue -InputObject $organization -Name 'MitigationsEnabled')
} catch {
    Write-Warning -Message "Get-OrganizationConfig failed: $($_.Exception.Message)"
}
if (-not $orgName) { $orgName = '(unknown organisation)' }
$discoveryServer = Get-PSSession -ErrorAction SilentlyContinue |
    Where-Object -FilterScript { $_.ConfigurationName -eq 'Microsoft.Exchange' -and $_.State -eq 'Opened' } |
    Select-Object -First 1 -ExpandProperty 'ComputerName'

$wantedServers = @($Server | Where-Object -FilterScript { $_ } | ForEach-Object -Process { $_.ToLowerInvariant() })
$wantedSites = @($Site | Where-Object -FilterScript { $_ } | ForEach-Object -Process { $_.ToLowerInvariant() })
$wantedRoles = @($Role | Where-Object -FilterScript { $_ } | ForEach-Object -Process { $_.ToLowerInvariant() })
$entries = New-Object -TypeName 'System.Collections.Generic.List[object]'
$seen = New-Object -TypeName 'System.Collections.Generic.HashSet[string]'
# Errors Get-ExchangeServer writes (an unreachable domain controller, say) leave the list incomplete: say so.
$discoveryErrors = @()
foreach ($exchangeServer in @(Get-ExchangeServer -ErrorAction SilentlyContinue -ErrorVariable 'discoveryErrors')) {
    $entry = New-ServerEntry -ExchangeServer $exchangeServer
    $names = @(([string]$entry['name']).ToLowerInvariant(), ([string]$entry['fqdn']).ToLowerInvariant()) | Where-Object -FilterScript { $_ }
    if ($wantedServers.Count -gt 0 -and -not ($names | Where-Object -FilterScript { $wantedServers -contains $_ })) { continue }
    if ($wantedSites.Count -gt 0 -and $wantedSites -notcontains ([string]$entry['site']).ToLowerInvariant()) { continue }
    if ($wantedRoles.Count -gt 0 -and -not ($entry['roles'] | Where-Object -FilterScript { $wantedRoles -contains $_.ToLowerInvariant() })) { continue }
    foreach ($name in $names) { [void]$seen.Add($name) }
    $entries.Add($entry)
}
foreach ($name in @($Server | Where-Object -FilterScript { $_ })) {
    if ($seen.Contains($name.ToLowerInvariant())) { continue }
    $missing = [ordered]@{ name = $name }
    Set-Collection -Entry $missing -Status 'not_scanned' -Reason 'Get-ExchangeServer does not list this server' -CollectedAt $startedUtc
    $entries.Add($missing)
}

# --- collection: the collector on every server except Edge, -ThrottleLimit at a time ---------------------------

$collectorParameters = @{ MaxEvents = $MaxEvents; EventDays = $EventDays; MaxLogLines = $MaxLogLines }
$sessionOption = New-PSSessionOption -OpenTimeout 30000
$pending = New-Object -TypeName 'System.Collections.Generic.Queue[object]'
foreach ($entry in $entries) {
    if ($entry.Contains('collection')) { continue }
    if ($entry['is_edge']) {
        Set-Collection -Entry $entry -Status 'not_scanned' -Reason $EdgeReason -CollectedAt $startedUtc
        continue
    }
    $pending.Enqueue($entry)
}
$total = $pending.Count
$done = 0
$running = New-Object -TypeName 'System.Collections.Generic.List[object]'
while ($pending.Count -gt 0 -or $running.Count -gt 0) {
    while ($pending.Count -gt 0 -and $running.Count -lt $ThrottleLimit) {
        $entry = $pending.Dequeue()
        $target = $entry['fqdn']
        if (-not $target) { $target = $entry['name'] }
        $parameters = @{} + $collectorParameters
        if ($ProbeOcs) {
            $parameters['ProbeOcs'] = $true
            if ($entry['eems']['internet_web_proxy']) { $parameters['Proxy'] = $entry['eems']['internet_web_proxy'] }
        }
        $invoke = @{
            ComputerName = $target
            ScriptBlock = $RemoteBlock
            ArgumentList = @($collectorText, $parameters)
            SessionOption = $sessionOption
            AsJob = $true
            JobName = "eems-check-$($entry['name'])"
        }
        if ($UseSSL) { $invoke['UseSSL'] = $true }
        if ($Authentication -ne 'Default') { $invoke['Authentication'] = $Authentication }
        if ($Credential -ne [System.Management.Automation.PSCredential]::Empty) { $invoke['Credential'] = $Credential }
        $work = @{ Entry = $entry; Target = $target; Job = $null; Clock = [System.Diagnostics.Stopwatch]::StartNew(); Started = [System.DateTime]::UtcNow }
        try {
            $work.Job = Invoke-Command @invoke
            $running.Add($work)
        } catch {
            $failure = Get-FailureStatus -Exception $_.Exception -Target $target
            Set-Collection -Entry $entry -Status $failure.Status -Reason $failure.Reason -CollectedAt $work.Started -DurationMs ([int]$work.Clock.ElapsedMilliseconds)
            $done++
        }
    }
    if ($running.Count -eq 0) { continue }
    [void](Wait-Job -Job @($running | ForEach-Object -Process { $_.Job }) -Any -Timeout 1)
    foreach ($work in @($running)) {
        $job = $work.Job
        $entry = $work.Entry
        $elapsed = [int]$work.Clock.ElapsedMilliseconds
        if ($FinishedStates -notcontains [string]$job.State) {
            if ($work.Clock.Elapsed.TotalSeconds -lt $TimeoutSeconds) { continue }
            Stop-Job -Job $job
            Set-Collection -Entry $entry -Status 'timeout' -Reason "no answer within $TimeoutSeconds s; abandoned" -CollectedAt $work.Started -DurationMs $elapsed
        } elseif ([string]$job.State -ne 'Completed') {
            $reasonException = $null
            foreach ($child in @($job.ChildJobs)) {
                if ($null -ne $child.JobStateInfo.Reason) { $reasonException = $child.JobStateInfo.Reason }
            }
            if ($null -eq $reasonException) { $reasonException = New-Object -TypeName 'System.Exception' -ArgumentList @("the job ended $($job.State)") }
            $failure = Get-FailureStatus -Exception $reasonException -Target $work.Target
            Set-Collection -Entry $entry -Status $failure.Status -Reason $failure.Reason -CollectedAt $work.Started -DurationMs $elapsed
        } else {
            $remoteErrors = $null
            $output = @(Receive-Job -Job $job -ErrorAction SilentlyContinue -ErrorVariable 'remoteErrors' -WarningAction SilentlyContinue)
            $texts = @($output | Where-Object -FilterScript { $_ -is [string] })
            $problems = New-Object -TypeName 'System.Collections.Generic.List[string]'
            $notes = New-Object -TypeName 'System.Collections.Generic.List[string]'
            if ($texts.Count -eq 0) {
                Set-Collection -Entry $entry -Status 'error' -Reason "WinRM $($work.Target): the collector returned no text" -CollectedAt $work.Started -DurationMs $elapsed
            } else {
                try {
                    $collectedAt = Add-CollectorReading -Entry $entry -Text $texts[-1].Trim() -Problems $problems -Notes $notes
                    foreach ($record in @($remoteErrors | Where-Object -FilterScript { $null -ne $_ } | Select-Object -First 1)) {
                        $problems.Add("the collector wrote an error: $record")
                    }
                    $status = 'ok'
                    if ($problems.Count -gt 0) { $status = 'partial' }
                    if (-not $collectedAt) { $collectedAt = $work.Started }
                    Set-Collection -Entry $entry -Status $status -Reason (@($problems) + @($notes) -join '; ') -CollectedAt $collectedAt -DurationMs $elapsed
                } catch {
                    Set-Collection -Entry $entry -Status 'error' -Reason "WinRM $($work.Target): $($_.Exception.Message)" -CollectedAt $work.Started -DurationMs $elapsed
                }
            }
        }
        Remove-Job -Job $job -Force
        [void]$running.Remove($work)
        $done++
        Write-Verbose -Message ("{0}: {1}" -f $entry['name'], $entry['collection']['status'])
        Write-Progress -Activity 'Collecting EEMS facts' -Status "$done of $total servers" -PercentComplete ([int](100 * $done / [System.Math]::Max($total, 1)))
    }
}
Write-Progress -Activity 'Collecting EEMS facts' -Completed

# --- Get-Mitigations.ps1, here in EMS ------------------------------------------------------------------------

if ($RunGetMitigations) {
    foreach ($entry in $entries) {
        if ($entry['collection']['status'] -eq 'not_scanned') { continue }
        if ($getMitigationsPath -and (Test-Path -LiteralPath $getMitigationsPath -PathType Leaf)) {
            $entry['get_mitigations'] = Invoke-GetMitigationsScript -ScriptPath $getMitigationsPath -Identity $entry['name']
        } else {
            $entry['get_mitigations'] = [ordered]@{ ran = $false; reason = 'Get-Mitigations.ps1 was not found ($exscripts is not set in this session)' }
        }
    }
}

# --- the document ---------------------------------------------------------------------------------------

$document = [ordered]@{
    schema = 'eems-check/inventory'
    schema_version = 1
    collected_at = $startedUtc
    collector = [ordered]@{ name = 'Export-EemsInventory.ps1'; version = $ExportVersion; host = [System.Net.Dns]::GetHostName() }
    organization = [ordered]@{
        name                = $orgName
        mitigations_enabled = $orgMitigations
        discovery_server    = $discoveryServer
        discovery_problems  = @($discoveryErrors | ForEach-Object { "Get-ExchangeServer wrote an error: $_" })
    }
    # An array property, never a pipeline: a one-server organisation stays a one-element JSON array.
    servers = $entries.ToArray()
}
$json = ConvertTo-Json -InputObject $document -Depth 8
$encodingObject = New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList @($false)
if ($Encoding -eq 'UTF8BOM') { $encodingObject = New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList @($true) }
if ($Encoding -eq 'Unicode') { $encodingObject = New-Object -TypeName 'System.Text.UnicodeEncoding' -ArgumentList @($false, $true) }
$folder = Split-Path -Path $Path -Parent
if ($folder -and -not (Test-Path -LiteralPath $folder -PathType Container)) { [void](New-Item -Path $folder -ItemType Directory -Force) }
[System.IO.File]::WriteAllText($Path, $json, $encodingObject)

$failed = @($entries | Where-Object -FilterScript { @('unreachable', 'auth_failed', 'timeout', 'error') -contains $_['collection']['status'] }).Count
Write-Verbose -Message "$($entries.Count) server(s) written to $Path; $failed could not be collected."
Get-Item -LiteralPath $Path
