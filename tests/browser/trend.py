"""A report as a run with a history makes it: every earlier run recorded in a real SQLite file, the last one
compared with an earlier run and carrying the trend."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from eems_check.diff import compare
from eems_check.history import build_trend, open_history
from eems_check.model import Report


def recorded_report(reports: list[Report], path: Path, *, back: int = 4) -> Report:
    """Record `reports` (oldest first) in a new history at `path`; the last one with its trend and the changes
    since the run `back` runs before it."""
    path.unlink(missing_ok=True)
    with open_history(path) as history:
        for report in reports:
            history.append(report, origin="evaluate")
        runs = history.runs(reports[-1].inventory.org.name)
        changes = compare(history.run_report(runs[-1 - back]), reports[-1], old_label=str(path))
        trend = build_trend(history, reports[-1].inventory.org.name)
    return dataclasses.replace(reports[-1], changes=changes, trend=trend)
