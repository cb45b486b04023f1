"""`eems-check rules update --from FILE`: import Microsoft's published build list into an override rules file.

Reads a file the admin downloaded (never the network): `ExchangeBuildNumbers.csv` of
microsoft/Get-ExchangeBuildNumber, or a saved copy of the Learn page "Exchange Server build numbers and release
dates". Maps Microsoft's names onto the rule set (products 2013/2016/2019/SE, labels like `CU15 Feb26SU`), compares
with the rules in force (added, changed, conflicting, unchanged) and writes only what is new or changed, as a file
that `--rules` merges over the bundled rules.

Stages: `reader` (decode, detect, split into rows) -> `interpret` (names, builds, dates) -> `compare` (against the
RuleSet) -> `writer` (override YAML, checked by loading it) and `report` (the printed diff).
"""

from __future__ import annotations

from .command import add_arguments, run
from .compare import Comparison, Item, OutRow
from .errors import (
    OutputExistsError,
    SourceColumnError,
    SourceError,
    SourceFormatError,
    SourceRowError,
)
from .model import Location, Note, SourceRow
from .reader import read_source
from .report import format_diff
from .update import UpdateResult, update_rules

__all__ = [
    "Comparison",
    "Item",
    "Location",
    "Note",
    "OutRow",
    "OutputExistsError",
    "SourceColumnError",
    "SourceError",
    "SourceFormatError",
    "SourceRow",
    "SourceRowError",
    "UpdateResult",
    "add_arguments",
    "format_diff",
    "read_source",
    "run",
    "update_rules",
]
