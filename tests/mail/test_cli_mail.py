"""The mail path as an admin runs it: `eems-check evaluate ... --mail-to` and `eems-check send`, against a real
SMTP server on loopback (aiosmtpd with STARTTLS from a throw-away CA, and AUTH)."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from email import policy
from pathlib import Path

from .conftest import PASSWORD, ServerFactory

SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"


def run(args: list[str], env_password: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if env_password is not None:
        env["EEMS_CHECK_SMTP_PASSWORD"] = env_password
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
