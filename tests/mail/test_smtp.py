"""Sending over a real SMTP server on loopback: the verifying TLS paths, AUTH, every failure as one line."""

from __future__ import annotations

import base64
import dataclasses
import email
import logging
import sys
import types
from email import policy
from email.message import EmailMessage
from typing import Any

import pytest

from eems_check.errors import MailError
from eems_check.mail.settings import SmtpSecurity
from eems_check.mail.smtp import send

from .conftest import MAIL_FIXTURES, PASSWORD, USER, Recorder, ServerFactory, free_port, settings_for

# aiosmtpd warns about AUTH without STARTTLS on the implicit-TLS server, whose whole session is TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = "[OK] Exchange EEMS check (Contoso): all 3 servers can receive mitigations"
    msg["From"] = "eems-check@contoso.com"
    msg["To"] = "ops@contoso.com"
    msg.set_content("ok")
    return msg


SECRETS = (
    PASSWORD,
    base64.b64encode(PASSWORD.encode()).decode(),
    base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
)


def assert_one_line_without_secrets(exc: MailError, extra: tuple[str, ...] = ()) -> None:
    text = str(exc)
    assert "\n" not in text and "\r" not in text and text.strip() == text
    for secret in SECRETS + extra:
        assert secret not in text
    assert exc.exit_code == 4


DELIVERY_CASES = [
    # name, server mode, AUTH mechanisms the server leaves out, whether TLS and AUTH are expected, mechanism used
    ("STARTTLS with AUTH PLAIN", "starttls", (), True, "PLAIN"),
    ("STARTTLS with AUTH LOGIN only", "starttls", ("PLAIN",), True, "LOGIN"),
    ("implicit TLS with AUTH", "tls", (), True, "PLAIN"),
    ("clear-text internal relay without AUTH", "none", None, False, None),
]


@pytest.mark.parametrize(
    ("name", "mode", "exclude", "secure", "mechanism"), DELIVERY_CASES, ids=[c[0] for c in DELIVERY_CASES]
)
def test_delivers_over_each_security_mode(
    smtp_server: ServerFactory,
    name: str,
    mode: str,
    exclude: tuple[str, ...] | None,
    secure: bool,
    mechanism: str | None,
) -> None:
    server = smtp_server(mode, auth=exclude is not None, exclude=exclude or ())
    result = send(message(), server.settings)
    assert result.accepted == ("ops@contoso.com", "exadmins@contoso.com") and result.attempts == 1
    [got] = server.recorder.messages
    assert got.rcpt_tos == ["ops@contoso.com", "exadmins@contoso.com"]
    assert got.mail_from == "eems-check@contoso.com"
    parsed = email.message_from_bytes(got.content, policy=policy.default)
    assert parsed["Subject"].strip().startswith("[OK] Exchange EEMS check")
    assert got.authenticated is (mechanism is not None)
    if mode == "starttls":
        assert got.tls  # the session was upgraded before MAIL FROM
    if mode == "none":
        assert not got.tls
    if mechanism:
        assert server.recorder.auth == [(mechanism, True)]


