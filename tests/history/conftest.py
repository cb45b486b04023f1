"""History fixtures: the simulated half year recorded into a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from eems_check.history import History, open_history
from eems_check.model import Report
from eems_check.ruleset import RuleSet

from .halfyear import half_year


@pytest.fixture(scope="session")
def half_year_reports(ruleset: RuleSet) -> list[Report]:
    return half_year(ruleset)


@pytest.fixture(scope="session")
def half_year_file(half_year_reports: list[Report], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A history holding all 26 runs (open it with `open_history`; do not write to it)."""
    path = tmp_path_factory.mktemp("history") / "eems-history-Contoso.sqlite"
    with open_history(path) as history:
        for report in half_year_reports:
            history.append(report, origin="evaluate")
    return path


@pytest.fixture
def fresh(tmp_path: Path) -> History:
    return open_history(tmp_path / "history.sqlite")
