"""Mail settings from flags and the config file: merging, one-line errors with lines, alerts-only."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.errors import InputError
from eems_check.mail.settings import (
    MailSettings,
    SmtpSecurity,
    add_mail_arguments,
    mail_settings_from_args,
    should_send,
)
from eems_check.model import Severity

from .conftest import MAIL_FIXTURES, make_report, make_server

CONFIG = MAIL_FIXTURES / "config"
BASE = ["--mail-to", "ops@contoso.com", "--mail-from", "eems-check@contoso.com", "--smtp-host", "smtp.contoso.com"]


class Parser(argparse.ArgumentParser):
    """Like the CLI's parser: usage errors raise instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise InputError(f"{self.prog}: {message}")


def settings(argv: list[str], environ: dict[str, str] | None = None) -> MailSettings | None:
    parser = Parser(prog="eems-check")
    add_mail_arguments(parser)
    return mail_settings_from_args(parser.parse_args(argv), environ or {})


def test_flags_give_settings_with_defaults_and_the_password_from_the_environment() -> None:
    s = settings(
        [*BASE, "--mail-to", "noc@contoso.com,Exchange Admins <ex@contoso.com>"], {"EEMS_CHECK_SMTP_PASSWORD": "pw-1"}
    )
    assert s is not None
    assert s.mail_to == ("ops@contoso.com", "noc@contoso.com", "Exchange Admins <ex@contoso.com>")
    assert s.recipients == ("ops@contoso.com", "noc@contoso.com", "ex@contoso.com")
    assert (s.security, s.port, s.timeout, s.alerts_only, s.smtp_user) == (
        SmtpSecurity.STARTTLS,
        587,
        30.0,
        False,
        None,
    )
    assert s.password == "pw-1" and "pw-1" not in repr(s)


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("tls", 465), ("none", 25)])
def test_default_port_follows_the_security_mode(security: str, port: int) -> None:
    s = settings([*BASE, "--smtp-security", security])
    assert s is not None and s.port == port


def test_no_recipient_and_no_config_means_no_mail() -> None:
    assert settings([]) is None
    assert settings(["--config", str(CONFIG / "no-mail-section.yaml")]) is None


def test_config_file_gives_every_setting() -> None:
    s = settings(["--config", str(CONFIG / "good.yaml")], {"EEMS_SMTP_SECRET": "from-env"})
    assert s == MailSettings(
        mail_to=("ops@contoso.com", "Exchange Admins <exadmins@contoso.com>"),
        mail_from="EEMS check <eems-check@contoso.com>",
        smtp_host="smtp.contoso.com",
        smtp_port=587,
        security=SmtpSecurity.STARTTLS,
        smtp_user="svc-eems@contoso.com",
        password_env="EEMS_SMTP_SECRET",
        reply_to="exchange-team@contoso.com",
        ca_bundle=CONFIG / "contoso-root.pem",  # relative to the config file, not the working folder
        timeout=20.0,
        alerts_only=True,
        list_limit=25,
        max_attachment_bytes=5 * 1024 * 1024,
    )
    assert s is not None and s.password == "from-env"


def test_flags_override_the_config_file() -> None:
    s = settings(
        [
            "--config",
            str(CONFIG / "good.yaml"),
            "--mail-to",
            "noc@contoso.com",
            "--smtp-port",
            "2525",
            "--no-alerts-only",
        ]
    )
    assert s is not None
    assert s.mail_to == ("noc@contoso.com",)  # replaces the config's list
    assert (s.smtp_port, s.alerts_only, s.smtp_host) == (2525, False, "smtp.contoso.com")


def test_config_keys_may_be_spelt_like_the_flags() -> None:
    s = settings(["--config", str(CONFIG / "dashed-keys.yaml")])
    assert s is not None
    assert (s.mail_to, s.security, s.port) == (("ops@contoso.com", "noc@contoso.com"), SmtpSecurity.NONE, 25)


