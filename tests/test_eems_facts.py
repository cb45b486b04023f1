"""EEMS facts an admin looks for: the mitigation standing in for a missing fix (M2 for CVE-2026-42897, fixed by
the June 2026 SU), the last successful EEMS action (events 1005/1006), "none applied", and the organisation-level
list of exposed servers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from eems_check.evaluate import evaluate, evaluate_server
from eems_check.model import BuildSource, EemsSettings, EventRecord, Inventory, OrgInfo, ServerRecord, Verdict
from eems_check.render.common import eems_facts, exposures, last_success
from eems_check.ruleset import RuleSet

from .conftest import GENERATED, TODAY

UTC = dt.timezone.utc


def _judged(
    ruleset: RuleSet, build: str, applied: tuple[str, ...] = (), blocked: tuple[str, ...] = (), **more: Any
) -> Any:
    """One server on `build` with EEMS on and these mitigations, evaluated on the suite's day."""
    server = ServerRecord(name="EX1", exsetup_version=build, build_source=BuildSource.EXSETUP,
                          eems=EemsSettings(enabled=True, applied=applied, blocked=blocked), **more)  # fmt: skip
    return evaluate_server(server, Inventory(OrgInfo("O", True), (server,)), ruleset, TODAY)

# build (ExSetup.exe), applied, blocked -> verdict and the state named in the problem
STANDS_IN = [
    pytest.param("15.2.1544.39", (), ("M2",), "fail", "blocked", id="cu14-feb26su-m2-blocked"),
    pytest.param("15.2.1544.39", ("PING1",), (), "fail", "not applied", id="cu14-feb26su-m2-missing"),
    pytest.param("15.2.2562.41", ("PING1", "M2.1.0"), (), "pass", None, id="se-may26hu-m2-applied-stands-in"),
    pytest.param("15.2.2562.43", (), (), "pass", None, id="se-jun26su-has-the-fix"),
    pytest.param("15.2.1118.40", ("M1.1",), (), "fail", "not applied", id="cu12-never-gets-the-fix"),
    pytest.param("15.0.1497.48", (), (), "n/a", None, id="2013-has-no-eems"),
]


@pytest.mark.parametrize(("build", "applied", "blocked", "verdict", "state"), STANDS_IN)
def test_a_server_without_the_fix_needs_the_mitigation_that_stands_in_for_it(
    ruleset: RuleSet, build: str, applied: tuple[str, ...], blocked: tuple[str, ...], verdict: str, state: str | None
) -> None:
    finding = _judged(ruleset, build, applied, blocked).finding("EEMS-M2-STANDS-IN")
    assert finding is not None and finding.verdict is Verdict(verdict), finding
    if state:
        assert finding.title == f"No fix for CVE-2026-42897; its mitigation M2 is {state}"


def _event(event_id: int, hour: int | None) -> EventRecord:
    when = None if hour is None else dt.datetime(2026, 11, 26, hour, 0, tzinfo=UTC)
    return EventRecord(id=event_id, level="Information", time=when, message="x")


LAST_SUCCESS = [
    pytest.param(None, "not collected", id="not-collected"),
    pytest.param((), "none among the collected events", id="nothing-collected"),
    pytest.param((_event(1008, 9),), "none among the collected events", id="only-failures"),
    pytest.param(
        (_event(1005, 3), _event(1008, 9), _event(1006, 7), _event(1005, None)),
        "2026-11-26 07:00 UTC (event 1006)",
        id="newest-of-1005-and-1006",
    ),
]


@pytest.mark.parametrize(("events", "expected"), LAST_SUCCESS)
def test_the_last_successful_eems_action_is_the_newest_event_1005_or_1006(
    ruleset: RuleSet, events: Any, expected: str
) -> None:
    assert last_success(_judged(ruleset, "15.2.2562.53", events=events)) == expected


FACTS = [
    pytest.param("15.2.2562.53", (), (), "\u25b2 none applied; no success event (1005/1006) collected", id="none"),
    pytest.param("15.2.2562.53", ("PING1",), ("M2",), "applied PING1; blocked M2; no success event", id="both"),
    pytest.param("15.0.1497.48", (), (), "no EEMS", id="no-eems-is-not-flagged"),
]


@pytest.mark.parametrize(("build", "applied", "blocked", "start"), FACTS)
def test_applied_and_blocked_mitigations_are_named_and_none_applied_is_flagged(
    ruleset: RuleSet, build: str, applied: tuple[str, ...], blocked: tuple[str, ...], start: str
) -> None:
    assert eems_facts(_judged(ruleset, build, applied, blocked, events=())).startswith(start)


def test_the_organisation_list_names_every_exposed_server_once(ruleset: RuleSet) -> None:
    def server(name: str, build: str, **eems: Any) -> ServerRecord:
        return ServerRecord(name=name, exsetup_version=build, build_source=BuildSource.EXSETUP,
                            eems=EemsSettings(enabled=True, **eems))  # fmt: skip

    servers = (
        server("BLOCKED", "15.2.1748.43", blocked=("M2",)),
        server("MISSING", "15.1.2507.66", applied=("PING1",)),
        server("COVERED", "15.2.2562.41", applied=("M2.1.0",)),
        server("FIXED", "15.2.2562.53"),
    )
    report = evaluate(Inventory(OrgInfo("O", True), servers), ruleset, today=TODAY, generated_at=GENERATED)
    listed = {s.server.name: problem for s, problem in exposures(report)}
    assert listed == {
        "BLOCKED": "No fix for CVE-2026-42897; its mitigation M2 is blocked",
        "MISSING": "No fix for CVE-2026-42897; its mitigation M2 is not applied",
    }
