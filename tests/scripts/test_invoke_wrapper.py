"""Invoke-EemsCheck.ps1 against the real CLI: every flag it passes exists, its choices are accepted, the password
never reaches the argument list, the exit code is eems-check's, and -PassThru reads fields the report has."""

from __future__ import annotations

import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from eems_check import cli
from eems_check.collect.cli_args import PASSWORD_ENV

from .conftest import Evaluated
from .pwsh import INVOKE, ROOT, help_sections, load

SMTP_PASSWORD_ENV = "EEMS_CHECK_SMTP_PASSWORD"


@cache
def scan_help() -> str:
    done = subprocess.run([sys.executable, "-m", "eems_check", "scan", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)
    return done.stdout


@cache
def cli_options() -> dict[str, set[str] | None]:
    """Every option of `eems-check scan --help`, with its {choices} when it has them."""
    options: dict[str, set[str] | None] = {}
    for match in re.finditer(r"(?<![\w-])(--?[a-z][a-z0-9-]*)(?: \{([^}]*)\})?", scan_help()):
        flag, choices = match.group(1), match.group(2)
        if choices:
            options[flag] = set(choices.split(","))
        else:
            options.setdefault(flag, None)
    return options


def wrapper_flags() -> list[str]:
    script = load(INVOKE)
    return sorted({v for v in script.string_values() if re.fullmatch(r"--[a-z][a-z0-9-]*", v)})


def validate_set(parameter: str) -> list[str]:
    script = load(INVOKE)
    node = script.script_parameters()[parameter]
    text = script.text(node)
    match = re.search(r"\[ValidateSet\(([^)]*)\)\]", text)
    assert match, f"-{parameter} has no ValidateSet"
    return re.findall(r"'([^']+)'", match.group(1))


def test_the_wrapper_passes_flags_at_all() -> None:
    flags = wrapper_flags()
    assert {"--discovery-server", "--server", "--auth", "--username", "--output-dir", "--fail-on"} <= set(flags)
    assert "--password" not in flags and "--password-env" not in flags


@pytest.mark.parametrize("flag", wrapper_flags())
def test_each_flag_the_wrapper_passes_exists_in_eems_check_scan(flag: str) -> None:
    assert flag in cli_options(), f"Invoke-EemsCheck.ps1 passes {flag}, which `eems-check scan` does not know"


@pytest.mark.parametrize(("parameter", "flag"), [
    ("Authentication", "--auth"),
    ("FailOn", "--fail-on"),
    ("SmtpSecurity", "--smtp-security"),
])
def test_each_validateset_value_lowercased_is_a_choice_of_the_cli(parameter: str, flag: str) -> None:
    choices = cli_options()[flag]
    assert choices, f"{flag} has no choices in --help"
    assert sorted({v.lower() for v in validate_set(parameter)} - choices) == []


def test_password_variable_names_match_the_cli() -> None:
    source = INVOKE.read_text()
    assert f"'{PASSWORD_ENV}'" in source and f"'{SMTP_PASSWORD_ENV}'" in source
    # the wrapper relies on the default of --smtp-password-env and never passes the flag
    match = re.search(r"--smtp-password-env VAR\s+(.*?)(?=\n  -|\Z)", scan_help(), re.DOTALL)
    assert match, "`eems-check scan --help` has no --smtp-password-env"
    assert SMTP_PASSWORD_ENV in match.group(1)


# --- the password never reaches the argument list --------------------------------------------------------------

def test_argument_building_never_touches_a_password() -> None:
    script = load(INVOKE)
    for name in ("New-ScanArgumentList", "Add-NativeArgument"):
        text = script.code(script.function(name))
        assert "GetNetworkCredential" not in text
        assert not re.search(r"(?i)password", text), f"{name} mentions a password"


def test_get_network_credential_is_only_ever_handed_to_set_environment_variable() -> None:
    script = load(INVOKE)
    calls = [n for n in script.nodes("invocation_expression") if "GetNetworkCredential" in script.text(n)
             and script.text(n).startswith("[System.Environment]::SetEnvironmentVariable")]
    every = [n for n in script.nodes("member_name") if script.text(n) == "GetNetworkCredential"]
    assert len(every) == 1 and len(calls) == 1
    assert calls[0].start_byte <= every[0].start_byte < calls[0].end_byte
    # ...and the function holding it writes to the environment only, returning no value derived from it.
    setter = script.text(script.function("Set-ChildPassword"))
    assert re.search(r"'Process'\)", setter) and "return $true" in setter


def test_no_variable_ever_holds_the_plain_password() -> None:
    script = load(INVOKE)
    for assignment in script.nodes("assignment_expression"):
        text = script.text(assignment)
        assert "GetNetworkCredential" not in text and ".Password" not in text, text


def test_both_password_variables_are_set_for_the_child_and_removed_in_finally() -> None:
    script = load(INVOKE)
    sets = [script.text(c) for c in script.commands("Set-ChildPassword")]
    assert any("$PasswordVariable" in s and "$Credential" in s for s in sets)
    assert any("$SmtpPasswordVariable" in s and "$SmtpCredential" in s for s in sets)
    source = script.source.decode()
    assert f"$PasswordVariable = '{PASSWORD_ENV}'" in source
    assert f"$SmtpPasswordVariable = '{SMTP_PASSWORD_ENV}'" in source
    tries = [t for t in script.nodes("try_statement") if script.commands("Set-ChildPassword", t)]
    assert len(tries) == 1, "the passwords must be set inside the try whose finally removes them"
    final = next(c for c in tries[0].children if c.type == "finally_clause")
    removed = {script.string_values(c)[0] for c in script.commands("Remove-Item", final)}
    assert removed == {f"Env:{PASSWORD_ENV}", f"Env:{SMTP_PASSWORD_ENV}"}
    # The python call happens inside that same try, after the variables are set.
    native = [n for n in script.nodes("command", tries[0]) if script.text(n).startswith("& $python.Path")]
    assert native and native[0].start_byte > max(c.start_byte for c in script.commands("Set-ChildPassword"))


def test_python_is_called_with_the_built_array_splatted_not_a_command_line() -> None:
    script = load(INVOKE)
    source = script.source.decode()
    native = [script.text(n) for n in script.nodes("command") if script.text(n).startswith("&")]
    assert "& $python.Path @commandArguments" in [n.split(" |")[0].strip() for n in native]
    assert "$scanArguments = New-ScanArgumentList" in source
    assert re.search(r"\$commandArguments = \[string\[\]\]\(@\(\$python\.Prefix\) \+ @\('-m', 'eems_check'\) "
                     r"\+ @\(\$scanArguments\)\)", source)
    assert "Invoke-Expression" not in source and "Start-Process" not in source
    assert "cmd.exe" not in source.lower() and "cmd /c" not in source.lower()


# --- exit code, help, python discovery -------------------------------------------------------------------------

def test_exit_code_is_eems_checks_own() -> None:
    source = INVOKE.read_text()
    assert "$exitCode = $LASTEXITCODE" in source
    assert source.rstrip().endswith("exit $exitCode")
    assert "$PSNativeCommandUseErrorActionPreference = $false" in source


@pytest.mark.parametrize(("code", "words"), [
    (cli.EXIT_OK, "Nothing at or above -FailOn"),
    (cli.EXIT_FINDINGS, "At least one server has a finding"),
    (cli.EXIT_USAGE, "Bad usage or input"),
    (cli.EXIT_RUN, "The run itself failed"),
    (4, "The report was written but could not be mailed"),
])
def test_help_documents_each_exit_code(code: int, words: str) -> None:
    description = help_sections(load(INVOKE).comment_help())["DESCRIPTION"][0]
    assert re.search(rf"^\s+{code}\s+{re.escape(words)}", description, re.MULTILINE)


def test_help_has_a_scheduled_task_style_example() -> None:
    examples = help_sections(load(INVOKE).comment_help())["EXAMPLE"]
    assert any("powershell.exe -NoProfile -NonInteractive" in e and "-File" in e for e in examples)
    assert any("-PassThru" in e for e in examples)


def test_missing_python_or_package_stops_with_install_instructions() -> None:
    script = load(INVOKE)
    text = script.text(script.function("Find-EemsCheckPython"))
    source = script.source.decode()
    assert "py -3 -m pip install eems-check" in source and "py -3 -m pip install ." in source
    assert "$InstallHint" in text and "throw" in text
    # Candidates in order: the py launcher with -3, then python, then python3.
    assert "@('py', 'python', 'python3')" in text and "@('-3')" in text
    assert "import eems_check" in text
    assert "exit $ExitRunFailed" in source and "$ExitRunFailed = 3" in source


def test_the_import_probe_is_python_that_runs(tmp_path: Path) -> None:
    probe = re.search(r"\$probe = '([^']*)'", INVOKE.read_text())
    assert probe
    done = subprocess.run([sys.executable, "-c", probe.group(1)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == __import__("eems_check").__version__
    assert '"' not in probe.group(1), "Windows PowerShell 5.1 would mangle a double quote in a native argument"


# --- -PassThru reads what the JSON report really holds -----------------------------------------------------------

@pytest.fixture(scope="module")
def report(evaluated: dict[str, Evaluated]) -> tuple[dict, str]:
    result = evaluated["ps51-utf8bom-org.json"]
    return result.report, result.stdout


def _keys(value: object) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_passthru_reads_only_fields_the_report_has(report: tuple[dict, str]) -> None:
    script = load(INVOKE)
    function = script.function("ConvertFrom-EemsReport")
    read = {script.string_values(c)[-1] for c in script.commands("Get-BagValue", function)}
    read |= {script.text(m) for m in script.nodes("member_name", function) if re.fullmatch(r"[a-z_]+", script.text(m))}
    assert {"results", "inventory", "eems_state", "findings", "overview_rules", "worst"} <= read
    assert sorted(read - _keys(report[0])) == []
    assert "'eems-check/report'" in script.text(function) and report[0]["schema"] == "eems-check/report"


def test_passthru_objects_carry_the_promised_properties(report: tuple[dict, str]) -> None:
    script = load(INVOKE)
    keys = script.hash_keys(script.function("ConvertFrom-EemsReport"))
    assert {"Server", "Site", "Version", "Build", "EemsState", "WorstSeverity", "Problems"} <= keys
    # One property per overview rule, named after its label without spaces: the three the report has today.
    labels = [r["label"] for r in report[0]["run"]["overview_rules"]]
    assert [re.sub(r"[^A-Za-z0-9]", "", label) for label in labels] == ["EEMSMar2023", "EEMSJun2026", "Support"]


def test_passthru_finds_the_report_line_the_cli_prints(report: tuple[dict, str]) -> None:
    pattern = re.search(r"-match '(\^JSON report: [^']+)'", INVOKE.read_text())
    assert pattern
    lines = [line for line in report[1].splitlines() if re.match(pattern.group(1), line)]
    assert len(lines) == 1 and Path(re.match(pattern.group(1), lines[0]).group(1).strip()).is_file()
