"""Log lines that never show a secret, whoever writes them.

What it does: `MaskingFormatter` formats a record as usual, then masks every secret registered with `add` in the
whole line (message, arguments and traceback); `mask` does the same for any other text bound for the terminal.
Reasons are scrubbed where they are made, but libraries log too: pypsrp logs whole WS-Management messages at
DEBUG, and a server's fault text may echo the password it was sent.

What it must not do: decide what is a secret (the CLI registers the passwords it read), or log anything itself.
"""

from __future__ import annotations

import logging

MASK = "***"


class MaskingFormatter(logging.Formatter):
    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        if secret:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):  # a longer secret may contain a shorter one
            text = text.replace(secret, MASK)
        return text

    def format(self, record: logging.LogRecord) -> str:
        return self.mask(super().format(record))
