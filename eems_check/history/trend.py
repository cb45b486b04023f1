"""The trend: how many servers could not receive mitigations (and why) over an organisation's last runs, and per
server since when it cannot, and when its build last changed.

What it does: reads the runs and their servers from a `History` and reduces them to a frozen `Trend` that the HTML
report, the mail and `eems-check history` print. What it must not do: write to the file or render.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cached_property

from .store import BuildRow, History, ServerFacts, from_epoch, org_key

TREND_RUNS = 52  # a year of weekly runs


@dataclass(frozen=True)
class Point:
    """One run: how many of its servers cannot receive mitigations, per reason (aligned with `Trend.reasons`)."""

    run_id: int
    generated_at: dt.datetime
    servers: int
    by_reason: tuple[int, ...]
    undecided: int

    @property
    def cannot_receive(self) -> int:
        return sum(self.by_reason)

    @property
    def date(self) -> str:
        return self.generated_at.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class ServerTrend:
    """One server of the newest run, over the runs of the trend."""

    name: str
    blocked_by: str | None  # the label of the EEMS rule that keeps it from receiving mitigations now
    blocked_since: dt.datetime | None  # the first run of its present unbroken stretch of such runs
    blocked_runs: int  # runs in that stretch (runs that could not decide are skipped, not counted)
    since_first: bool  # the stretch begins with its first recorded run: it may be older still
    build_changed: dt.datetime | None  # the run in which its build last changed (None: not since first seen)
    first_seen: dt.datetime  # its first recorded run
    build: str


@dataclass(frozen=True)
class Trend:
    org: str
    file: str
    points: tuple[Point, ...]  # oldest first; the last is the newest run
    reasons: tuple[tuple[str, str], ...]  # (rule id, label) of the EEMS rules, in stacking order
    servers: tuple[ServerTrend, ...]  # the newest run's servers, in the order they were first recorded
    total_runs: int  # recorded for this organisation (the trend shows the newest `len(points)`)

    @cached_property
    def blocked(self) -> tuple[ServerTrend, ...]:
        """Servers that cannot receive mitigations now, the longest-standing first."""
        out = [s for s in self.servers if s.blocked_by is not None]
        out.sort(key=lambda s: (-s.blocked_runs, s.blocked_since or dt.datetime.max.replace(tzinfo=dt.timezone.utc)))
        return tuple(out)

    @cached_property
    def by_name(self) -> dict[str, ServerTrend]:
        return {org_key(s.name): s for s in self.servers}

    @property
    def first(self) -> Point:
        return self.points[0]

    @property
    def last(self) -> Point:
        return self.points[-1]

    @property
    def headline(self) -> str:
        """One sentence: from how many to how many over the trend's runs."""
        a, b = self.first, self.last
        runs = len(self.points)
        if runs == 1:
            return f"{b.cannot_receive} of {b.servers} servers cannot receive mitigations (the first recorded run)"
        move = b.cannot_receive - a.cannot_receive
        word = "fewer" if move < 0 else "more" if move > 0 else "no change"
        delta = f"{abs(move)} {word}" if move else word
        return (
            f"servers that cannot receive mitigations: {a.cannot_receive} of {a.servers} on {a.date}, "
            f"{b.cannot_receive} of {b.servers} on {b.date} ({delta}, {runs} runs)"
        )


def _server_trend(facts: ServerFacts, labels: dict[str, str], builds: dict[int, BuildRow]) -> ServerTrend:
    since = facts.stretch_since if facts.blocked_by is not None else None
    return ServerTrend(
        name=facts.name,
        blocked_by=labels.get(facts.blocked_by, facts.blocked_by) if facts.blocked_by else None,
        blocked_since=from_epoch(since) if since is not None else None,
        blocked_runs=facts.stretch_runs if since is not None else 0,
        since_first=since is not None and since == facts.first_seen,
        build_changed=from_epoch(facts.build_changed) if facts.build_changed is not None else None,
        first_seen=from_epoch(facts.first_seen),
        build=builds[facts.build_id].text,
    )


def build_trend(history: History, org: str, *, runs: int = TREND_RUNS) -> Trend | None:
    """The trend of `org` over its newest `runs` runs (None: nothing recorded for it). The per-server facts
    reach back beyond those runs: each row carries them from the row before."""
    window = history.runs(org, limit=runs)
    if not window:
        return None
    labels: dict[str, str] = {}
    for r in reversed(window):  # the newest label of a rule wins; the newest run's order first
        for rule_id, label in r.reasons:
            labels.setdefault(rule_id, label)
    for r in window:
        for rule_id in r.by_reason:
            labels.setdefault(rule_id, rule_id)
    points = tuple(
        Point(r.id, r.generated_at, r.servers, tuple(r.by_reason.get(k, 0) for k in labels), r.undecided)
        for r in window
    )
    builds = history.builds()
    servers = tuple(_server_trend(f, labels, builds) for f in history.server_facts(window[-1]))
    total = history.count_runs(org) if len(window) == runs else len(window)
    return Trend(org=window[-1].org, file=str(history.path), points=points, reasons=tuple(labels.items()),
                 servers=servers, total_runs=total)  # fmt: skip
