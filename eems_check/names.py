"""One rule for "the same server": every reader (inventory, saved report, diff, --compare-to) uses `server_key`.

Windows compares computer names without regard to case; `casefold` (not `lower`) also makes `STRASSE` and
`Straße` one name, and NFKC folds the compatibility forms (full-width letters, ligatures) a copy-paste brings in.
When two readers used different rules, `evaluate` wrote reports that `diff` and `--compare-to` then refused.
"""

from __future__ import annotations

import unicodedata


def server_key(name: str) -> str:
    """The identity of a server name: two names with one key are one server."""
    return unicodedata.normalize("NFKC", name.strip()).casefold()
