"""`eems-check scan --config FILE` takes a `scan:` section beside `mail:`: a scheduled task's whole command line in one
file, flags winning, every error naming file, line and key. Config files are data (tests/fixtures/config)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from eems_check.cli import FAIL_ON, build_parser
from eems_check.collect.remoting import AUTH_METHODS
from eems_check.errors import InputError
from eems_check.mail import mail_settings_from_args
from eems_check.scan_config import apply_scan_config

CONFIGS = Path(__file__).parent / "fixtures" / "config"
CHOICES = {"auth": AUTH_METHODS, "fail_on": (*FAIL_ON, "never")}


def _args(*argv: str) -> Any:
    args = build_parser().parse_args(["scan", *argv])
    apply_scan_config(args, args.default_of, CHOICES)
    return args


def test_a_scan_section_fills_the_scan_and_the_mail_section_still_counts() -> None:
    path = CONFIGS / "scheduled.yaml"
    args = _args("--config", str(path))
    assert (args.discovery_server, args.server, args.site) == (
        "ex01.contoso.com", ["ex01.contoso.com", "ex02.contoso.com"], ["Amsterdam"])
    assert (args.auth, args.probe_ocs, args.get_mitigations, args.fail_on) == ("kerberos", True, False, "warning")
    assert args.output_dir == (CONFIGS / "reports").resolve()  # relative to the file, not the working folder
    mail = mail_settings_from_args(args, os.environ)
    assert mail is not None and mail.smtp_host == "smtp.contoso.com"


def test_flags_win_over_the_file() -> None:
    args = _args("--config", str(CONFIGS / "scheduled.yaml"), "--auth", "ntlm", "--fail-on", "critical",
                 "--server", "ex09.contoso.com")
    assert (args.auth, args.fail_on, args.server) == ("ntlm", "critical", ["ex09.contoso.com"])
    assert args.discovery_server == "ex01.contoso.com"


@pytest.mark.parametrize(("name", "message"), [
    ("typo.yaml", "typo.yaml:3: scan.discovery_sever: unknown setting (did you mean discovery_server?)"),
    ("bad_auth.yaml", "bad_auth.yaml:3: scan.auth: must be one of kerberos, negotiate, ntlm, credssp, basic"),
    ("password.yaml", "password.yaml:3: scan.password: a password does not belong in a file"),
    ("bad_list_item.yaml", "bad_list_item.yaml:4: scan.servers[1]: must be a non-empty text, not 42"),
    ("unknown_section.yaml", "unknown_section.yaml:1: unknown section 'scna' (known: mail, scan)"),
])
def test_a_bad_config_is_one_line_naming_file_line_and_key(name: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        _args("--config", str(CONFIGS / name))
    assert message in str(caught.value)
    assert "Summer2026!" not in str(caught.value)
