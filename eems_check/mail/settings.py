"""Mail settings: the flags, the optional YAML config file, and the frozen `MailSettings` they produce.

What it does: `add_mail_arguments` adds the mail flags to a parser; `mail_settings_from_args` merges the
`mail:` section of `--config FILE` with the flags (flags win), validates every value and returns `MailSettings`,
or None when nothing asks for mail; `should_send` decides the alerts-only question.

What it must not do: send mail, build messages, or take a password from the command line or the config file.
The password comes from an environment variable (default `EEMS_CHECK_SMTP_PASSWORD`) or, at send time, the OS
keyring; it is kept out of `repr` and never appears in a message. Every error is an `InputError` naming the flag,
or the file, line and key it came from.
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from enum import Enum
from pathlib import Path
from typing import Any

from ..argv import RefusedSecretFlag
from ..config_file import read_section
from ..errors import InputError
from ..inputfile import shown
from ..model import Report, Severity
from ..yamlload import LList

PASSWORD_ENV = "EEMS_CHECK_SMTP_PASSWORD"
KEYRING_SERVICE = "eems-check-smtp"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class SmtpSecurity(str, Enum):
    """How the SMTP connection is protected."""

    STARTTLS = "starttls"  # port 587: plain connect, then a verified STARTTLS before anything else
    TLS = "tls"  # port 465: TLS from the first byte (SMTP_SSL)
    NONE = "none"  # port 25: clear text, only for an internal relay, only when asked for

    @property
    def default_port(self) -> int:
        return {SmtpSecurity.STARTTLS: 587, SmtpSecurity.TLS: 465, SmtpSecurity.NONE: 25}[self]


@dataclass(frozen=True)
class MailSettings:
    """Everything needed to build and send one report mail. `password` is kept out of `repr` and comparisons."""

    mail_to: tuple[str, ...]
    mail_from: str
    smtp_host: str
    smtp_port: int | None = None
    security: SmtpSecurity = SmtpSecurity.STARTTLS
    smtp_user: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    password_env: str = PASSWORD_ENV
    keyring_service: str = KEYRING_SERVICE
    reply_to: str | None = None
    ca_bundle: Path | None = None
    timeout: float = 30.0
    alerts_only: bool = False
    list_limit: int = 50  # servers listed in the mail body; the attached report has them all
    max_attachment_bytes: int = 10 * 1024 * 1024  # many relays refuse messages of 10-25 MB
    retry_delay: float = 5.0  # pause before the single retry of a transient (4xx) failure

    @property
    def port(self) -> int:
        return self.smtp_port or self.security.default_port

    @property
    def endpoint(self) -> str:
        return f"{self.smtp_host}:{self.port}"

    @property
    def recipients(self) -> tuple[str, ...]:
        """Bare addresses for the SMTP envelope (`Ops <ops@x>` becomes `ops@x`)."""
        return tuple(parseaddr(a)[1] for a in self.mail_to)

    @property
    def envelope_from(self) -> str:
        return parseaddr(self.mail_from)[1]


def add_mail_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the mail flags to `parser`. Every default is None so that a flag can override the config file."""
    g = parser.add_argument_group("mail the report (after it is written to disk)")
    g.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="YAML file with a mail: section and, for scan, a scan: section (flags override both)",
    )
    g.add_argument(
        "--mail-to", action="append", metavar="ADDR", help="send the report to this address (repeatable; or a,b)"
    )
    g.add_argument("--mail-from", metavar="ADDR", help="sender address")
    g.add_argument("--mail-reply-to", metavar="ADDR", help="Reply-To address (default: none)")
    g.add_argument("--smtp-host", metavar="HOST", help="SMTP server (relay or submission host)")
    g.add_argument("--smtp-port", metavar="PORT", help="default 587 (starttls), 465 (tls) or 25 (none)")
    g.add_argument(
        "--smtp-security",
        choices=[s.value for s in SmtpSecurity],
        help="starttls (default; fails if the server does not offer it), tls (implicit, port 465) "
        "or none (clear text: only for an internal relay on port 25)",
    )
    g.add_argument("--smtp-user", metavar="USER", help="log in with SMTP AUTH as USER")
    g.add_argument(
        "--smtp-password",
        action=RefusedSecretFlag,
        advice=f"set {PASSWORD_ENV}, use --smtp-password-env VAR or the keyring",
    )
    g.add_argument(
        "--smtp-password-env",
        metavar="VAR",
        help=f"read the SMTP password from this environment variable (default {PASSWORD_ENV}); "
        f"otherwise the OS keyring (service {KEYRING_SERVICE}) if keyring is installed",
    )
    g.add_argument("--smtp-keyring-service", metavar="NAME", help=f"keyring service name (default {KEYRING_SERVICE})")
    g.add_argument(
        "--smtp-ca-bundle",
        metavar="FILE",
        help="CA certificates (PEM) that sign the SMTP server's certificate (default: the system store)",
    )
    g.add_argument("--smtp-timeout", metavar="S", help="SMTP timeout in seconds (default 30)")
    g.add_argument(
        "--alerts-only",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="mail only when a server reaches the --fail-on severity",
    )


