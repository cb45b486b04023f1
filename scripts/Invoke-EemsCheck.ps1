<#
.SYNOPSIS
    Scans the Exchange organisation with eems-check and reports which servers the Exchange Emergency Mitigation
    Service (EEMS) can no longer protect.

.DESCRIPTION
    A PowerShell front end for the eems-check Python tool. It finds Python, checks that the eems_check package is
    installed, runs "python -m eems_check scan" with the options below, shows the tool's output as it comes, and
    exits with the tool's exit code, so a scheduled task or a CI job sees the result.

    eems-check connects to the discovery server's /PowerShell endpoint (Get-OrganizationConfig, Get-ExchangeServer)
    and runs its read-only collector on every selected server over WinRM (/wsman). It writes an HTML, a JSON and a
    CSV report into -OutputPath and, with the mail options, sends the HTML report by mail.

    Python is looked for in this order: -PythonPath; the .venv folder of the checkout this script is in; the py
    launcher (py -3); python; python3. The first one that can import eems_check is used. When none can, the script
    stops and says how to install it (py -3 -m pip install eems-check, or from a checkout: py -3 -m pip install .).

    Passwords never appear in the argument list. With -Credential, the user name goes to --username and the
    password is put into the EEMS_CHECK_PASSWORD environment variable of this process just before the call (the
    Python process inherits it) and removed right after it, even when the call fails. -SmtpCredential does the same
    with EEMS_CHECK_SMTP_PASSWORD. Without -Credential, eems-check signs in as the current Windows logon (Kerberos).

    Each option becomes its own argument (an array, never one command line assembled from strings). Windows
    PowerShell 5.1 cannot pass an empty string or a double quote inside an argument to a program reliably, so such
    values are refused with a message instead of being mangled.

    Exit codes (those of eems-check):
      0  Nothing at or above -FailOn (default error; 'never' always gives 0).
      1  At least one server has a finding at or above -FailOn.
      2  Bad usage or input (wrong option, unreadable config or rules file, credentials refused at discovery).
      3  The run itself failed (discovery failed, a report could not be written). This script also exits 3 when
         Python or eems-check cannot be found.
      4  The report was written but could not be mailed.

.PARAMETER DiscoveryServer
    FQDN of the Exchange server whose /PowerShell endpoint lists the organisation (Get-ExchangeServer). Default:
    the first -Server.

.PARAMETER Server
    Scan only these servers (names or FQDNs). Default: every server Get-ExchangeServer lists.

.PARAMETER Site
    Scan only servers in these Active Directory sites.

.PARAMETER Role
    Scan only servers with these roles, for example Mailbox.

.PARAMETER Credential
    Account to sign in with (user@DOMAIN or DOMAIN\user). Its password reaches eems-check only through the
    EEMS_CHECK_PASSWORD environment variable. Default: the current Windows logon (Kerberos).

.PARAMETER Authentication
    Kerberos (default, and the only method the Exchange /PowerShell endpoint accepts in practice), Negotiate, Ntlm
    or CredSSP.

.PARAMETER UseSSL
    Use HTTPS for both endpoints (/PowerShell on 443, /wsman on 5986).

.PARAMETER OutputPath
    Folder for the HTML, JSON and CSV reports (timestamped names). Default: the current folder.

.PARAMETER SaveInventory
    Also save the collected inventory (eems-inventory-<time>.json in -OutputPath), which
    "eems-check evaluate" can re-evaluate later without scanning again.

.PARAMETER RulesPath
    Extra rules files merged over the bundled rules (for example a newer security update than the installed
    eems-check knows).

.PARAMETER MailTo
    Mail the report to these addresses.

.PARAMETER MailFrom
    Sender address of the mail.

.PARAMETER SmtpServer
    SMTP server (host name) that sends the mail.

.PARAMETER SmtpPort
    SMTP port (default: the configuration file's, else eems-check's default for the security mode).

.PARAMETER SmtpSecurity
    StartTls, Tls or None.