CONFIG_CASES = yaml.safe_load((MAIL_FIXTURES / "config-cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c["file"] for c in CONFIG_CASES])
def test_config_errors_name_file_and_line(case: dict[str, Any]) -> None:
    path = CONFIG / case["file"]
    with pytest.raises(InputError) as caught:
        settings(["--config", str(path)])
    message = str(caught.value)
    assert message.startswith(f"{path}{case['error']}"), message
    assert "\n" not in message and "Summer2026!" not in message


FLAG_CASES = [
    ("bad port", [*BASE, "--smtp-port", "smtp"], "--smtp-port: must be a port number from 1 to 65535, not 'smtp'"),
    ("bad address", [*BASE, "--mail-to", "ops at contoso"], "--mail-to: not an e-mail address: 'ops at contoso'"),
    ("header injection", [*BASE, "--mail-from", "a@contoso.com\nBcc: x@evil.org"], "--mail-from: must be one line"),
    ("bad security", [*BASE, "--smtp-security", "ssl"], "argument --smtp-security: invalid choice: 'ssl'"),
    ("missing host", BASE[:4], "--mail-to: mail needs --smtp-host (or smtp_host in the config file)"),
    (
        "options without recipient",
        ["--smtp-host", "x.contoso.com"],
        "mail settings given (--smtp-host) but no recipient",
    ),
    (
        "AUTH in clear text",
        [*BASE, "--smtp-security", "none", "--smtp-user", "svc"],
        "--smtp-user: SMTP AUTH with smtp_security none would send the password in clear text",
    ),
    (
        "no such CA bundle",
        [*BASE, "--smtp-ca-bundle", "/no/such/ca.pem"],
        "--smtp-ca-bundle: no such file: /no/such/ca.pem",
    ),
    ("bad timeout", [*BASE, "--smtp-timeout", "0"], "--smtp-timeout: must be seconds from 0.1 to 3600, not '0'"),
]


@pytest.mark.parametrize(("name", "argv", "error"), FLAG_CASES, ids=[c[0] for c in FLAG_CASES])
def test_flag_errors_name_the_flag(name: str, argv: list[str], error: str) -> None:
    with pytest.raises(InputError) as caught:
        settings(argv)
    assert error in str(caught.value)


@pytest.mark.parametrize(
    "argv",
    [
        [*BASE, "--smtp-password", "Hunter2-Secret"],
        [*BASE, "--smtp-password=Hunter2-Secret"],
        [*BASE, "--smtp-password-env", "Hunter2-Secret!"],
    ],
    ids=["--smtp-password VALUE", "--smtp-password=VALUE", "a password given as the variable name"],
)
def test_a_password_on_the_command_line_is_refused_without_echoing_it(argv: list[str]) -> None:
    with pytest.raises(InputError) as caught:
        settings(argv)
    assert "Hunter2-Secret" not in str(caught.value)


ALERT_CASES = [
    # alerts_only, the servers' worst severities, --fail-on (None: never), whether a mail goes out
    (False, ["ok"], Severity.ERROR, True),
    (True, ["ok", "info"], Severity.ERROR, False),
    (True, ["ok", "warning"], Severity.ERROR, False),
    (True, ["ok", "error"], Severity.ERROR, True),
    (True, ["warning"], Severity.WARNING, True),
    (True, ["error"], Severity.CRITICAL, False),
    (True, ["warning"], None, True),  # --fail-on never: alerts-only still mails what needs attention
    (True, ["info"], None, False),
]


@pytest.mark.parametrize(("alerts_only", "worsts", "fail_on", "send"), ALERT_CASES)
def test_alerts_only_mails_only_what_reaches_the_threshold(
    alerts_only: bool, worsts: list[str], fail_on: Severity | None, send: bool
) -> None:
    specs = {
        "ok": {},
        "info": {},
        "warning": {"PRODUCT-SUPPORT": "fail/warning"},
        "error": {"PRODUCT-SUPPORT": "fail/error"},
    }
    servers = [
        make_server(f"EX{i}", specs[w], extra=("EDGE-SERVER=fail/info",) if w == "info" else ())
        for i, w in enumerate(worsts)
    ]
    s = MailSettings(mail_to=("ops@contoso.com",), mail_from="e@contoso.com", smtp_host="h", alerts_only=alerts_only)
    assert should_send(make_report(servers), s, fail_on) is send


def test_the_config_path_may_be_a_path_object(tmp_path: Path) -> None:
    cfg = tmp_path / "eems.yaml"
    cfg.write_text("mail:\n  mail_to: ops@contoso.com\n  mail_from: e@contoso.com\n  smtp_host: h.contoso.com\n")
    ns = argparse.Namespace(config=cfg)
    s = mail_settings_from_args(ns, {})
    assert s is not None and s.smtp_host == "h.contoso.com"