@dataclass(frozen=True)
class _Value:
    """One setting and where it came from, for error messages."""

    value: Any
    origin: str  # "--smtp-port" or "mail.yaml:4: mail.smtp_port"
    item_origins: tuple[str, ...] = ()  # for a YAML list: where each item is

    def item_origin(self, index: int) -> str:
        return self.item_origins[index] if index < len(self.item_origins) else self.origin


# Config key -> the flag's attribute on the parsed args. The config spells keys like the flags, with `_` or `-`.
_KEYS = {
    "mail_to": "mail_to",
    "mail_from": "mail_from",
    "mail_reply_to": "mail_reply_to",
    "smtp_host": "smtp_host",
    "smtp_port": "smtp_port",
    "smtp_security": "smtp_security",
    "smtp_user": "smtp_user",
    "smtp_password_env": "smtp_password_env",
    "smtp_keyring_service": "smtp_keyring_service",
    "smtp_ca_bundle": "smtp_ca_bundle",
    "smtp_timeout": "smtp_timeout",
    "alerts_only": "alerts_only",
    "list_limit": "list_limit",
    "max_attachment_mb": "max_attachment_mb",
}
_ALIASES = {"reply_to": "mail_reply_to"}
_FORBIDDEN = ("password", "smtp_password", "pass", "secret")


def _read_config(path: Path) -> dict[str, _Value]:
    """The `mail:` section of a config file as {key: value with origin}; {} when the file has no such section."""
    section = read_section(path, "mail")
    if section is None:
        return {}
    out: dict[str, _Value] = {}
    for raw_key, value in section.items():
        line = section.line_of(raw_key)
        key = str(raw_key).replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in _FORBIDDEN:
            raise InputError(
                f"{path}:{line}: mail.{raw_key}: a password does not belong in a file; "
                f"use smtp_password_env (default {PASSWORD_ENV}) or the keyring"
            )
        if key not in _KEYS:
            close = difflib.get_close_matches(key, [*_KEYS, *_ALIASES], n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_KEYS)}"
            raise InputError(f"{path}:{line}: mail.{raw_key}: unknown setting ({hint})")
        if key in out:
            raise InputError(f"{path}:{line}: mail.{raw_key}: given twice")
        if key == "smtp_ca_bundle" and isinstance(value, str) and value:
            value = str((path.parent / value).expanduser())  # relative to the config file, not the cwd
        items: tuple[str, ...] = ()
        if isinstance(value, LList):
            items = tuple(f"{path}:{value.line_of(i)}: mail.{raw_key}[{i}]" for i in range(len(value)))
        out[key] = _Value(value, f"{path}:{line}: mail.{raw_key}", items)
    return out


def _from_args(args: argparse.Namespace) -> dict[str, _Value]:
    out: dict[str, _Value] = {}
    for key, attr in _KEYS.items():
        value = getattr(args, attr, None)
        if value is not None:
            out[key] = _Value(value, "--" + attr.replace("_", "-"))
    return out


def _text(v: _Value) -> str:
    if not isinstance(v.value, str) or not v.value.strip():
        raise InputError(f"{v.origin}: must be a non-empty text, not {shown(v.value)}")
    if any(c in v.value for c in "\r\n\0"):
        raise InputError(f"{v.origin}: must be one line")
    return v.value.strip()


def _address(v: _Value, text: str | None = None, origin: str | None = None) -> str:
    text = _text(v) if text is None else text.strip()
    addr = parseaddr(text)[1]
    local, at, domain = addr.rpartition("@")
    if not at or not local or ("." not in domain and domain != "localhost") or any(c.isspace() for c in addr):
        raise InputError(f"{origin or v.origin}: not an e-mail address: {shown(text)}")
    if any(c in text for c in "\r\n\0"):
        raise InputError(f"{origin or v.origin}: must be one line")
    return text


def _addresses(v: _Value) -> tuple[str, ...]:
    items = v.value if isinstance(v.value, list) else [v.value]
    out: list[str] = []
    for i, item in enumerate(items):
        origin = v.item_origin(i) if isinstance(v.value, list) else v.origin
        if not isinstance(item, str):
            raise InputError(f"{origin}: must be an address or a list of addresses, not {shown(item)}")
        out.extend(_address(v, part, origin) for part in item.split(",") if part.strip())
    if not out:
        raise InputError(f"{v.origin}: no address given")
    return tuple(dict.fromkeys(out))  # the same address twice would get the report twice