.PARAMETER SmtpCredential
    Account for SMTP authentication. Its password reaches eems-check only through the EEMS_CHECK_SMTP_PASSWORD
    environment variable. Leave it out for an internal relay that needs no authentication.

.PARAMETER AlertsOnly
    Send mail only when a server has a finding at or above -FailOn.

.PARAMETER ConfigPath
    eems-check configuration file with the mail settings (passed as --config; its format is described in the
    eems-check README). The mail parameters above are passed as well when given.

.PARAMETER Parallel
    How many servers are collected at once (default 48).

.PARAMETER ProbeOcs
    From each server, request the Office Config Service through its InternetWebProxy, as EEMS would.

.PARAMETER GetMitigations
    Run Get-Mitigations.ps1 on each server. It needs Kerberos delegation or CredSSP (a second hop).

.PARAMETER FailOn
    Exit 1 when a server has a finding at or above this severity: Critical, Error (default), Warning, Info, or
    Never (always exit 0 when the run succeeds).

.PARAMETER PassThru
    After the run, read the JSON report and return one object per server: Server, Site, Version, Build,
    BuildSource, EemsState, one property per overview rule of the report (EEMSMar2023, EEMSJun2026, Support),
    CollectionStatus, WorstSeverity and Problems (the failed or undecided checks at warning or above).

