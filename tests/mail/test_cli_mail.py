"""The mail path as an admin runs it: `eems-check scan|evaluate ... --mail-to` and `eems-check send`, against a
real SMTP server on loopback (aiosmtpd with STARTTLS from a throw-away CA, and AUTH); `scan` against the lab."""

from __future__ import annotations

import email
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from pathlib import Path

import pytest
import yaml

from eems_check.collect.cli_args import PASSWORD_ENV as SCAN_PASSWORD_ENV
from eems_check.lab import LabOrg, load_org

from ..conftest import lab_scan_argv
from .conftest import PASSWORD, ServerFactory

SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"
BASIC_ORG = Path(__file__).parents[1] / "lab" / "fixtures" / "basic.yaml"


def run(
    args: list[str], env_password: str | None, cwd: Path, env_extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("EEMS_CHECK_SMTP_PASSWORD", None)
    if env_password is not None:
        env["EEMS_CHECK_SMTP_PASSWORD"] = env_password
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "eems_check", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def mail_args(server_port: int, ca_file: Path, user: str) -> list[str]:
    return [
        "--mail-to", "ops@contoso.com", "--mail-from", "eems-check@contoso.com", "--smtp-host", "127.0.0.1",
        "--smtp-port", str(server_port), "--smtp-user", user, "--smtp-ca-bundle", str(ca_file),
    ]  # fmt: skip


def test_evaluate_writes_the_reports_then_mails_them(smtp_server: ServerFactory, tmp_path: Path) -> None:
    server = smtp_server("starttls")
    settings = server.settings
    assert settings.ca_bundle is not None and settings.smtp_user is not None
    result = run(
        [
            "evaluate",
            str(SAMPLE),
            "-o",
            str(tmp_path / "out"),
            *mail_args(server.port, settings.ca_bundle, settings.smtp_user),
        ],
        PASSWORD,
        tmp_path,
    )
    assert result.returncode == 1, result.stderr  # findings at error: exit 1, and mailed
    (received,) = server.recorder.messages
    assert received.tls and received.authenticated
    msg = email.message_from_bytes(received.content, policy=policy.default)
    assert msg["Subject"].strip().startswith("[ERROR] Exchange EEMS check")
    names = sorted(part.get_filename() for part in msg.iter_attachments())
    assert [Path(n).suffix for n in names] == [".csv", ".html", ".json"]
    assert PASSWORD not in result.stdout + result.stderr


def test_a_mail_failure_exits_4_after_the_reports_are_written(smtp_server: ServerFactory, tmp_path: Path) -> None:
    server = smtp_server("starttls")
    settings = server.settings
    assert settings.ca_bundle is not None and settings.smtp_user is not None
    result = run(
        [
            "evaluate",
            str(SAMPLE),
            "-o",
            str(tmp_path / "out"),
            *mail_args(server.port, settings.ca_bundle, settings.smtp_user),
        ],
        "wrong-password",
        tmp_path,
    )
    assert result.returncode == 4
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert "wrong-password" not in result.stderr
    assert len(list((tmp_path / "out").glob("eems-report-*.html"))) == 1


def test_send_mails_a_saved_report(smtp_server: ServerFactory, tmp_path: Path) -> None:
    server = smtp_server("starttls")
    settings = server.settings
    assert settings.ca_bundle is not None and settings.smtp_user is not None
    out = tmp_path / "out"
    assert run(["evaluate", str(SAMPLE), "-o", str(out), "--fail-on", "never"], None, tmp_path).returncode == 0
    (saved,) = out.glob("*.json")
    result = run(
        ["send", str(saved), *mail_args(server.port, settings.ca_bundle, settings.smtp_user)], PASSWORD, tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert len(server.recorder.messages) == 1


@pytest.fixture(scope="module")
def basic_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(BASIC_ORG), base_address="127.0.70.1") as lab:
        yield lab


def _config_file(folder: Path, port: int, ca_file: Path, user: str) -> Path:
    """A config file's mail: section carrying every setting (the scheduled-task form, no password)."""
    mail = {"mail_to": ["ops@contoso.com"], "mail_from": "eems-check@contoso.com", "smtp_host": "127.0.0.1",
            "smtp_port": port, "smtp_user": user, "smtp_ca_bundle": str(ca_file), "alerts_only": False}  # fmt: skip
    path = folder / "eems-check.yaml"
    path.write_text(yaml.safe_dump({"mail": mail}), encoding="utf-8")
    return path


# The flags Invoke-EemsCheck.ps1 passes to `scan` (tests/scripts/test_invoke_wrapper.py checks that they exist):
# extra arguments ("{mail}": the recipient, sender, server and login), the variable holding the SMTP password, the
# exit code, whether a mail goes out. The lab's worst severity is ERROR, none is CRITICAL.
SCAN_MAIL_CASES = {
    "flags": (["{mail}"], "EEMS_CHECK_SMTP_PASSWORD", 1, True),
    "alerts-only-nothing-critical": (
        ["{mail}", "--alerts-only", "--fail-on", "critical"],
        "EEMS_CHECK_SMTP_PASSWORD",
        0,
        False,
    ),
    "alerts-only-errors": (
        ["{mail}", "--alerts-only", "--smtp-security", "starttls"],
        "EEMS_CHECK_SMTP_PASSWORD",
        1,
        True,
    ),
    "password-env-flag": (["{mail}", "--smtp-password-env", "EEMS_TEST_SMTP"], "EEMS_TEST_SMTP", 1, True),
    "config-file": (["--config", "{config}"], "EEMS_CHECK_SMTP_PASSWORD", 1, True),
}


@pytest.mark.parametrize(("extra", "variable", "code", "mailed"), SCAN_MAIL_CASES.values(), ids=SCAN_MAIL_CASES.keys())
def test_scan_writes_the_reports_then_mails_them(
    smtp_server: ServerFactory,
    basic_lab: LabOrg,
    tmp_path: Path,
    extra: list[str],
    variable: str,
    code: int,
    mailed: bool,
) -> None:
    server = smtp_server("starttls")
    settings = server.settings
    assert settings.ca_bundle is not None and settings.smtp_user is not None
    mail = mail_args(server.port, settings.ca_bundle, settings.smtp_user)
    config = _config_file(tmp_path, server.port, settings.ca_bundle, settings.smtp_user)
    args = [a for e in extra for a in (mail if e == "{mail}" else [str(config)] if e == "{config}" else [e])]
    env = {SCAN_PASSWORD_ENV: basic_lab.credentials[1], variable: PASSWORD}
    out = tmp_path / "out"
    result = run(["scan", *lab_scan_argv(basic_lab), "--quiet", "-o", str(out), *args], None, tmp_path, env)
    assert result.returncode == code, result.stderr
    assert len(list(out.glob("eems-report-*.html"))) == 1  # written whether mailed or not
    assert len(server.recorder.messages) == int(mailed)
    if mailed:
        msg = email.message_from_bytes(server.recorder.messages[0].content, policy=policy.default)
        assert "(Contoso)" in msg["Subject"]
        (saved,) = [p for p in msg.iter_attachments() if p.get_filename().endswith(".json")]
        names = [s["name"] for s in json.loads(saved.get_content())["inventory"]["servers"]]
        assert names == ["EX01", "EX02", "EDGE01"]
    assert PASSWORD not in result.stdout + result.stderr