def _number(v: _Value, kind: type, low: float, high: float, what: str) -> Any:
    raw = v.value
    try:
        if isinstance(raw, bool):
            raise ValueError
        number = kind(raw)
        if kind is int and isinstance(raw, float) and raw != number:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"{v.origin}: must be {what}, not {shown(raw)}") from None
    if not low <= number <= high:
        raise InputError(f"{v.origin}: must be {what}, not {shown(raw)}")
    return number


def _bool(v: _Value) -> bool:
    if not isinstance(v.value, bool):
        raise InputError(f"{v.origin}: must be true or false, not {shown(v.value)}")
    return v.value


def mail_settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> MailSettings | None:
    """Merge `--config`'s mail section with the flags (flags win) into `MailSettings`.

    Returns None when neither `--mail-to` nor a config mail section asks for mail. `--mail-to` replaces the
    config's list rather than adding to it. The password is read from the environment here; the keyring is only
    asked at send time, so a run whose mail alerts-only suppresses never touches it.
    """
    config_path: Path | None = getattr(args, "config", None)
    values = _read_config(config_path) if config_path else {}
    values.update(_from_args(args))
    if "mail_to" not in values:
        if values:
            given = ", ".join(v.origin for v in values.values())
            raise InputError(f"mail settings given ({given}) but no recipient: add --mail-to or mail_to")
        return None
    for required, flag in (("mail_from", "--mail-from"), ("smtp_host", "--smtp-host")):
        if required not in values:
            raise InputError(f"{values['mail_to'].origin}: mail needs {flag} (or {required} in the config file)")

    security = SmtpSecurity.STARTTLS
    if "smtp_security" in values:
        v = values["smtp_security"]
        try:
            security = SmtpSecurity(str(v.value).lower())
        except ValueError:
            raise InputError(f"{v.origin}: must be starttls, tls or none, not {shown(v.value)}") from None

    user = _text(values["smtp_user"]) if "smtp_user" in values else None
    password_env = _text(values["smtp_password_env"]) if "smtp_password_env" in values else PASSWORD_ENV
    if not _ENV_NAME.match(password_env):
        # Not echoed: a password typed here by mistake must not end up on the screen or in a log.
        raise InputError(f"{values['smtp_password_env'].origin}: not an environment variable name")
    if user and security is SmtpSecurity.NONE:
        raise InputError(
            f"{values['smtp_user'].origin}: SMTP AUTH with smtp_security none would send the password in clear "
            "text; use starttls or tls"
        )

    ca_bundle = None
    if "smtp_ca_bundle" in values:
        ca_bundle = Path(_text(values["smtp_ca_bundle"])).expanduser()
        if not ca_bundle.is_file():
            raise InputError(f"{values['smtp_ca_bundle'].origin}: no such file: {ca_bundle}")
        if security is SmtpSecurity.NONE:
            raise InputError(f"{values['smtp_ca_bundle'].origin}: a CA bundle makes no sense with smtp_security none")

    def opt(key: str, kind: type, low: float, high: float, what: str, default: Any) -> Any:
        return _number(values[key], kind, low, high, what) if key in values else default

    max_mb = opt("max_attachment_mb", float, 0, 1024, "a size in MB from 0 to 1024", 10.0)
    return MailSettings(
        mail_to=_addresses(values["mail_to"]),
        mail_from=_address(values["mail_from"]),
        smtp_host=_text(values["smtp_host"]),
        smtp_port=opt("smtp_port", int, 1, 65535, "a port number from 1 to 65535", None),
        security=security,
        smtp_user=user,
        password=environ.get(password_env) or None,
        password_env=password_env,
        keyring_service=_text(values["smtp_keyring_service"]) if "smtp_keyring_service" in values else KEYRING_SERVICE,
        reply_to=_address(values["mail_reply_to"]) if "mail_reply_to" in values else None,
        ca_bundle=ca_bundle,
        timeout=opt("smtp_timeout", float, 0.1, 3600, "seconds from 0.1 to 3600", 30.0),
        alerts_only=_bool(values["alerts_only"]) if "alerts_only" in values else False,
        list_limit=opt("list_limit", int, 1, 500, "a whole number from 1 to 500", 50),
        max_attachment_bytes=int(max_mb * 1024 * 1024),
    )


def alert_threshold(fail_on: Severity | None) -> Severity:
    """The severity alerts-only waits for: `--fail-on`'s, or WARNING for `--fail-on never` (which keeps the exit
    code 0 for schedulers, while the mail still goes out when anything needs attention)."""
    return fail_on if fail_on is not None else Severity.WARNING


def should_send(report: Report, settings: MailSettings, fail_on: Severity | None) -> bool:
    """Whether to mail: always, unless alerts-only and no server reaches the threshold (then exactly the runs that
    exit 1 are mailed)."""
    if not settings.alerts_only:
        return True
    return report.worst.rank >= alert_threshold(fail_on).rank
