"""Shared fixtures for the rules-update tests: the fixture folder and the bundled rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from eems_check.ruleset import RuleSet, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
CSV_SAMPLE = FIXTURES / "gebn-sample.csv"
HTML_SAMPLE = FIXTURES / "learn-sample.html"


@pytest.fixture(scope="session")
def bundled() -> RuleSet:
    return load_ruleset()