FAILURES: list[tuple[str, dict[str, Any], dict[str, Any], str]] = [
    # name, server options, client overrides, what the one-line error says
    (
        "wrong password",
        {},
        {"password": "Wr0ng-Secret-Value"},
        "127.0.0.1:{port} rejected the login of SMTP user 'svc-eems@contoso.com': "
        "535 5.7.8 Authentication credentials invalid",
    ),
    (
        "server without STARTTLS: fail closed",
        {"mode": "none", "auth": False},
        {"security": SmtpSecurity.STARTTLS, "smtp_user": None, "password": None},
        "127.0.0.1:{port} does not offer STARTTLS; not sending in clear text",
    ),
    (
        "server certificate from an untrusted CA",
        {},
        {"ca_bundle": "other"},
        "the TLS certificate of 127.0.0.1:{port} is not trusted (unable to get local issuer certificate); give the CA",
    ),
    (
        "server certificate for another name",
        {"cert": "wrong_name"},
        {},
        "the TLS certificate of 127.0.0.1:{port} is not trusted (IP address mismatch, certificate is not valid for "
        "'127.0.0.1'.); give the CA that issued it with --smtp-ca-bundle, and use the name the certificate is issued "
        "for as --smtp-host",
    ),
    (
        "implicit TLS with an untrusted certificate",
        {"mode": "tls"},
        {"ca_bundle": "other"},
        "the TLS certificate of 127.0.0.1:{port} is not trusted",
    ),
    (
        "implicit TLS against a STARTTLS port",
        {},
        {"security": SmtpSecurity.TLS},
        "TLS with 127.0.0.1:{port} failed during connect: WRONG_VERSION_NUMBER",
    ),
    (
        "CA bundle that is not PEM",
        {},
        {"ca_bundle": "not-pem"},
        "{ca}: cannot load the SMTP CA bundle: ",
    ),
    (
        "server offering no AUTH",
        {"auth": False},
        {"smtp_user": USER, "password": PASSWORD},
        "127.0.0.1:{port} does not offer SMTP AUTH after STARTTLS",
    ),
    (
        "every recipient refused",
        {
            "refuse": {
                "ops@contoso.com": "550 5.1.1 <ops@contoso.com>: user unknown",
                "exadmins@contoso.com": "550 5.1.1 <exadmins@contoso.com>: user unknown",
            }
        },
        {},
        "127.0.0.1:{port} refused recipient(s) ops@contoso.com (550 5.1.1 <ops@contoso.com>: user unknown), "
        "exadmins@contoso.com (550 5.1.1 <exadmins@contoso.com>: user unknown); nobody got the report",
    ),
    (
        "one recipient refused",
        {"refuse": {"exadmins@contoso.com": "550 5.1.1 <exadmins@contoso.com>: user unknown"}},
        {},
        "127.0.0.1:{port} refused recipient(s) exadmins@contoso.com (550 5.1.1 <exadmins@contoso.com>: user unknown); "
        "delivered to ops@contoso.com",
    ),
    (
        "message refused permanently (not retried)",
        {"data_replies": ["554 5.6.0 message rejected by policy"]},
        {},
        "127.0.0.1:{port} refused the message: 554 5.6.0 message rejected by policy",
    ),
    (
        "transient failure twice",
        {"data_replies": ["451 4.3.0 queue full", "451 4.3.0 queue full"]},
        {},
        "127.0.0.1:{port} refused the message: 451 4.3.0 queue full (after one retry)",
    ),
]


@pytest.mark.parametrize(("name", "server_opts", "client", "expected"), FAILURES, ids=[c[0] for c in FAILURES])
def test_each_failure_is_one_line_without_the_password(
    smtp_server: ServerFactory, tls: Any, name: str, server_opts: dict[str, Any], client: dict[str, Any], expected: str
) -> None:
    opts = dict(server_opts)
    recorder = Recorder(refuse=opts.pop("refuse", {}), data_replies=list(opts.pop("data_replies", [])))
    if opts.get("cert") == "wrong_name":
        opts["cert"] = tls.wrong_name
    overrides = dict(client)
    if overrides.get("ca_bundle") == "other":
        overrides["ca_bundle"] = tls.other_ca_file
    if overrides.get("ca_bundle") == "not-pem":
        overrides["ca_bundle"] = MAIL_FIXTURES / "config" / "contoso-root.pem"
    server = smtp_server(opts.pop("mode", "starttls"), recorder=recorder, **opts, **overrides)
    with pytest.raises(MailError) as caught:
        send(message(), server.settings)
    assert str(caught.value).startswith(expected.format(port=server.port, ca=server.settings.ca_bundle)), str(
        caught.value
    )
    assert_one_line_without_secrets(caught.value, ("Wr0ng-Secret-Value",))
    if "delivered to" not in expected:
        assert server.recorder.messages == []


RAW_FAILURES = [
    # name, what the fake server does, client overrides, error
    ("connection refused", None, {}, "cannot connect to 127.0.0.1:{port}: connection refused"),
    ("server never answers", [("sleep", 3)], {}, "no answer from 127.0.0.1:{port} within 1 s during connect"),
    (
        "server hangs up after EHLO",
        [("send", b"220 fake ESMTP\r\n"), ("recv",)],
        {"security": SmtpSecurity.STARTTLS},
        "127.0.0.1:{port} closed the connection during EHLO; nothing was sent",
    ),
    (
        "server hangs up during DATA",
        [
            ("send", b"220 fake ESMTP\r\n"),
            ("recv",),
            ("send", b"250 fake\r\n"),
            ("recv",),
            ("send", b"250 OK\r\n"),
            ("recv",),
            ("send", b"250 OK\r\n"),
            ("recv",),
            ("send", b"354 go ahead\r\n"),
            ("recv_data",),
        ],
        {},
        "127.0.0.1:{port} closed the connection while the message was being sent; it may not have arrived",
    ),
    (
        "server greets with 421 twice",
        [("send", b"421 4.3.2 too busy, try later\r\n")],
        {},
        "127.0.0.1:{port} answered 421 4.3.2 too busy, try later during connect (after one retry)",
    ),
]


