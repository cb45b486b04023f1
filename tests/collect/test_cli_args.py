"""Scan flags become `ScanOptions`; the password never comes from argv and never shows; progress on a TTY."""

from __future__ import annotations

import argparse
import io
from collections.abc import Mapping
from pathlib import Path

import pytest

from eems_check.collect import ProgressPrinter, ScanOptions, add_scan_arguments, cli_args, options, options_from_args
from eems_check.errors import InputError

SECRET = "Sup3r-S3cret!"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eems-check scan", exit_on_error=False)
    add_scan_arguments(parser)
    return parser


def _options(argv: list[str], environ: Mapping[str, str] | None = None, tty: bool = False) -> ScanOptions:
    stdin = _Tty() if tty else io.StringIO()
    return options_from_args(_parser().parse_args(argv), environ or {}, stdin)


def test_flags_become_options(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"  # --ca-bundle must name a regular file
    ca.write_text("-----BEGIN CERTIFICATE-----\n", encoding="ascii")
    opts = _options(["--discovery-server", "ex01.contoso.lab", "--server", "EX01", "--server", "EX02",
                     "--site", "Amsterdam", "--role", "Mailbox", "--auth", "ntlm", "--username", "CONTOSO\\scan",
                     "--https", "--exchange-port", "8443", "--ca-bundle", str(ca), "--parallel", "4",
                     "--connect-timeout", "3", "--operation-timeout", "15", "--server-timeout", "60",
                     "--probe-ocs", "--get-mitigations", "--max-events", "5", "--event-days", "7",
                     "--max-log-lines", "9", "--resolve", "EX01.contoso.lab=127.0.10.1"],
                    {"EEMS_CHECK_PASSWORD": SECRET})
    assert (opts.discovery, opts.servers, opts.sites, opts.roles) == (
        "ex01.contoso.lab", ("EX01", "EX02"), ("Amsterdam",), ("Mailbox",))
    assert (opts.auth, opts.username, opts.password) == ("ntlm", "CONTOSO\\scan", SECRET)
    assert opts.exchange_target("EX01.contoso.lab") .__dict__ == {
        "name": "EX01.contoso.lab", "address": "127.0.10.1", "port": 8443, "https": True}
    assert opts.wsman_target("ex02.contoso.lab").port == 5986
    assert (opts.parallel, opts.connect_timeout, opts.operation_timeout, opts.server_timeout) == (4, 3.0, 15, 60.0)
    assert (opts.probe_ocs, opts.run_get_mitigations) == (True, True)
    assert (opts.bounds.max_events, opts.bounds.event_days, opts.bounds.max_log_lines) == (5, 7, 9)
    assert opts.credentials().cert_validation == str(ca)
    assert opts.credentials(delegate=True).delegate is False  # NTLM cannot delegate


def test_defaults_suit_a_kerberos_admin_workstation() -> None:
    opts = _options(["--discovery-server", "ex01.contoso.lab"])
    assert (opts.auth, opts.username, opts.password, opts.parallel) == ("kerberos", None, None, 48)
    assert opts.exchange_target("ex01.contoso.lab").port == 80
    assert opts.wsman_target("ex01.contoso.lab").port == 5985
    assert opts.credentials().cert_validation is True
    assert opts.credentials(delegate=True).delegate is True


def test_there_is_no_password_flag() -> None:
    with pytest.raises(argparse.ArgumentError) as info:
        _parser().parse_args(["--server", "ex01", "--password", SECRET])
    assert "no --password flag" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("flag", ["--pass", "--passw", "--password="])
def test_no_abbreviation_smuggles_a_password_in(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises((SystemExit, argparse.ArgumentError)) as info:
        _parser().parse_args(["--server", "ex01", *([flag + SECRET] if flag.endswith("=") else [flag, SECRET])])
    assert SECRET not in str(info.value) + capsys.readouterr().err


def test_password_comes_from_the_named_environment_variable() -> None:
    opts = _options(["--server", "ex01", "--username", "u@contoso.lab", "--password-env", "MY_PW"],
                    {"MY_PW": SECRET, "EEMS_CHECK_PASSWORD": "other"})
    assert opts.password == SECRET


def test_password_is_prompted_on_a_tty(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_args.getpass, "getpass", lambda prompt: SECRET)
    assert _options(["--server", "ex01", "--username", "u@contoso.lab"], tty=True).password == SECRET


def test_no_password_and_no_tty_is_a_clear_input_error() -> None:
    with pytest.raises(InputError, match="set EEMS_CHECK_PASSWORD") as info:
        _options(["--server", "ex01", "--username", "u@contoso.lab"])
    assert SECRET not in str(info.value)


def test_password_never_shows_in_options_repr() -> None:
    opts = _options(["--server", "ex01", "--username", "u@contoso.lab", "--auth", "ntlm"],
                    {"EEMS_CHECK_PASSWORD": SECRET})
    assert SECRET not in repr(opts) and SECRET not in str(opts) and SECRET not in repr(opts.credentials())


@pytest.mark.parametrize(("argv", "message"), [
    (["--server", "ex01", "--auth", "basic", "--username", "u"], "only with --https"),
    (["--auth", "ntlm", "--username", "u"], "--discovery-server or --server"),
    (["--server", "ex01", "--parallel", "0"], "--parallel"),
    (["--server", "ex01", "--server-timeout", "0"], "timeouts"),
    (["--server", "ex01", "--max-events", "-1"], "cannot be negative"),
    (["--server", "ex01", "--auth", "ntlm"], "needs --username"),
])
def test_unsafe_or_incomplete_options_are_input_errors(argv: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _options(argv, {"EEMS_CHECK_PASSWORD": SECRET})


def test_credssp_without_its_package_is_an_input_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(options.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(InputError, match="requests-credssp"):
        _options(["--server", "ex01", "--auth", "credssp", "--username", "u"], {"EEMS_CHECK_PASSWORD": SECRET})


def test_resolve_needs_fqdn_equals_address() -> None:
    with pytest.raises((SystemExit, argparse.ArgumentError)):
        _parser().parse_args(["--resolve", "ex01.contoso.lab"])


def test_progress_printer_rewrites_one_line_on_a_tty() -> None:
    stream = _Tty()
    printer = ProgressPrinter(stream)
    printer(0, 0, 2)
    printer(1, 1, 2)
    printer(2, 1, 2)
    assert stream.getvalue() == ("\rscanned 0/2 servers, 0 failed\rscanned 1/2 servers, 1 failed"
                                 "\rscanned 2/2 servers, 1 failed\n")


def test_progress_printer_is_silent_when_not_a_tty() -> None:
    stream = io.StringIO()
    ProgressPrinter(stream)(1, 0, 1)
    assert stream.getvalue() == ""
