"""Logging set-up for the command line, with authentication tokens kept out of `--debug` output.

pyspnego logs every token it exchanges at DEBUG (`NTLM step input/output`, `SPNEGO step ...`, `GSSAPI step ...`,
`CredSSP TSRequest ...`), base64-encoded. An NTLM CHALLENGE and AUTHENTICATE pair is a NetNTLMv2 hash that cracks
offline, and debug output is exactly what gets pasted into tickets. A filter on our handler (public `logging`
configuration; nothing in pyspnego is touched) rewrites the authentication libraries' records with every
token-shaped run replaced by its length, and keeps the rest of their diagnostics.
"""

from __future__ import annotations

import logging
import re
import sys

from .display import visible

AUTH_LOGGERS = ("spnego", "gssapi", "krb5", "requests_credssp", "ntlm_auth")
# base64 of 12+ bytes, or hex of 8+ bytes: long enough to be a token, far shorter than any NTLM/Kerberos one
_TOKEN = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}|\b(?:[0-9A-Fa-f]{2}[ :]?){8,}\b")


def _redact(match: re.Match[str]) -> str:
    return f"<token of {len(match.group(0))} characters not shown>"


class TokenRedactor(logging.Filter):
    """Replaces token-shaped text in records of the authentication libraries' loggers."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.split(".", 1)[0] in AUTH_LOGGERS:
            text = record.getMessage()
            redacted = _TOKEN.sub(_redact, text)
            if redacted != text:
                record.msg, record.args = redacted, None
        return True


class _VisibleFormatter(logging.Formatter):
    """Log lines quote server names and messages: their control and bidi characters are written visibly."""

    def format(self, record: logging.LogRecord) -> str:
        return visible(super().format(record), one_line=False)


def setup_logging(*, debug: bool, verbose: bool) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_VisibleFormatter("eems-check: %(levelname)s: %(message)s"))
    handler.addFilter(TokenRedactor())
    logging.basicConfig(level=level, handlers=[handler])