@pytest.mark.parametrize(("name", "script", "client", "expected"), RAW_FAILURES, ids=[c[0] for c in RAW_FAILURES])
def test_network_failures_are_one_line(
    scripted: Any, name: str, script: list[tuple[Any, ...]] | None, client: dict[str, Any], expected: str
) -> None:
    server = scripted(script) if script is not None else None
    port = server.port if server else free_port()  # connection refused: nothing listens there
    with pytest.raises(MailError) as caught:
        send(message(), settings_for(port, **client))
    assert str(caught.value).startswith(expected.format(port=port)), str(caught.value)
    assert_one_line_without_secrets(caught.value)
    if server and "421" in name:
        assert server.connections == 2  # retried once, in a new session
    elif server:
        assert server.connections == 1  # a timeout or a hang-up is never retried: it may have been delivered


def test_a_transient_failure_is_retried_once(smtp_server: ServerFactory) -> None:
    server = smtp_server(recorder=Recorder(data_replies=["451 4.3.0 queue full, try again"]))
    slept: list[float] = []
    result = send(message(), server.settings, sleep=slept.append)
    assert result.attempts == 2 and slept == [server.settings.retry_delay]
    assert len(server.recorder.messages) == 1 and server.recorder.data_attempts == 2


def test_a_deferred_recipient_is_retried_alone(smtp_server: ServerFactory) -> None:
    server = smtp_server(recorder=Recorder(refuse={"exadmins@contoso.com": ["450 4.2.1 mailbox busy"]}))
    result = send(message(), server.settings)
    assert result.accepted == ("ops@contoso.com", "exadmins@contoso.com") and result.attempts == 2
    assert [m.rcpt_tos for m in server.recorder.messages] == [["ops@contoso.com"], ["exadmins@contoso.com"]]


def test_the_password_never_reaches_the_log(smtp_server: ServerFactory, caplog: pytest.LogCaptureFixture) -> None:
    server = smtp_server(recorder=Recorder(data_replies=["451 4.3.0 try again"]))
    caplog.set_level(logging.DEBUG)
    send(message(), server.settings)
    bad = dataclasses.replace(server.settings, password=PASSWORD + "x")
    with pytest.raises(MailError):
        send(message(), bad)
    for secret in (*SECRETS, PASSWORD + "x"):
        assert secret not in caplog.text
    assert "retrying" in caplog.text


@pytest.mark.parametrize("secret", SECRETS, ids=["plain", "base64", "auth-plain-base64"])
def test_a_server_reply_that_echoes_the_password_is_masked(smtp_server: ServerFactory, secret: str) -> None:
    server = smtp_server(recorder=Recorder(data_replies=[f"554 5.7.1 message refused for {secret}"]))
    with pytest.raises(MailError) as info:
        send(message(), server.settings)
    assert_one_line_without_secrets(info.value)
    assert "554 5.7.1 message refused for ***" in str(info.value)


def test_settings_repr_hides_the_password(smtp_server: ServerFactory) -> None:
    settings = smtp_server().settings
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_password_comes_from_the_keyring_when_the_environment_has_none(
    smtp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def get_password(service: str, user: str) -> str | None:
        asked.append((service, user))
        return PASSWORD

    monkeypatch.setitem(sys.modules, "keyring", types.SimpleNamespace(get_password=get_password))
    server = smtp_server(password=None)
    send(message(), server.settings)
    assert asked == [("eems-check-smtp", USER)]
    assert server.recorder.auth == [("PLAIN", True)]


def test_no_password_anywhere_is_a_one_line_error(smtp_server: ServerFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if keyring were not installed
    server = smtp_server(password=None)
    with pytest.raises(MailError) as caught:
        send(message(), server.settings)
    assert str(caught.value) == (
        "no SMTP password for svc-eems@contoso.com: set the environment variable EEMS_CHECK_SMTP_PASSWORD "
        "(or install keyring to read it from the OS keyring)"
    )
    assert server.recorder.messages == []
