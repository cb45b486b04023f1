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
        connectivity warning comes only on the warning stream). That warning describes THIS computer's access to
        the Office Config Service: it is recorded only on this computer's own entry (when it is one of the
        servers) and shown here otherwise, never copied onto the other servers; each result names the computer
        that ran it (get_mitigations.host). -ProbeOcs tests each server's own access.

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
    The eems-check collector script. Default: collector.ps1 next to this script (a folder made with
    "eems-check scripts --copy DIR"), else ..\collect\collector.ps1 (this script inside the installed package,
    "eems-check scripts --path"), else ..\eems_check\collect\collector.ps1 (a checkout of the repository).

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

.PARAMETER Capture
    Also write what the organisation answered into this folder, for eems-check's tests to be built from real
    answers (as Health Checker's test data is): capture.json, GetExchangeServer.xml and GetOrganizationConfig.xml
    (Export-Clixml of the cmdlets' objects) and collector\<server>.json (each collector answer, as returned).
    A user name and password inside a URL (a proxy's, say) are always replaced; -ScrubNames also replaces names.

.PARAMETER ScrubNames
    With -Capture: replace server names, the DNS domains of their FQDNs, site names and the organisation name by
    neutral ones (SERVER01, example.invalid, SITE01, Organisation) in every captured file.

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
    .\Export-EemsInventory.ps1 -Path .\inventory.json -ProbeOcs -Capture .\eems-capture -ScrubNames

    Also writes what the organisation answered into .\eems-capture, with names replaced, ready to be zipped and
    sent to the eems-check maintainers as a test fixture.

.EXAMPLE
    .\Export-EemsInventory.ps1 -Server ex19-01, ex19-02 -CollectorPath C:\eems-check\eems_check\collect\collector.ps1 -Credential (Get-Credential CONTOSO\exadmin)

    Collects two servers with another account and a collector script at a different place.

.OUTPUTS
    System.IO.FileInfo: the inventory file written.

.NOTES
    Windows PowerShell 4.0 or later (the Exchange Management Shell) or PowerShell 7. Needs the Exchange cmdlets
    (View-Only Organization Management is enough) and WinRM access to the servers. Answers larger than 2 MB are
    read with JavaScriptSerializer and a raised MaxJsonLength, because Windows PowerShell's ConvertFrom-Json
    stops at 2 MB before 5.1.
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

    [ValidateNotNullOrEmpty()]
    [string]$Capture,

    [switch]$ScrubNames,

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
    # A property of an object (or a key of a dictionary, as JavaScriptSerializer returns them), or $null when it is
    # absent: strict mode throws on a missing property, and older Exchange builds lack the Mitigations* properties.
    param([object]$InputObject, [Parameter(Mandatory = $true)][string]$Name)
    if ($null -eq $InputObject) { return $null }
    if ($InputObject -is [System.Collections.IDictionary]) {
        if ($InputObject.Contains($Name)) { return $InputObject[$Name] }
        return $null
    }
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

function Get-BagName {
    # The property names of an object, or the keys of a dictionary.
    param([object]$InputObject)
    if ($null -eq $InputObject) { return @() }
    if ($InputObject -is [System.Collections.IDictionary]) { return @($InputObject.Keys | ForEach-Object -Process { [string]$_ }) }
    return @($InputObject.PSObject.Properties | ForEach-Object -MemberName 'Name')
}

function ConvertFrom-CollectorJson {
    # Windows PowerShell's ConvertFrom-Json refuses text over 2 MB (JavaScriptSerializer's default MaxJsonLength)
    # before 5.1; a server with weeks of long events can answer more. JavaScriptSerializer with the limit raised
    # reads it into dictionaries and arrays, which Get-BagValue reads like objects. PowerShell 6+ has no such limit.
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
    if ($PSVersionTable.PSVersion.Major -ge 6) { return ConvertFrom-Json -InputObject $Text }
    Add-Type -AssemblyName 'System.Web.Extensions'
    $serializer = New-Object -TypeName 'System.Web.Script.Serialization.JavaScriptSerializer'
    $serializer.MaxJsonLength = [int]::MaxValue
    return $serializer.DeserializeObject($Text)
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
        $doc = ConvertFrom-CollectorJson -Text $Text
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
    $present = Get-BagName -InputObject $doc
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
        $items = Get-BagValue -InputObject $doc -Name $part.Key
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
        else { $Entry['ocs_probe'] = Copy-Known -InputObject $probe -Key @('ran', 'reason', 'url', 'proxy', 'status_code', 'certificate_issuer', 'error') }
    }
    if ($present -contains 'get_mitigations') {
        $result = Get-BagValue -InputObject $doc -Name 'get_mitigations'
        if ($null -eq $result) { $Entry['get_mitigations'] = $null }
        else {
            $copy = Copy-Known -InputObject $result -Key @('ran', 'reason', 'host')
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
    # Get-Mitigations.ps1 -Identity <server> in this EMS session, with strict mode off (Exchange's scripts are not
    # strict-clean, and this script's Set-StrictMode would reach into theirs). Every record is filed as it arrives
    # (warnings merged with *>&1 rather than -WarningVariable, which a plain script ignores), so that warnings written
    # before a failure survive; the failure is kept next to them. Its connectivity warning describes this computer
    # ($ThisHost): it is kept only when $Identity is this computer.
    param([Parameter(Mandatory = $true)][string]$ScriptPath, [Parameter(Mandatory = $true)][string]$Identity,
          [Parameter(Mandatory = $true)][string]$ThisHost,
          [Parameter(Mandatory = $true)][AllowEmptyCollection()][System.Collections.Generic.List[string]]$HostWarnings)
    Set-StrictMode -Off
    $ErrorActionPreference = 'Continue'
    $result = [ordered]@{ ran = $true; reason = $null; host = $ThisHost; mitigations = @(); warnings = @(); errors = @() }
    $mitigations = New-Object -TypeName 'System.Collections.Generic.List[object]'
    $warnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $errors = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $own = $Identity.Split('.')[0] -eq $ThisHost.Split('.')[0]
    try {
        & $ScriptPath -Identity $Identity *>&1 | ForEach-Object -Process {
            $item = $_
            if ($null -eq $item -or $item -is [string]) { return }
            if ($item -is [System.Management.Automation.WarningRecord]) {
                if ($own) { $warnings.Add($item.Message) }
                elseif (-not $HostWarnings.Contains($item.Message)) { $HostWarnings.Add($item.Message) }
            } elseif ($item -is [System.Management.Automation.ErrorRecord]) {
                $errors.Add($item.ToString())
            } elseif ($item -is [System.Management.Automation.InformationalRecord]) {
                return
            } elseif ($null -ne (Get-BagValue -InputObject $item -Name 'Id')) {
                $mitigations.Add([ordered]@{
                        server = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Server')
                        id = [string](Get-BagValue -InputObject $item -Name 'Id')
                        type = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Type')
                        description = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Description')
                        status = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Status')
                    })
            }
        }
    } catch {
        $errors.Add("Get-Mitigations.ps1 stopped: $($_.Exception.Message)")
    }
    $result['mitigations'] = $mitigations.ToArray()
    $result['warnings'] = $warnings.ToArray()
    $result['errors'] = $errors.ToArray()
    return $result
}

function ConvertTo-ScrubbedText {
    # $Text with a user name and password inside a URL (scheme://user:password@host) replaced, and each key of
    # $Names (longest first, any case) replaced by its value.
    param([Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text, [System.Collections.IDictionary]$Names)
    $clean = [regex]::Replace($Text, '(?<=://)[^/@\s:''"<>]+:[^/@\s''"<>]+@', 'scrubbed:scrubbed@')
    if ($null -eq $Names) { return $clean }
    foreach ($name in @($Names.Keys | Sort-Object -Property 'Length' -Descending)) {
        $clean = [regex]::Replace($clean, [regex]::Escape([string]$name), [string]$Names[$name], 'IgnoreCase')
    }
    return $clean
}

function New-ScrubTable {
    # Neutral names for the organisation's own: servers, the DNS domains of their FQDNs (also as DC=...,DC=...),
    # sites and the organisation.
    param([object[]]$ExchangeServer, [string]$OrganizationName)
    $table = [ordered]@{}
    $index = 0
    $sites = 0
    $domains = 0
    foreach ($item in $ExchangeServer) {
        $name = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Name')
        $fqdn = ConvertTo-Text -Value (Get-BagValue -InputObject $item -Name 'Fqdn')
        $site = Get-SiteName -Value (Get-BagValue -InputObject $item -Name 'Site')
        if ($name -and -not $table.Contains($name)) { $index++; $table[$name] = 'SERVER{0:D2}' -f $index }
        if ($fqdn -and $fqdn.Contains('.')) {
            $domain = $fqdn.Substring($fqdn.IndexOf('.') + 1)
            if (-not $table.Contains($domain)) {
                $domains++
                $neutral = 'example{0}.invalid' -f $domains
                $table[$domain] = $neutral
                $table['DC=' + ($domain.Split('.') -join ',DC=')] = 'DC=' + ($neutral.Split('.') -join ',DC=')
            }
        }
        if ($site -and -not $table.Contains($site)) { $sites++; $table[$site] = 'SITE{0:D2}' -f $sites }
    }
    if ($OrganizationName -and -not $table.Contains($OrganizationName)) { $table[$OrganizationName] = 'Organisation' }
    return $table
}

function Save-CaptureText {
    # One file of the capture, scrubbed, as UTF-8 without a byte order mark.
    param([Parameter(Mandatory = $true)][string]$Path, [Parameter(Mandatory = $true)][AllowEmptyString()][string]$Text)
    $folder = Split-Path -Path $Path -Parent
    if (-not (Test-Path -LiteralPath $folder -PathType Container)) { [void](New-Item -Path $folder -ItemType Directory -Force) }
    $utf8 = New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList @($false)
    [System.IO.File]::WriteAllText($Path, (ConvertTo-ScrubbedText -Text $Text -Names $scrubTable), $utf8)
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
    # Next to this script (eems-check scripts --copy), in the installed package (eems_check\scripts\..\collect), or in
    # a checkout of the repository (scripts\..\eems_check\collect); the last one is named in the error if none exists.
    $candidates = @(
        (Join-Path -Path $PSScriptRoot -ChildPath 'collector.ps1'),
        (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'collect\collector.ps1'),
        (Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath 'eems_check\collect\collector.ps1'))
    $CollectorPath = $candidates[-1]
    foreach ($candidate in $candidates) {
        if (Test-Path -LiteralPath $candidate -PathType Leaf) { $CollectorPath = $candidate; break }
    }
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
$organization = $null
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
$allServers = @(Get-ExchangeServer -ErrorAction SilentlyContinue -ErrorVariable 'discoveryErrors')
$captureFolder = $null
$scrubTable = $null
if ($Capture) {
    $captureFolder = Resolve-FullPath -Path $Capture
    if ($ScrubNames) { $scrubTable = New-ScrubTable -ExchangeServer $allServers -OrganizationName $orgName }
    foreach ($part in @(@{ File = 'GetExchangeServer.xml'; Objects = $allServers }, @{ File = 'GetOrganizationConfig.xml'; Objects = @($organization) })) {
        $raw = Join-Path -Path $captureFolder -ChildPath $part.File
        if (-not (Test-Path -LiteralPath $captureFolder -PathType Container)) { [void](New-Item -Path $captureFolder -ItemType Directory -Force) }
        $part.Objects | Where-Object -FilterScript { $null -ne $_ } | Export-Clixml -LiteralPath $raw
        Save-CaptureText -Path $raw -Text (Get-Content -LiteralPath $raw -Raw)
    }
    $manifest = [ordered]@{ format = 'eems-check/capture'; version = 1; written_by = "Export-EemsInventory.ps1 $ExportVersion"
                            collected_at = $startedUtc.ToString('o'); powershell = $PSVersionTable.PSVersion.ToString()
                            names_scrubbed = [bool]$ScrubNames }
    Save-CaptureText -Path (Join-Path -Path $captureFolder -ChildPath 'capture.json') -Text (ConvertTo-Json -InputObject $manifest)
}
foreach ($exchangeServer in $allServers) {
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
                    if ($captureFolder) {
                        $answerPath = Join-Path -Path $captureFolder -ChildPath ('collector\{0}.json' -f $entry['name'])
                        if ($scrubTable -and $scrubTable.Contains([string]$entry['name'])) {
                            $answerPath = Join-Path -Path $captureFolder -ChildPath ('collector\{0}.json' -f $scrubTable[[string]$entry['name']])
                        }
                        Save-CaptureText -Path $answerPath -Text $texts[-1].Trim()
                    }
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

$thisHost = [System.Net.Dns]::GetHostName()
if ($RunGetMitigations) {
    $hostWarnings = New-Object -TypeName 'System.Collections.Generic.List[string]'
    foreach ($entry in $entries) {
        if ($entry['collection']['status'] -eq 'not_scanned') { continue }
        if ($getMitigationsPath -and (Test-Path -LiteralPath $getMitigationsPath -PathType Leaf)) {
            $entry['get_mitigations'] = Invoke-GetMitigationsScript -ScriptPath $getMitigationsPath -Identity $entry['name'] -ThisHost $thisHost -HostWarnings $hostWarnings
        } else {
            $entry['get_mitigations'] = [ordered]@{ ran = $false; reason = 'Get-Mitigations.ps1 was not found ($exscripts is not set in this session)' }
        }
    }
    foreach ($warning in $hostWarnings) {
        Write-Warning -Message "Get-Mitigations.ps1 on $($thisHost) (this computer, not a server's own check): $warning"
    }
}

# --- the document ---------------------------------------------------------------------------------------

$document = [ordered]@{
    schema = 'eems-check/inventory'
    schema_version = 1
    collected_at = $startedUtc
    collector = [ordered]@{ name = 'Export-EemsInventory.ps1'; version = $ExportVersion; host = $thisHost }
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
