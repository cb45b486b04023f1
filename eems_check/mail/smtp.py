"""Sending one message over SMTP, safely: verified TLS by default, fail closed, one-line errors.

What it does: `send` connects with STARTTLS (a verifying `ssl.create_default_context`, with the configured CA
bundle for internal PKI), implicit TLS (`SMTP_SSL`) or, only when asked for, clear text; logs in with SMTP AUTH if
a user is set (password from the settings' environment variable or the OS keyring); sends; retries once, after
`retry_delay`, whatever failed with a transient 4xx reply; and turns every failure into a one-line `MailError`.

What it must not do: call `starttls()` without a verifying context (CPython then checks nothing), fall back to
clear text when STARTTLS is missing, switch on smtplib's debug output (it prints the AUTH exchange), retry a
disconnect or a timeout (the message may already have been accepted: ops would get it twice), or let the
password reach a message or a log, in clear or base64.
"""

from __future__ import annotations

import base64
import logging
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from ..errors import MailError
from .settings import MailSettings, SmtpSecurity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    """Who got the message and how many attempts it took."""

    accepted: tuple[str, ...]
    attempts: int


class _Transient(Exception):
    """A 4xx failure of a whole attempt: worth one retry."""


def tls_context(settings: MailSettings) -> ssl.SSLContext:
    """A context that verifies the server's certificate and name, against `ca_bundle` if set (only that bundle:
    an internal relay's CA need not be trusted for anything else) or the system store."""
    cafile = str(settings.ca_bundle) if settings.ca_bundle else None
    try:
        return ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"{settings.ca_bundle}: cannot load the SMTP CA bundle: {_reason(exc)}") from None


def smtp_password(settings: MailSettings) -> str:
    """The SMTP password: from the environment (already in the settings), else the OS keyring if installed."""
    if settings.password:
        return settings.password
    try:
        import keyring  # optional dependency (pip install 'eems-check[keyring]')
    except ImportError:
        keyring = None
    if keyring is not None:
        try:
            found = keyring.get_password(settings.keyring_service, settings.smtp_user or "")
        except Exception as exc:  # any backend failure; its text is not shown (it might quote what it read)
            raise MailError(f"the OS keyring could not be read ({type(exc).__name__})") from None
        if found:
            return str(found)
        where = f" or store it in the OS keyring (service {settings.keyring_service!r}, user {settings.smtp_user!r})"
    else:
        where = " (or install keyring to read it from the OS keyring)"
    raise MailError(
        f"no SMTP password for {settings.smtp_user}: set the environment variable {settings.password_env}{where}"
    )


class _Scrubber:
    """Removes the password, in clear and in the base64 forms AUTH PLAIN/LOGIN send, from any text."""

    def __init__(self, user: str | None, password: str | None) -> None:
        self._secrets: list[str] = []
        if password:
            forms = [password.encode(), f"\0{user or ''}\0{password}".encode()]
            self._secrets = [password] + [base64.b64encode(f).decode() for f in forms]
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


def _reply(exc: smtplib.SMTPResponseException) -> str:
    """The server's reply as one short line: `550 5.1.1 no such user`."""
    raw = exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    text = re.sub(r"\s+", " ", text).strip()
    return f"{exc.smtp_code} {text[:200]}".strip()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message)
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason)
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return re.sub(r"\s+", " ", str(exc)).strip() or type(exc).__name__


def _failure(exc: BaseException, phase: str, settings: MailSettings) -> Exception:
    """The one-line error (or a _Transient) for an exception raised during `phase`."""
    where = settings.endpoint
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        text = f"{where} rejected the login of SMTP user {settings.smtp_user!r}: {_reply(exc)}"
    elif isinstance(exc, smtplib.SMTPSenderRefused):
        text = f"{where} refused the sender {settings.envelope_from}: {_reply(exc)}"
    elif isinstance(exc, smtplib.SMTPDataError):
        text = f"{where} refused the message: {_reply(exc)}"
    elif isinstance(exc, smtplib.SMTPNotSupportedError) and phase == "login":
        after = " after STARTTLS" if settings.security is SmtpSecurity.STARTTLS else ""
        text = f"{where} does not offer SMTP AUTH{after}"
    elif isinstance(exc, smtplib.SMTPServerDisconnected) and isinstance(exc.__context__, TimeoutError):
        # smtplib reports a read timeout as a disconnect; say what happened
        text = f"no answer from {where} within {settings.timeout:g} s during {phase}"
    elif isinstance(exc, smtplib.SMTPServerDisconnected):
        text = f"{where} closed the connection during {phase}; nothing was sent"
        if phase == "sending":
            text = f"{where} closed the connection while the message was being sent; it may not have arrived"
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{where} answered {_reply(exc)} during {phase}"
    elif isinstance(exc, smtplib.SMTPException):
        text = f"SMTP with {where} failed during {phase}: {_reason(exc)}"
    elif isinstance(exc, ssl.SSLCertVerificationError):
        text = (
            f"the TLS certificate of {where} is not trusted ({_reason(exc)}); give the CA that issued it with "
            "--smtp-ca-bundle, and use the name the certificate is issued for as --smtp-host"
        )
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS with {where} failed during {phase}: {_reason(exc)}"
    elif isinstance(exc, TimeoutError):
        text = f"no answer from {where} within {settings.timeout:g} s during {phase}"
    elif isinstance(exc, ConnectionRefusedError):
        text = f"cannot connect to {where}: connection refused (is an SMTP server listening there?)"
    elif isinstance(exc, socket.gaierror):
        text = f"cannot resolve the SMTP host {settings.smtp_host!r}: {_reason(exc)}"
    elif isinstance(exc, ConnectionError):
        text = f"the connection to {where} broke during {phase}: {_reason(exc)}"
    elif isinstance(exc, OSError):
        text = f"cannot talk to {where} during {phase}: {_reason(exc)}"
    else:  # pragma: no cover - every smtplib/ssl/socket failure is an OSError
        text = f"mail to {where} failed during {phase}: {type(exc).__name__}"
    code = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else 0
    if 400 <= code < 500 and not isinstance(exc, smtplib.SMTPServerDisconnected):
        return _Transient(text)
    return MailError(text)


