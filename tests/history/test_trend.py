"""The trend read back from a real history file of the simulated half year (fixtures/half-year.yaml), checked
against the numbers worked out by hand in that file."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eems_check.evaluate import evaluate
from eems_check.history import Trend, build_trend, open_history
from eems_check.history.views import chart, mail_bars, trend_view
from eems_check.model import Collection, CollectionStatus, Report
from eems_check.ruleset import load_ruleset

from .halfyear import run_time, schedule

EXPECTED = schedule()["expected"]


def expected_counts() -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for first, last, mar2023, jun2026 in EXPECTED["runs"]:
        out += [(mar2023, jun2026)] * (last - first + 1)
    return out


def test_every_run_counts_the_servers_that_cannot_receive_mitigations_per_reason(half_year_file: Path) -> None:
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso")
    assert trend is not None
    assert [label for _, label in trend.reasons] == ["EEMS Mar 2023", "EEMS Jun 2026"]
    assert [p.by_reason for p in trend.points] == expected_counts()
    assert [p.generated_at for p in trend.points] == [run_time(w) for w in range(26)]
    assert {p.servers for p in trend.points} == {12}


@pytest.mark.parametrize("server", sorted(EXPECTED["servers"]))
def test_per_server_since_when_and_last_build_change(half_year_file: Path, server: str) -> None:
    want: dict[str, Any] = EXPECTED["servers"][server]
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso")
    assert trend is not None
    got = trend.by_name[server.casefold()]

    def day(value: dt.datetime | None) -> dt.date | None:
        return value.date() if value else None

    assert (got.blocked_by, day(got.blocked_since), got.blocked_runs, got.since_first, day(got.build_changed)) == (
        want["fails"],
        want["since"],
        want["runs"],
        want["since_first"],
        want["build_changed"],
    )


def test_a_shorter_trend_still_knows_since_when(half_year_file: Path) -> None:
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso", runs=4)
    assert trend is not None
    assert (trend.total_runs, len(trend.points)) == (26, 4)
    left = trend.by_name["ex16-22a"]
    assert (left.blocked_runs, left.since_first, left.blocked_since) == (26, True, run_time(0))


def facts(trend: Trend | None) -> list[tuple[Any, ...]]:
    assert trend is not None
    return sorted(
        (s.name, s.blocked_by, s.blocked_since, s.blocked_runs, s.since_first, s.build_changed) for s in trend.servers
    )


def test_reports_imported_in_any_order_give_the_same_history(
    half_year_file: Path, half_year_reports: list[Report], tmp_path: Path
) -> None:
    shuffled = list(half_year_reports)
    random.Random(3).shuffle(shuffled)
    with open_history(tmp_path / "shuffled.sqlite") as history:
        for report in shuffled:
            history.append(report, origin="import")
        got = build_trend(history, "Contoso")
    with open_history(half_year_file, create=False) as history:
        want = build_trend(history, "Contoso")
    assert got is not None and want is not None
    assert facts(got) == facts(want)
    assert [dataclasses.astuple(p)[1:] for p in got.points] == [dataclasses.astuple(p)[1:] for p in want.points]


def _absent(report: Report) -> Report:
    """A scan narrowed with --server: the server is not in the run at all."""
    return dataclasses.replace(report, servers=tuple(s for s in report.servers if s.server.name != "EX16-22A"))


def _unreachable(report: Report) -> Report:
    """The server did not answer: no build, so neither EEMS rule can be decided (UNKNOWN)."""
    gone = Collection(CollectionStatus.UNREACHABLE, "connection refused")
    servers = tuple(
        dataclasses.replace(
            s.server, exsetup_version=None, build_source=None, admin_display_version=None, collection=gone
        )
        if s.server.name == "EX16-22A"
        else s.server
        for s in report.servers
    )
    inventory = dataclasses.replace(report.inventory, servers=servers)
    return evaluate(inventory, load_ruleset(), today=report.run.evaluated_on, generated_at=report.run.generated_at)


@pytest.mark.parametrize("gap", [_absent, _unreachable], ids=["not in the run", "undecided in the run"])
def test_a_run_that_cannot_say_does_not_break_a_stretch(
    half_year_reports: list[Report], tmp_path: Path, gap: Callable[[Report], Report]
) -> None:
    with open_history(tmp_path / "gap.sqlite") as history:
        for week, report in enumerate(half_year_reports):
            history.append(gap(report) if week == 10 else report, origin="scan")
        trend = build_trend(history, "Contoso")
    assert trend is not None
    left = trend.by_name["ex16-22a"]
    assert (left.blocked_since, left.blocked_runs) == (run_time(0), 25)  # one run fewer: the one that cannot say
    assert trend.points[10].undecided == (1 if gap is _unreachable else 0)


def test_the_chart_draws_one_bar_per_run_with_heights_proportional_to_the_counts(half_year_file: Path) -> None:
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso")
    assert trend is not None
    c = chart(trend)
    assert len(c.bars) == 26
    unit = (c.plot_bottom - c.plot_top) / c.ticks[-1][1]  # pixels per server
    for bar, (mar2023, jun2026) in zip(c.bars, expected_counts(), strict=True):
        red, orange = (sum(r.height for r in bar.rects if r.colour == colour) for colour in ("#FF0000", "#FF8C00"))
        assert (round(red / unit, 1), round(orange / unit, 1)) == (mar2023, jun2026)
        assert bar.label == str(mar2023 + jun2026)
        assert round(sum(r.height for r in bar.rects) / unit, 1) == 12
    assert [b.date for b in c.bars if b.date][-1] == "2026-11-16"


def test_mail_bars_add_up_to_the_share_of_servers(half_year_file: Path) -> None:
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso")
    assert trend is not None
    bars = mail_bars(trend, bar_px=300)
    assert len(bars) == 26
    first = bars[0]
    assert [(c.colour, c.width) for c in first.cells] == [("#FF0000", 50), ("#FF8C00", 125), ("#D9D9D9", 125)]
    assert first.text == "7 of 12 cannot receive mitigations (2 fail EEMS Mar 2023, 5 fail EEMS Jun 2026)"
    view = trend_view(trend, mail=True)
    assert view is not None
    assert [s.name for s in view.servers] == ["EX16-22A", "EX19-15A"]  # the longest-standing first
