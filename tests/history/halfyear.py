"""The simulated half year of `fixtures/half-year.yaml`: 26 weekly reports of the sample organisation, patched
server by server. Used by the history tests, the browser checks and the closing screenshots."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import yaml

from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.model import BuildSource, Report
from eems_check.ruleset import RuleSet

HERE = Path(__file__).parent
SCHEDULE = HERE / "fixtures" / "half-year.yaml"
SAMPLE = HERE.parents[1] / "eems_check" / "data" / "sample-inventory.json"


def schedule() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(SCHEDULE.read_text(encoding="utf-8"))
    return loaded


def run_time(week: int) -> dt.datetime:
    start: dt.date = schedule()["start"]
    day = start + dt.timedelta(weeks=week)
    return dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=dt.timezone.utc)


def half_year(ruleset: RuleSet, weeks: int | None = None) -> list[Report]:
    """One report per week, oldest first."""
    plan = schedule()
    inventory = read_inventory(SAMPLE)
    builds: dict[str, str] = {}
    reports = []
    for week in range(weeks if weeks is not None else plan["weeks"]):
        for patch in plan["patches"]:
            if patch["week"] == week:
                builds[patch["server"]] = patch["build"]
        servers = tuple(
            dataclasses.replace(s, exsetup_version=builds[s.name], build_source=BuildSource.EXSETUP)
            if s.name in builds
            else s
            for s in inventory.servers
        )
        when = run_time(week)
        reports.append(
            evaluate(dataclasses.replace(inventory, servers=servers), ruleset, today=when.date(), generated_at=when)
        )
    return reports
