"""Register-EemsCheckTask.ps1: a weekly trigger, -WhatIf honoured, no password in the task's arguments, and every
parameter it hands to Invoke-EemsCheck.ps1 exists there."""

from __future__ import annotations

import re

import pytest

from .pwsh import INVOKE, REGISTER, help_sections, load


def test_supports_should_process_and_guards_the_registration_with_it() -> None:
    script = load(REGISTER)
    block = script.script_param_block()
    assert block is not None and "SupportsShouldProcess = $true" in script.text(block)
    registrations = script.commands("Register-ScheduledTask")
    assert len(registrations) == 1
    guards = [n for n in script.nodes("if_statement") if "$PSCmdlet.ShouldProcess(" in script.text(n)
              and script.commands("Register-ScheduledTask", n)]
    assert len(guards) == 1
    # Nothing changes the machine outside that guard (New-Item creates the report folder inside it).
    for command in ("New-Item", "Register-ScheduledTask", "Set-ScheduledTask", "Unregister-ScheduledTask"):
        for node in script.commands(command):
            assert guards[0].start_byte <= node.start_byte < guards[0].end_byte, command


def test_weekly_trigger_on_the_chosen_days_and_time() -> None:
    script = load(REGISTER)
    trigger = script.commands("New-ScheduledTaskTrigger")
    assert len(trigger) == 1
    assert {"-Weekly", "-DaysOfWeek", "-At"} <= set(script.command_parameters(trigger[0]))
    parameters = script.script_parameters()
    assert "[System.DayOfWeek[]]" in script.text(parameters["DaysOfWeek"])
    assert "[datetime]" in script.text(parameters["At"])


def test_runs_invoke_eems_check_with_the_config_file() -> None:
    source = REGISTER.read_text()
    assert "-ChildPath 'Invoke-EemsCheck.ps1'" in source
    assert "$taskArguments.Add('-ConfigPath'); $taskArguments.Add($ConfigPath)" in source
    assert "'-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', $ScriptPath" in source
    parameters = load(REGISTER).script_parameters()
    assert "Mandatory = $true" in load(REGISTER).text(parameters["ConfigPath"])


def task_parameters() -> list[str]:
    script = load(REGISTER)
    values = script.string_values()
    return sorted({v for v in values if re.fullmatch(r"-[A-Z][A-Za-z]+", v)} - {
        "-NoProfile", "-NonInteractive", "-ExecutionPolicy", "-File"})


@pytest.mark.parametrize("parameter", task_parameters())
def test_each_parameter_passed_to_the_wrapper_exists_there(parameter: str) -> None:
    assert parameter.lstrip("-") in load(INVOKE).script_parameters()


def test_no_password_in_the_task_arguments() -> None:
    script = load(REGISTER)
    for node in script.nodes("pipeline"):
        text = script.code(node)
        if "$taskArguments" in text or "$argumentString" in text or "New-ScheduledTaskAction" in text:
            assert not re.search(r"(?i)password|GetNetworkCredential", text), text
    converter = script.code(script.function("ConvertTo-TaskArgumentString"))
    assert not re.search(r"(?i)password|credential", converter)
    # The only password is the account's, handed to Register-ScheduledTask for the Task Scheduler to keep.
    uses = [script.code(n) for n in script.nodes("assignment_expression") if "GetNetworkCredential" in script.code(n)]
    assert uses == ["$register['Password'] = $TaskCredential.GetNetworkCredential().Password"]


def test_gmsa_gets_no_password_at_all() -> None:
    source = REGISTER.read_text()
    assert ("New-ScheduledTaskPrincipal -UserId $GroupManagedServiceAccount -LogonType 'Password' -RunLevel 'Limited'"
            in source)
    script = load(REGISTER)
    parameters = script.script_parameters()
    assert "ParameterSetName = 'Gmsa'" in script.text(parameters["GroupManagedServiceAccount"])
    assert "ParameterSetName = 'Credential'" in script.text(parameters["TaskCredential"])


@pytest.mark.parametrize("words", [
    "View-Only Organization Management",
    "RemotePowerShellEnabled",
    "Remote Management Users",
    "local Administrators",
    "/wsman",
    "log on as a batch job",
    "EEMS_CHECK_SMTP_PASSWORD",
    "EEMS_CHECK_PASSWORD",
    "Windows Credential Manager",
    "keyring",
    "-WhatIf",
])
def test_help_explains_rights_and_password_sources(words: str) -> None:
    description = " ".join(help_sections(load(REGISTER).comment_help())["DESCRIPTION"][0].split())
    assert words.lower() in description.lower()


def test_help_shows_a_whatif_example() -> None:
    examples = help_sections(load(REGISTER).comment_help())["EXAMPLE"]
    assert any("-WhatIf" in e for e in examples)
    assert any("-GroupManagedServiceAccount" in e for e in examples)
    assert any("-TaskCredential" in e for e in examples)


def test_whatif_shows_the_exact_command_the_task_runs() -> None:
    script = load(REGISTER)
    guard = next(n for n in script.nodes("if_statement") if "$PSCmdlet.ShouldProcess(" in script.text(n))
    assert "the command: $powershellPath $argumentString" in script.text(guard)
    action = script.commands("New-ScheduledTaskAction")[0]
    assert "-Execute $powershellPath -Argument $argumentString" in script.text(action)


def test_a_per_user_python_is_refused_before_registering() -> None:
    source = REGISTER.read_text()
    check = source.index("is a per-user Python")
    assert source.index("$PSCmdlet.ShouldProcess(") > check
    assert "Split-Path -Path $env:USERPROFILE -Parent" in source


def _scan_discovery_regexes() -> list[str]:
    body = load(REGISTER).code(load(REGISTER).function("Test-ScanDiscovery"))
    return re.findall(r"-match '([^']+)'", body)


def _test_scan_discovery(text: str) -> bool:
    # The function's own loop, replayed over its own regexes (.NET and Python agree on these simple patterns).
    top, scan, key_value, key_list = _scan_discovery_regexes()
    in_scan = False
    for line in text.splitlines():
        if re.search(top, line):
            in_scan = bool(re.search(scan, line))
            continue
        if in_scan and (re.search(key_value, line) or re.search(key_list, line)):
            return True
    return False


@pytest.mark.parametrize(("config", "complete"), [
    ("scan:\n  discovery_server: ex01.contoso.com\nmail:\n  mail_to: a@b.c\n", True),
    ("scan:\n  servers:\n    - ex01.contoso.com\n", True),
    ("scan:  # weekly\n  server: ex01.contoso.com\n", True),
    ("mail:\n  mail_to: a@b.c\n  discovery_server: ex01.contoso.com\n", False),  # wrong section
    ("scan:\n  auth: kerberos\n", False),
    ("mail:\n  mail_to: a@b.c\n", False),  # the config a task could only fail with, every week
])
def test_the_config_must_name_the_discovery_server_when_the_task_does_not(config: str, complete: bool) -> None:
    assert len(_scan_discovery_regexes()) == 4
    assert _test_scan_discovery(config) is complete
    assert "No discovery server: pass -DiscoveryServer" in REGISTER.read_text()
