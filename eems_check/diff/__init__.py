"""What changed since the last scan: servers added or gone, builds changed, findings new, resolved or changed.

Works on two saved JSON reports (`eems-check/report` documents, as `report_to_document` writes them) and on
nothing else: no rules, no re-evaluation, so a diff says exactly how the two reports differ.

* Servers are matched by name, case-insensitively; the new report's spelling is shown.
* A finding is *present* when its verdict is FAIL or UNKNOWN (PASS and N/A are absent). The same rule present in
  both reports with another severity or verdict is a severity change, not new plus resolved; a message that
  differs only in wording (a day count, say) is no change.
* A build counts as changed at the precision both reports know it: a server known to the SU level once and only by
  its CU (AdminDisplayVersion) the next time has not changed if the CU is the same.
* The findings of a server that was added or is gone are summarised on its row, not listed as new or resolved.
* Every list is ordered worst first.

Modules: `compare` and `text` (terminal). The result's frozen dataclasses live in `eems_check.model` (a `Report`
carries them), its JSON form in `render.json_report` (`changes_to_dict`), and the reports are read by
`report_io`, the one reader of a saved report. The HTML partial is `templates/_changes.html.j2`, fed a `Changes`
as `changes`.
"""

from __future__ import annotations

from ..model import (
    BuildChange,
    ChangeCounts,
    Changes,
    FindingChange,
    ReportSide,
    RuleTotal,
    ServerChange,
    SeverityChange,
    SeverityTotal,
)
from ..render.json_report import CHANGES_SCHEMA, CHANGES_SCHEMA_VERSION, changes_to_dict
from .compare import compare, diff_files
from .text import format_text, headline

__all__ = [
    "CHANGES_SCHEMA",
    "CHANGES_SCHEMA_VERSION",
    "BuildChange",
    "ChangeCounts",
    "Changes",
    "FindingChange",
    "ReportSide",
    "RuleTotal",
    "ServerChange",
    "SeverityChange",
    "SeverityTotal",
    "changes_to_dict",
    "compare",
    "diff_files",
    "format_text",
    "headline",
]