def _connect(settings: MailSettings, context: ssl.SSLContext | None) -> smtplib.SMTP:
    if settings.security is SmtpSecurity.TLS:
        return smtplib.SMTP_SSL(settings.smtp_host, settings.port, timeout=settings.timeout, context=context)
    return smtplib.SMTP(settings.smtp_host, settings.port, timeout=settings.timeout)


def _check_auth_offered(client: smtplib.SMTP, settings: MailSettings) -> None:
    """Fail with a clear line when the server offers no AUTH mechanism smtplib can use (an Exchange receive
    connector without BasicAuth offers only NTLM/GSSAPI, which smtplib does not speak)."""
    offered = client.esmtp_features.get("auth", "").upper().split() if client.has_extn("auth") else []
    if {"PLAIN", "LOGIN", "CRAM-MD5"} & set(offered):
        return
    after = " after STARTTLS" if settings.security is SmtpSecurity.STARTTLS else ""
    if not offered:
        raise MailError(f"{settings.endpoint} does not offer SMTP AUTH{after}")
    raise MailError(
        f"{settings.endpoint} offers only AUTH {' '.join(offered)}{after}; eems-check logs in with PLAIN or LOGIN "
        "(on Exchange: allow BasicAuth over TLS on the receive connector)"
    )


def _attempt(
    message: EmailMessage, settings: MailSettings, recipients: list[str], password: str | None
) -> dict[str, tuple[int, bytes]]:
    """One session: connect, secure, log in, send. Returns the refused recipients; raises MailError/_Transient."""
    context = tls_context(settings) if settings.security is not SmtpSecurity.NONE else None
    phase = "connect"
    try:
        client = _connect(settings, context)
        with client:
            phase = "EHLO"
            client.ehlo()
            if settings.security is SmtpSecurity.STARTTLS:
                if not client.has_extn("starttls"):
                    # Fail closed: sending anyway would put the report (and any password) on the wire in clear.
                    raise MailError(
                        f"{settings.endpoint} does not offer STARTTLS; not sending in clear text (use "
                        "--smtp-security tls for port 465, or none only for a trusted internal relay)"
                    )
                phase = "STARTTLS"
                client.starttls(context=context)
                phase = "EHLO after STARTTLS"
                client.ehlo()
            if settings.smtp_user:
                phase = "login"
                _check_auth_offered(client, settings)
                client.login(settings.smtp_user, password or "")
            phase = "sending"
            return dict(client.send_message(message, from_addr=settings.envelope_from, to_addrs=recipients))
    except smtplib.SMTPRecipientsRefused as exc:
        return dict(exc.recipients)
    except MailError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise _failure(exc, phase, settings) from None


def _refusal(refused: dict[str, tuple[int, bytes]]) -> str:
    parts = []
    for rcpt, (code, text) in refused.items():
        reply = re.sub(r"\s+", " ", text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text))
        parts.append(f"{rcpt} ({code} {reply.strip()[:120]})")
    return ", ".join(parts)


def send(message: EmailMessage, settings: MailSettings, *, sleep: Callable[[float], None] = time.sleep) -> SendResult:
    """Send `message` to `settings.recipients`; a MailError (one line, no password) unless everyone accepted it.

    A transient failure (4xx: of the whole session, or of some recipients) is retried once after
    `settings.retry_delay`; the retry goes only to the recipients that have not accepted the message yet.
    """
    password = smtp_password(settings) if settings.smtp_user else None
    scrub = _Scrubber(settings.smtp_user, password)
    recipients = list(settings.recipients)
    pending = recipients
    refused_for_good: dict[str, tuple[int, bytes]] = {}
    attempts = 0
    log.info("mailing the report to %s via %s (%s)", ", ".join(recipients), settings.endpoint, settings.security.value)
    while True:
        attempts += 1
        try:
            refused = _attempt(message, settings, pending, password)
        except _Transient as exc:
            if attempts == 1:
                log.warning("%s; retrying in %g s", scrub(str(exc)), settings.retry_delay)
                sleep(settings.retry_delay)
                continue
            raise MailError(scrub(f"{exc} (after one retry)")) from None
        except MailError as exc:
            raise MailError(scrub(str(exc))) from None
        transient = {r: v for r, v in refused.items() if 400 <= v[0] < 500}
        refused_for_good.update({r: v for r, v in refused.items() if r not in transient})
        if transient and attempts == 1:
            log.warning("recipients deferred (%s); retrying in %g s", scrub(_refusal(transient)), settings.retry_delay)
            sleep(settings.retry_delay)
            pending = list(transient)
            continue
        refused_for_good.update(transient)
        break
    accepted = tuple(r for r in recipients if r not in refused_for_good)
    if refused_for_good:
        got = f"; delivered to {', '.join(accepted)}" if accepted else "; nobody got the report"
        raise MailError(scrub(f"{settings.endpoint} refused recipient(s) {_refusal(refused_for_good)}{got}"))
    return SendResult(accepted=accepted, attempts=attempts)
