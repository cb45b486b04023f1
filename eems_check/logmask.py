"""Log lines that never show a secret, whoever writes them.

What it does: `Secrets` holds the secrets the CLI read and masks them in any text bound for the terminal;
`MaskingFormatter` wraps a handler's formatter and masks them in each whole formatted line (message, arguments and
traceback). Reasons are scrubbed where they are made, but libraries log too: pypsrp logs whole WS-Management
messages at DEBUG, and a server's fault text may echo the password it was sent.

What it must not do: decide what is a secret (the CLI registers the passwords it read), or log anything itself.
"""

from __future__ import annotations

import logging

MASK = "***"


class Secrets:
    def __init__(self) -> None:
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # a longer secret may contain a shorter one
            text = text.replace(secret, MASK)
        return text


class MaskingFormatter(logging.Formatter):
    """`inner`'s line with every secret of `secrets` masked."""

    def __init__(self, inner: logging.Formatter, secrets: Secrets) -> None:
        super().__init__()
        self.inner = inner
        self.secrets = secrets

    def format(self, record: logging.LogRecord) -> str:
        return self.secrets.mask(self.inner.format(record))
