"""The trend read back from a real history file of the simulated half year (fixtures/half-year.yaml), checked
against the numbers worked out by hand in that file."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from eems_check.history import build_trend, open_history
from eems_check.history.views import chart, mail_bars, trend_view

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


def test_a_shorter_window_says_the_stretch_may_be_older(half_year_file: Path) -> None:
    with open_history(half_year_file, create=False) as history:
        trend = build_trend(history, "Contoso", runs=4)
    assert trend is not None
    assert trend.total_runs == 26
    left = trend.by_name["ex16-22a"]
    assert (left.blocked_runs, left.since_first, left.blocked_since) == (4, True, run_time(22))


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
