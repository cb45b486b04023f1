"""One rule for "the same server": every reader (inventory, saved report, diff, --compare-to) uses `server_key`.

Windows compares computer names without regard to case; `casefold` (not `lower`) also makes `STRASSE` and
`Straße` one name. When two readers used different rules, `evaluate` wrote reports that `diff` and
`--compare-to` then refused. The history store keys its rows by this too, so the rule must not change lightly.
"""

from __future__ import annotations


def server_key(name: str) -> str:
    """The identity of a server name: two names with one key are one server."""
    return name.strip().casefold()