.PARAMETER PythonPath
    Full path of the python.exe to use (for example a virtual environment's Scripts\python.exe).

.EXAMPLE
    .\Invoke-EemsCheck.ps1 -DiscoveryServer ex01.contoso.com -OutputPath C:\Reports\eems

    Scans the whole organisation as the current user (Kerberos) and writes the reports to C:\Reports\eems.

.EXAMPLE
    .\Invoke-EemsCheck.ps1 -DiscoveryServer ex01.contoso.com -Site London, Paris -Credential (Get-Credential) -PassThru |
        Where-Object -FilterScript { $_.WorstSeverity -eq 'error' } | Format-Table -Property Server, Build, EemsState, Problems

    Scans two sites with another account and lists the servers with errors.

.EXAMPLE
    .\Invoke-EemsCheck.ps1 -DiscoveryServer ex01.contoso.com -ProbeOcs -FailOn Warning -MailTo exchange-admins@contoso.com -MailFrom eems-check@contoso.com -SmtpServer smtp.contoso.com -SmtpSecurity StartTls -AlertsOnly

    Also probes the Office Config Service from every server and mails the report only when something at warning
    or above was found.

.EXAMPLE
    powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -File C:\eems-check\scripts\Invoke-EemsCheck.ps1 -DiscoveryServer ex01.contoso.com -ConfigPath C:\eems-check\eems-check.yaml -OutputPath C:\Reports\eems

    The command line of a weekly scheduled task (Register-EemsCheckTask.ps1 creates it): the task's account signs
    in with Kerberos, the mail settings come from the configuration file, and the task's "last run result" is the
    exit code above.

.EXAMPLE
    .\Invoke-EemsCheck.ps1 -Server ex19-01.contoso.com -PythonPath C:\eems-check\.venv\Scripts\python.exe -Verbose

    Scans one server with a specific Python and shows eems-check's detailed log.

.NOTES
    Windows PowerShell 5.1 or PowerShell 7. Needs Python 3.10 or newer with eems-check installed.
#>
[CmdletBinding()]
param(
    [ValidateNotNullOrEmpty()]
    [string]$DiscoveryServer,

    [ValidateNotNullOrEmpty()]
    [string[]]$Server,

    [ValidateNotNullOrEmpty()]
    [string[]]$Site,

    [ValidateNotNullOrEmpty()]
    [string[]]$Role,

    [System.Management.Automation.PSCredential]
    [System.Management.Automation.Credential()]
    $Credential = [System.Management.Automation.PSCredential]::Empty,

    [ValidateSet('Kerberos', 'Negotiate', 'Ntlm', 'CredSSP')]
    [string]$Authentication = 'Kerberos',

    [switch]$UseSSL,

    [ValidateNotNullOrEmpty()]
    [string]$OutputPath,

    [switch]$SaveInventory,

    [ValidateNotNullOrEmpty()]
    [string[]]$RulesPath,

    [ValidateNotNullOrEmpty()]
    [string[]]$MailTo,

    [ValidateNotNullOrEmpty()]
    [string]$MailFrom,

    [ValidateNotNullOrEmpty()]
    [string]$SmtpServer,

    [ValidateRange(1, 65535)]
    [int]$SmtpPort,

    [ValidateSet('StartTls', 'Tls', 'None')]
    [string]$SmtpSecurity,

    [System.Management.Automation.PSCredential]
    [System.Management.Automation.Credential()]
    $SmtpCredential = [System.Management.Automation.PSCredential]::Empty,

    [switch]$AlertsOnly,

    [ValidateNotNullOrEmpty()]
    [string]$ConfigPath,

    [ValidateRange(1, 256)]
    [int]$Parallel,

    [switch]$ProbeOcs,

    [switch]$GetMitigations,

    [ValidateSet('Critical', 'Error', 'Warning', 'Info', 'Never')]
    [string]$FailOn = 'Error',

    [switch]$PassThru,

    [ValidateNotNullOrEmpty()]
    [string]$PythonPath
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
# PowerShell 7.3+ could turn a non-zero exit code of python into an error; the exit code is our result, not an error.
$PSNativeCommandUseErrorActionPreference = $false

$ExitRunFailed = 3
$PasswordVariable = 'EEMS_CHECK_PASSWORD'
$SmtpPasswordVariable = 'EEMS_CHECK_SMTP_PASSWORD'
$InstallHint = 'Install it with "py -3 -m pip install eems-check", or from a checkout of the eems-check ' +
    'repository run "py -3 -m pip install ." in its folder (or pass -PythonPath with the python.exe that has it).'

function Resolve-FullPath {
    # A full path without a trailing backslash: relative paths are resolved against the current PowerShell folder
    # (python's working folder may differ), and a trailing backslash before the closing quote would escape it.
    param([Parameter(Mandatory = $true)][string]$Path)
    $full = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    if ($full.Length -gt 3) { $full = $full.TrimEnd('\') }
    return $full
}

function Find-EemsCheckPython {
    # The first Python that imports eems_check: @{ Path; Prefix (arguments before -m); Version }. Throws with an
    # install hint when there is none.
    param([string]$Requested)
    $candidates = New-Object -TypeName 'System.Collections.Generic.List[object]'
    if ($Requested) {
        $candidates.Add(@{ Path = (Resolve-FullPath -Path $Requested); Prefix = @() })
    } else {
        $checkoutPython = Join-Path -Path (Split-Path -Path $PSScriptRoot -Parent) -ChildPath '.venv\Scripts\python.exe'
        if (Test-Path -LiteralPath $checkoutPython -PathType Leaf) { $candidates.Add(@{ Path = $checkoutPython; Prefix = @() }) }
        foreach ($name in @('py', 'python', 'python3')) {
            $command = Get-Command -Name $name -CommandType Application -ErrorAction SilentlyContinue | Select-Object -First 1
            if ($null -eq $command) { continue }
            $prefix = @()
            if ($name -eq 'py') { $prefix = @('-3') }
            $candidates.Add(@{ Path = $command.Path; Prefix = $prefix })
        }
    }
    $tried = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $probe = 'import sys; sys.exit(3) if sys.version_info < (3, 10) else None; import eems_check; print(eems_check.__version__)'
    foreach ($candidate in $candidates) {
        $shown = (@($candidate.Path) + $candidate.Prefix) -join ' '
        if (-not (Test-Path -LiteralPath $candidate.Path -PathType Leaf)) {
            $tried.Add("$shown (not found)")
            continue
        }
        # Windows PowerShell 5.1 turns redirected stderr lines into errors; with 'Stop' they would end the script.
        $previous = $ErrorActionPreference
        $ErrorActionPreference = 'Continue'
        $probeArguments = [string[]](@($candidate.Prefix) + @('-c', $probe))
        try {
            $version = & $candidate.Path @probeArguments 2>$null | Select-Object -Last 1
            $code = $LASTEXITCODE
        } catch {
            $version = $null
            $code = -1
        } finally {
            $ErrorActionPreference = $previous
        }
        if ($code -eq 0 -and $version) {
            return @{ Path = $candidate.Path; Prefix = $candidate.Prefix; Version = [string]$version }
        }
        if ($code -eq 3) { $tried.Add("$shown (older than Python 3.10)") }
        else { $tried.Add("$shown (cannot import eems_check)") }
    }
    if ($tried.Count -eq 0) {
        throw ('Python 3.10 or newer was not found (no py launcher, python or python3 on the PATH). Install Python ' +
            "from https://www.python.org/downloads/windows/ or with 'winget install Python.Python.3.12', then " +
            "install eems-check. $InstallHint")
    }
    throw "eems-check is not installed for any Python found (tried: $($tried -join '; ')). $InstallHint"
}

function Add-NativeArgument {
    # Adds a flag and, when given, its value as separate elements. PowerShell 5.1 drops an empty argument and
    # cannot pass a double quote inside one to a program, so both are refused rather than silently changed.
    param(
        [Parameter(Mandatory = $true)][AllowEmptyCollection()][System.Collections.Generic.List[string]]$List,
        [Parameter(Mandatory = $true)][string]$Flag,
        [object]$Value
    )
    $List.Add($Flag)
    if ($PSBoundParameters.ContainsKey('Value')) {
        $text = [string]$Value
        if ($text.Length -eq 0) { throw "The value for $Flag is empty." }
        if ($text.Contains('"')) { throw "The value for $Flag contains a double quote, which cannot be passed to Python safely: $text" }
        if ($text.EndsWith('\')) { throw "The value for $Flag ends with a backslash, which would escape the closing quote: $text" }
        $List.Add($text)
    }
}

function New-ScanArgumentList {
    # The arguments after "python -m eems_check", one element per flag or value. Credentials contribute only their
    # user names here; the passwords travel in the environment (see Set-ChildPassword).
    param(
        [Parameter(Mandatory = $true)][hashtable]$Bound,
        [Parameter(Mandatory = $true)][string]$OutputFolder,
        [string]$InventoryFile
    )
    $list = New-Object -TypeName 'System.Collections.Generic.List[string]'
    $list.Add('scan')
    if ($Bound.ContainsKey('DiscoveryServer')) { Add-NativeArgument -List $list -Flag '--discovery-server' -Value $Bound['DiscoveryServer'] }
    foreach ($name in @($Bound['Server'] | Where-Object -FilterScript { $null -ne $_ })) { Add-NativeArgument -List $list -Flag '--server' -Value $name }
    foreach ($name in @($Bound['Site'] | Where-Object -FilterScript { $null -ne $_ })) { Add-NativeArgument -List $list -Flag '--site' -Value $name }
    foreach ($name in @($Bound['Role'] | Where-Object -FilterScript { $null -ne $_ })) { Add-NativeArgument -List $list -Flag '--role' -Value $name }
    Add-NativeArgument -List $list -Flag '--auth' -Value $Bound['Authentication'].ToLowerInvariant()
    if ($Bound.ContainsKey('Credential') -and $Bound['Credential'] -ne [System.Management.Automation.PSCredential]::Empty) {
        Add-NativeArgument -List $list -Flag '--username' -Value $Bound['Credential'].UserName
    }
    if ($Bound['UseSSL']) { Add-NativeArgument -List $list -Flag '--https' }
    if ($Bound.ContainsKey('Parallel')) { Add-NativeArgument -List $list -Flag '--parallel' -Value $Bound['Parallel'] }
    if ($Bound['ProbeOcs']) { Add-NativeArgument -List $list -Flag '--probe-ocs' }
    if ($Bound['GetMitigations']) { Add-NativeArgument -List $list -Flag '--get-mitigations' }
    Add-NativeArgument -List $list -Flag '--output-dir' -Value $OutputFolder
    if ($InventoryFile) { Add-NativeArgument -List $list -Flag '--save-inventory' -Value $InventoryFile }
    foreach ($path in @($Bound['RulesPath'] | Where-Object -FilterScript { $null -ne $_ })) {
        Add-NativeArgument -List $list -Flag '--rules' -Value (Resolve-FullPath -Path $path)
    }
    Add-NativeArgument -List $list -Flag '--fail-on' -Value $Bound['FailOn'].ToLowerInvariant()
    if ($Bound.ContainsKey('ConfigPath')) { Add-NativeArgument -List $list -Flag '--config' -Value (Resolve-FullPath -Path $Bound['ConfigPath']) }
    foreach ($address in @($Bound['MailTo'] | Where-Object -FilterScript { $null -ne $_ })) { Add-NativeArgument -List $list -Flag '--mail-to' -Value $address }
    if ($Bound.ContainsKey('MailFrom')) { Add-NativeArgument -List $list -Flag '--mail-from' -Value $Bound['MailFrom'] }
    if ($Bound.ContainsKey('SmtpServer')) { Add-NativeArgument -List $list -Flag '--smtp-host' -Value $Bound['SmtpServer'] }
    if ($Bound.ContainsKey('SmtpPort')) { Add-NativeArgument -List $list -Flag '--smtp-port' -Value $Bound['SmtpPort'] }
    if ($Bound.ContainsKey('SmtpSecurity')) { Add-NativeArgument -List $list -Flag '--smtp-security' -Value $Bound['SmtpSecurity'].ToLowerInvariant() }
    if ($Bound.ContainsKey('SmtpCredential') -and $Bound['SmtpCredential'] -ne [System.Management.Automation.PSCredential]::Empty) {
        Add-NativeArgument -List $list -Flag '--smtp-user' -Value $Bound['SmtpCredential'].UserName
    }
    if ($Bound['AlertsOnly']) { Add-NativeArgument -List $list -Flag '--alerts-only' }
    if ($Bound.ContainsKey('Verbose') -and $Bound['Verbose']) { Add-NativeArgument -List $list -Flag '--verbose' }
    return , $list.ToArray()
}

function Set-ChildPassword {
    # Puts a credential's password into this process's environment, where the Python child inherits it. The
    # caller removes it in a finally block. Returns whether it set the variable.
    param([Parameter(Mandatory = $true)][string]$Variable, [System.Management.Automation.PSCredential]$Source)
    if ($null -eq $Source -or $Source -eq [System.Management.Automation.PSCredential]::Empty) { return $false }
    [System.Environment]::SetEnvironmentVariable($Variable, $Source.GetNetworkCredential().Password, 'Process')
    return $true
}

function Get-BagValue {
    # A property of an object read from JSON, or $null when it is absent (strict mode throws on a missing one).
    param([object]$InputObject, [Parameter(Mandatory = $true)][string]$Name)
    if ($null -eq $InputObject) { return $null }
    $property = $InputObject.PSObject.Properties[$Name]
    if ($null -eq $property) { return $null }
    return $property.Value
}

function ConvertFrom-EemsReport {
    # One object per server from eems-check's JSON report (schema eems-check/report version 1).
    param([Parameter(Mandatory = $true)][string]$Path)
    $report = Get-Content -LiteralPath $Path -Raw -Encoding UTF8 | ConvertFrom-Json
    if ((Get-BagValue -InputObject $report -Name 'schema') -ne 'eems-check/report') {
        throw "$Path is not an eems-check JSON report."
    }
    $run = Get-BagValue -InputObject $report -Name 'run'
    $overview = @(Get-BagValue -InputObject $run -Name 'overview_rules')
    $inventory = Get-BagValue -InputObject $report -Name 'inventory'
    $servers = @{}
    foreach ($entry in @(Get-BagValue -InputObject $inventory -Name 'servers')) {
        if ($null -ne $entry) { $servers[[string]$entry.name] = $entry }
    }
    foreach ($result in @(Get-BagValue -InputObject $report -Name 'results')) {
        if ($null -eq $result) { continue }
        $name = [string]$result.server
        $facts = $servers[$name]
        $build = Get-BagValue -InputObject $result -Name 'build'
        $findings = @(Get-BagValue -InputObject $result -Name 'findings' | Where-Object -FilterScript { $null -ne $_ })
        $version = Get-BagValue -InputObject $build -Name 'name'
        if (-not $version) { $version = Get-BagValue -InputObject $facts -Name 'admin_display_version' }
        $number = Get-BagValue -InputObject $build -Name 'number'
        if (-not $number) { $number = Get-BagValue -InputObject $build -Name 'text' }
        $item = [ordered]@{
            Server = $name
            Site = Get-BagValue -InputObject $facts -Name 'site'
            Version = $version
            Build = $number
            BuildSource = Get-BagValue -InputObject $build -Name 'source'
            EemsState = Get-BagValue -InputObject $result -Name 'eems_state'
        }
        foreach ($rule in $overview) {
            $finding = $findings | Where-Object -FilterScript { $_.rule_id -eq $rule.rule_id } | Select-Object -First 1
            $verdict = $null
            if ($null -ne $finding) { $verdict = [string]$finding.verdict }
            $item[($rule.label -replace '[^A-Za-z0-9]', '')] = $verdict
        }
        $item['CollectionStatus'] = Get-BagValue -InputObject (Get-BagValue -InputObject $facts -Name 'collection') -Name 'status'
        $item['WorstSeverity'] = Get-BagValue -InputObject $result -Name 'worst'
        $problems = New-Object -TypeName 'System.Collections.Generic.List[string]'
        foreach ($finding in $findings) {
            if (@('fail', 'unknown') -notcontains $finding.verdict) { continue }
            if (@('warning', 'error', 'critical') -notcontains $finding.severity) { continue }
            $problems.Add(('{0} {1}: {2}' -f $finding.severity.ToUpperInvariant(), $finding.rule_id, $finding.message))
        }
        $item['Problems'] = $problems.ToArray()
        $object = New-Object -TypeName 'System.Management.Automation.PSObject' -Property $item
        $object.PSObject.TypeNames.Insert(0, 'EemsCheck.ServerResult')
        $object
    }
}

function Find-JsonReport {
    # The JSON report this run wrote: the path eems-check printed, else the newest one in the folder since $Since.
    param([string]$Printed, [Parameter(Mandatory = $true)][string]$Folder, [Parameter(Mandatory = $true)][datetime]$Since)
    if ($Printed -and (Test-Path -LiteralPath $Printed -PathType Leaf)) { return $Printed }
    $newest = Get-ChildItem -LiteralPath $Folder -Filter 'eems-report-*.json' -File -ErrorAction SilentlyContinue |
        Where-Object -FilterScript { $_.LastWriteTime -ge $Since } |
        Sort-Object -Property 'LastWriteTime' -Descending | Select-Object -First 1
    if ($null -eq $newest) { return $null }
    return $newest.FullName
}

# --- main -----------------------------------------------------------------------------------------------------

try {
    $python = Find-EemsCheckPython -Requested $PythonPath
} catch {
    Write-Error -Message $_.Exception.Message -ErrorAction Continue
    exit $ExitRunFailed
}
Write-Verbose -Message "Using $($python.Path) $($python.Prefix -join ' ') with eems-check $($python.Version)"

$started = Get-Date
if ($OutputPath) { $outputFolder = Resolve-FullPath -Path $OutputPath }
else { $outputFolder = Resolve-FullPath -Path (Get-Location -PSProvider 'FileSystem').ProviderPath }
$inventoryFile = $null
if ($SaveInventory) {
    $inventoryFile = Join-Path -Path $outputFolder -ChildPath ('eems-inventory-{0}.json' -f $started.ToString('yyyyMMdd-HHmmss'))
}

# $PSBoundParameters lacks parameters left at their defaults; the argument list needs the effective values.
$settings = @{}
foreach ($key in $PSBoundParameters.Keys) { $settings[$key] = $PSBoundParameters[$key] }
$settings['Authentication'] = $Authentication
$settings['FailOn'] = $FailOn
try {
    $scanArguments = New-ScanArgumentList -Bound $settings -OutputFolder $outputFolder -InventoryFile $inventoryFile
} catch {
    Write-Error -Message $_.Exception.Message -ErrorAction Continue
    exit 2
}
$commandArguments = [string[]](@($python.Prefix) + @('-m', 'eems_check') + @($scanArguments))
Write-Verbose -Message ("Running: {0} {1}" -f $python.Path, ($commandArguments -join ' '))

# Variables the child process inherits; each is restored to its previous value (usually: removed) afterwards.
$childVariables = @($PasswordVariable, $SmtpPasswordVariable, 'PYTHONUNBUFFERED', 'PYTHONIOENCODING')
$savedVariables = @{}
foreach ($variable in $childVariables) {
    $savedVariables[$variable] = [System.Environment]::GetEnvironmentVariable($variable, 'Process')
}
$savedOutputEncoding = $null
$printedReport = $null
$exitCode = $ExitRunFailed
try {
    # Line by line output (not one block at exit) and UTF-8 both ways, so names with accents survive.
    [System.Environment]::SetEnvironmentVariable('PYTHONUNBUFFERED', '1', 'Process')
    [System.Environment]::SetEnvironmentVariable('PYTHONIOENCODING', 'utf-8', 'Process')
    try {
        $savedOutputEncoding = [System.Console]::OutputEncoding
        [System.Console]::OutputEncoding = New-Object -TypeName 'System.Text.UTF8Encoding' -ArgumentList @($false)
    } catch {
        $savedOutputEncoding = $null  # no console (some hosts): keep the default decoding
    }
    [void](Set-ChildPassword -Variable $PasswordVariable -Source $Credential)
    [void](Set-ChildPassword -Variable $SmtpPasswordVariable -Source $SmtpCredential)

    # stderr is left alone (it reaches the console directly); 'Continue' keeps hosts that turn it into error
    # records from ending the script. stdout goes to the host line by line, so the pipeline carries only -PassThru.
    $ErrorActionPreference = 'Continue'
    & $python.Path @commandArguments | ForEach-Object -Process {
        $line = [string]$_
        if ($line -match '^JSON report: (.+)$') { $printedReport = $Matches[1].Trim() }
        Write-Host -Object $line
    }
    $exitCode = $LASTEXITCODE
    $ErrorActionPreference = 'Stop'
} finally {
    $ErrorActionPreference = 'Stop'
    Remove-Item -LiteralPath 'Env:EEMS_CHECK_PASSWORD' -ErrorAction SilentlyContinue
    Remove-Item -LiteralPath 'Env:EEMS_CHECK_SMTP_PASSWORD' -ErrorAction SilentlyContinue
    foreach ($variable in $childVariables) {
        if ($null -ne $savedVariables[$variable]) {
            [System.Environment]::SetEnvironmentVariable($variable, $savedVariables[$variable], 'Process')
        } else {
            [System.Environment]::SetEnvironmentVariable($variable, $null, 'Process')
        }
    }
    if ($null -ne $savedOutputEncoding) {
        try { [System.Console]::OutputEncoding = $savedOutputEncoding } catch { Write-Verbose -Message 'Could not restore the console encoding.' }
    }
}

if ($PassThru) {
    if ($exitCode -le 1 -or $exitCode -eq 4) {
        $reportPath = Find-JsonReport -Printed $printedReport -Folder $outputFolder -Since $started.AddSeconds(-2)
        if ($reportPath) { ConvertFrom-EemsReport -Path $reportPath }
        else { Write-Warning -Message "-PassThru: no JSON report of this run was found in $outputFolder." }
    } else {
        Write-Warning -Message "-PassThru: eems-check ended with exit code $exitCode, so there is no report to read."
    }
}
exit $exitCode
