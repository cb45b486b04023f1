"""Showing text that came from a server, a file or a report: control and bidirectional characters made visible.

A server name such as `EX\\u202eFDP.exe` displays as `EXexe.PDF`, and an escape sequence in a name or a log line
can rewrite the admin's terminal. Wherever such text is shown (the terminal, mail subjects and bodies, the HTML
and CSV reports) these characters are written as `\\u202e`, `\\x1b`: visible, and inert. The data itself (the
inventory, the JSON report) keeps them as they are, so nothing read back changes.
"""

from __future__ import annotations

import re

# C0 and C1 controls and DEL; the bidirectional embeddings, overrides, isolates and marks; line and paragraph
# separators; the byte-order mark, which some viewers hide mid-text
_HIDDEN = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
_LAYOUT = "\t\n\r"
_IN_BLOCK = re.compile(f"[{_HIDDEN}]")
_IN_LINE = re.compile(f"[{_HIDDEN}{_LAYOUT}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str, *, one_line: bool = True) -> str:
    """`text` with every hidden control and bidi character written as its escape. `one_line=False` keeps tabs
    and line breaks (for HTML and multi-line text, where they only lay text out)."""
    return (_IN_LINE if one_line else _IN_BLOCK).sub(_escape, text)


def visible_json(text: str) -> str:
    """JSON text with hidden characters as `\\uXXXX` escapes: visible, and the same document when parsed (JSON
    puts such characters only inside strings, where this escape means the character itself)."""
    return _IN_BLOCK.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
