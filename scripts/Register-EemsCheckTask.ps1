<#
.SYNOPSIS
    Registers a weekly Windows scheduled task that runs Invoke-EemsCheck.ps1 and mails the eems-check report.

.DESCRIPTION
    Creates (or, with -Force, replaces) a scheduled task that starts Windows PowerShell once a week with
    "-NoProfile -NonInteractive -ExecutionPolicy Bypass -File Invoke-EemsCheck.ps1 ..." under the account you
    choose. The mail settings (recipients, sender, SMTP server, security) come from the eems-check configuration
    file given with -ConfigPath; the task's arguments hold only that path, the discovery server, the report folder
    and switches, never a password. The task's "Last Run Result" is eems-check's exit code (0 nothing found, 1
    findings at or above -FailOn, 2 bad input, 3 the run failed, 4 the report was written but not mailed).

    The account the task runs as (-TaskCredential, or a group managed service account with
    -GroupManagedServiceAccount) needs:
      * In Exchange: a role group that can read the organisation (View-Only Organization Management is enough)
        and remote PowerShell enabled for it (Set-User <account> -RemotePowerShellEnabled $true), for
        Get-ExchangeServer and Get-OrganizationConfig on the discovery server's /PowerShell endpoint.
      * On every Exchange server: membership of the local Administrators group, or of Remote Management Users, for
        the collector on WinRM (/wsman). With Remote Management Users only, the EEMS events and log may be
        unreadable (Event Log Readers membership and read access to Logging\MitigationService help); such parts
        are reported as not collected, never guessed.
      * On this computer: the right to log on as a batch job (granted to a gMSA by installing it here:
        Install-ADServiceAccount; the computer must be in the gMSA's PrincipalsAllowedToRetrieveManagedPassword),
        and write access to -OutputPath.
      * For -GetMitigations: Kerberos delegation (or CredSSP) to the Exchange servers.

    Where the passwords come from:
      * WinRM and Exchange: none is needed. The task runs as the account, so eems-check signs in with that
        account's Kerberos ticket. The account's own password (for -TaskCredential) is handed to the Task
        Scheduler, which stores it protected by Windows to log the account on; a gMSA has no password to give.
      * SMTP: an internal relay that accepts the sender without authentication needs none. If the SMTP server
        requires authentication, eems-check reads the password from the EEMS_CHECK_SMTP_PASSWORD environment
        variable (and the WinRM password, if a different account must be used, from EEMS_CHECK_PASSWORD). Either
        point -ScriptPath at a small wrapper that sets the variable (for example from the Windows Credential
        Manager) and then calls Invoke-EemsCheck.ps1, or let eems-check read the Windows Credential Manager
        itself: install it with its keyring extra (py -3 -m pip install "eems-check[keyring]") and, logged on as
        the task's account (the Credential Manager is per user), store the password under the service
        eems-check-smtp and the SMTP user name of the configuration file:
        py -3 -m keyring set eems-check-smtp <smtp-user>

    Before registering it checks what would make the task fail every week: that -PythonPath is not a per-user
    Python (under a user profile, which the task's account cannot see), and that the discovery server is known
    (-DiscoveryServer, or discovery_server or servers in the configuration file's scan: section).

    Supports -WhatIf and -Confirm; -WhatIf shows the exact command the task would run.

.PARAMETER ConfigPath
    The eems-check configuration file with the mail settings. Required; it must exist.

.PARAMETER DiscoveryServer
    FQDN of the Exchange server whose /PowerShell endpoint lists the organisation. Leave it out when the
    configuration file's scan: section names it (discovery_server, or servers).

.PARAMETER OutputPath
    Folder for the reports. Default: %ProgramData%\eems-check\reports.

.PARAMETER TaskCredential
    The account the task runs as (DOMAIN\user). Its password goes to the Task Scheduler only.

.PARAMETER GroupManagedServiceAccount
    A group managed service account (DOMAIN\name$) to run the task as, without any password.

.PARAMETER DaysOfWeek
    The days the task runs (default Monday).

.PARAMETER At
    The time of day the task starts (default 06:00).

.PARAMETER TaskName
    Name of the task (default "eems-check weekly").

.PARAMETER TaskPath
    Task Scheduler folder of the task (default \eems-check\).

.PARAMETER ScriptPath
    The script the task runs. Default: Invoke-EemsCheck.ps1 next to this script.

.PARAMETER PythonPath
    python.exe for Invoke-EemsCheck.ps1 to use (default: it finds one when the task runs). It must be a Python
    installed for all users: a per-user Python under a profile folder is refused, the task's account cannot run it.

.PARAMETER FailOn
    Severity at which the run ends with exit code 1 and, with -AlertsOnly, mail is sent: Critical, Error
    (default), Warning, Info or Never.

.PARAMETER ProbeOcs
    Also probe the Office Config Service from every server.

.PARAMETER AlertsOnly
    Mail the report only when a server has a finding at or above -FailOn.

.PARAMETER SaveInventory
    Also keep each week's inventory in -OutputPath.

.PARAMETER ExecutionTimeLimitHours
    Stop the task when it runs longer than this (default 4).

.PARAMETER Force
    Replace a task of the same name and folder.

.EXAMPLE
    .\Register-EemsCheckTask.ps1 -ConfigPath C:\eems-check\eems-check.yaml -DiscoveryServer ex01.contoso.com -GroupManagedServiceAccount 'CONTOSO\gmsa-eems$'

    Runs the scan every Monday at 06:00 as a gMSA and mails the report as the configuration file says.

.EXAMPLE
    .\Register-EemsCheckTask.ps1 -ConfigPath C:\eems-check\eems-check.yaml -DiscoveryServer ex01.contoso.com -TaskCredential (Get-Credential CONTOSO\svc-eems) -DaysOfWeek Monday, Thursday -At 05:30 -AlertsOnly -FailOn Warning

    Runs twice a week as a service account and mails only when something at warning or above was found.

.EXAMPLE
    .\Register-EemsCheckTask.ps1 -ConfigPath C:\eems-check\eems-check.yaml -GroupManagedServiceAccount 'CONTOSO\gmsa-eems$' -WhatIf

    Shows what would be registered without registering anything.

.NOTES
    Needs the ScheduledTasks module (Windows Server 2012 or later) and an elevated session.
#>
[CmdletBinding(SupportsShouldProcess = $true, DefaultParameterSetName = 'Gmsa')]
param(
    [Parameter(Mandatory = $true)]
    [ValidateNotNullOrEmpty()]
    [string]$ConfigPath,

    [ValidateNotNullOrEmpty()]
    [string]$DiscoveryServer,

    [ValidateNotNullOrEmpty()]
    [string]$OutputPath,

    [Parameter(Mandatory = $true, ParameterSetName = 'Credential')]
    [System.Management.Automation.PSCredential]
    [System.Management.Automation.Credential()]
    $TaskCredential,

    [Parameter(Mandatory = $true, ParameterSetName = 'Gmsa')]
    [ValidatePattern('\$$')]
    [string]$GroupManagedServiceAccount,

    [System.DayOfWeek[]]$DaysOfWeek = @([System.DayOfWeek]::Monday),

    [datetime]$At = [datetime]'06:00',

    [ValidateNotNullOrEmpty()]
    [string]$TaskName = 'eems-check weekly',

    [ValidatePattern('^\\')]
    [string]$TaskPath = '\eems-check\',

    [ValidateNotNullOrEmpty()]
    [string]$ScriptPath,

    [ValidateNotNullOrEmpty()]
    [string]$PythonPath,

    [ValidateSet('Critical', 'Error', 'Warning', 'Info', 'Never')]
    [string]$FailOn = 'Error',

    [switch]$ProbeOcs,

    [switch]$AlertsOnly,

    [switch]$SaveInventory,

    [ValidateRange(1, 72)]
    [int]$ExecutionTimeLimitHours = 4,

    [switch]$Force
)

Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

function Resolve-FullPath {
    # Full path without a trailing backslash (which would escape the closing quote on the task's command line).
    param([Parameter(Mandatory = $true)][string]$Path)
    $full = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Path)
    if ($full.Length -gt 3) { $full = $full.TrimEnd('\') }
    return $full
}

function ConvertTo-TaskArgumentString {
    # The Task Scheduler takes one argument string. Each element is quoted when it has to be; a double quote inside
    # a value cannot be passed safely and is refused. No credential ever reaches this function.
    param([Parameter(Mandatory = $true)][string[]]$Element)
    $quoted = foreach ($item in $Element) {
        if ($item.Contains('"')) { throw "A value for the scheduled task contains a double quote: $item" }
        if ($item.Length -eq 0) { throw 'A value for the scheduled task is empty.' }
        if ($item -match '[\s;&|()<>^,]') { '"' + $item + '"' } else { $item }
    }
    return ($quoted -join ' ')
}

function Test-ScanDiscovery {
    # True when the configuration file's scan: section names the discovery server or the servers. A line-based
    # reading of the YAML (no YAML module in Windows PowerShell): a top-level "scan:" and, indented under it,
    # "discovery_server:" or "servers:". eems-check itself checks the file fully when the task runs.
    param([Parameter(Mandatory = $true)][string]$Path)
    $inScan = $false
    foreach ($line in (Get-Content -LiteralPath $Path -Encoding UTF8)) {
        if ($line -match '^\S') { $inScan = $line -match '^scan\s*:\s*(#.*)?$'; continue }
        if ($inScan -and $line -match '^\s+(discovery[_-]server|servers?)\s*:\s*\S') { return $true }
        if ($inScan -and $line -match '^\s+(servers?)\s*:\s*(#.*)?$') { return $true }
    }
    return $false
}

if (-not $ScriptPath) { $ScriptPath = Join-Path -Path $PSScriptRoot -ChildPath 'Invoke-EemsCheck.ps1' }
$ScriptPath = Resolve-FullPath -Path $ScriptPath
if (-not (Test-Path -LiteralPath $ScriptPath -PathType Leaf)) { throw "The script to run was not found: $ScriptPath" }
$ConfigPath = Resolve-FullPath -Path $ConfigPath
if (-not (Test-Path -LiteralPath $ConfigPath -PathType Leaf)) { throw "The eems-check configuration file was not found: $ConfigPath" }
if (-not $OutputPath) { $OutputPath = Join-Path -Path $env:ProgramData -ChildPath 'eems-check\reports' }
$OutputPath = Resolve-FullPath -Path $OutputPath
if ($PythonPath) {
    $PythonPath = Resolve-FullPath -Path $PythonPath
    if (-not (Test-Path -LiteralPath $PythonPath -PathType Leaf)) { throw "Python was not found: $PythonPath" }
    $profiles = Split-Path -Path $env:USERPROFILE -Parent
    if ($PythonPath.StartsWith($profiles + '\', [System.StringComparison]::OrdinalIgnoreCase)) {
        throw ("'$PythonPath' is a per-user Python (under $profiles): the task's account cannot run it. Install " +
            'Python for all users (for example under C:\Program Files) with eems-check, and pass that python.exe.')
    }
} else {
    Write-Warning -Message ('No -PythonPath: Invoke-EemsCheck.ps1 will look for Python as the task account, which ' +
        'does not see per-user installations. Pass -PythonPath of a Python installed for all users.')
}
if (-not $DiscoveryServer -and -not (Test-ScanDiscovery -Path $ConfigPath)) {
    throw ("No discovery server: pass -DiscoveryServer, or add a scan: section with discovery_server (or servers) " +
        "to '$ConfigPath'. Without one every run of the task ends with exit code 2.")
}

$taskArguments = New-Object -TypeName 'System.Collections.Generic.List[string]'
foreach ($item in @('-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $ScriptPath)) { $taskArguments.Add($item) }
$taskArguments.Add('-ConfigPath'); $taskArguments.Add($ConfigPath)
$taskArguments.Add('-OutputPath'); $taskArguments.Add($OutputPath)
$taskArguments.Add('-FailOn'); $taskArguments.Add($FailOn)
if ($DiscoveryServer) { $taskArguments.Add('-DiscoveryServer'); $taskArguments.Add($DiscoveryServer) }
if ($PythonPath) { $taskArguments.Add('-PythonPath'); $taskArguments.Add($PythonPath) }
if ($ProbeOcs) { $taskArguments.Add('-ProbeOcs') }
if ($AlertsOnly) { $taskArguments.Add('-AlertsOnly') }
if ($SaveInventory) { $taskArguments.Add('-SaveInventory') }
$argumentString = ConvertTo-TaskArgumentString -Element $taskArguments.ToArray()

$powershellPath = Join-Path -Path $env:SystemRoot -ChildPath 'System32\WindowsPowerShell\v1.0\powershell.exe'
$action = New-ScheduledTaskAction -Execute $powershellPath -Argument $argumentString -WorkingDirectory (Split-Path -Path $ScriptPath -Parent)
$trigger = New-ScheduledTaskTrigger -Weekly -WeeksInterval 1 -DaysOfWeek $DaysOfWeek -At $At
$settings = New-ScheduledTaskSettingsSet -ExecutionTimeLimit (New-TimeSpan -Hours $ExecutionTimeLimitHours) -StartWhenAvailable -MultipleInstances 'IgnoreNew'
$register = @{
    TaskName = $TaskName
    TaskPath = $TaskPath
    Action = $action
    Trigger = $trigger
    Settings = $settings
    Description = 'eems-check: which Exchange servers can the Emergency Mitigation Service no longer protect (weekly report by mail).'
}
if ($Force) { $register['Force'] = $true }

if ($PSCmdlet.ParameterSetName -eq 'Gmsa') {
    $account = $GroupManagedServiceAccount
    # LogonType Password with a gMSA: Windows fetches the managed password itself; none is given here.
    $register['Principal'] = New-ScheduledTaskPrincipal -UserId $GroupManagedServiceAccount -LogonType 'Password' -RunLevel 'Limited'
} else {
    $account = $TaskCredential.UserName
}

$existing = Get-ScheduledTask -TaskName $TaskName -TaskPath $TaskPath -ErrorAction SilentlyContinue
if ($null -ne $existing -and -not $Force) {
    throw "A task '$TaskPath$TaskName' exists already; use -Force to replace it."
}
Write-Verbose -Message "Command: $powershellPath $argumentString"
Write-Verbose -Message ("Runs as {0} on {1} at {2:HH:mm}" -f $account, ($DaysOfWeek -join ', '), $At)

if ($PSCmdlet.ShouldProcess("$TaskPath$TaskName", "Register a weekly task running as $account the command: $powershellPath $argumentString")) {
    if (-not (Test-Path -LiteralPath $OutputPath -PathType Container)) { [void](New-Item -Path $OutputPath -ItemType Directory -Force) }
    if ($PSCmdlet.ParameterSetName -eq 'Credential') {
        # The Task Scheduler needs the account's password to log it on; it stores it protected by Windows. It is
        # never part of the task's action or arguments.
        $register['User'] = $TaskCredential.UserName
        $register['Password'] = $TaskCredential.GetNetworkCredential().Password
        $register['RunLevel'] = 'Limited'
    }
    Register-ScheduledTask @register
}
