"""Shared fixtures: the bundled rule set, a fixed evaluation day, and the fixtures folder."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from eems_check.ruleset import RuleSet, load_ruleset

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = dt.date(2026, 11, 27)
GENERATED = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_ruleset()


@pytest.fixture(scope="session")
def fixtures() -> Path:
    return FIXTURES
