"""The trend: how many servers could not receive mitigations (and why) over an organisation's last runs, and per
server since when it cannot, and when its build last changed.

What it does: reads the runs and their servers from a `History` and reduces them to a frozen `Trend` that the HTML
report, the mail and `eems-check history` print. What it must not do: write to the file or render.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from .store import History, RunRow, ServerRunRow, org_key

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
    since_first: bool  # the stretch reaches back to the first run of the trend: it may be older still
    build_changed: dt.datetime | None  # the first run on its present build, when an earlier run saw another
    first_seen: dt.datetime  # its first run in the trend
    build: str


@dataclass(frozen=True)
class Trend:
    org: str
    file: str
    points: tuple[Point, ...]  # oldest first; the last is the newest run
    reasons: tuple[tuple[str, str], ...]  # (rule id, label) of the EEMS rules, in stacking order
    servers: tuple[ServerTrend, ...]  # the newest run's servers, in its order
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


def _same_build(a: ServerRunRow, b: ServerRunRow) -> bool | None:
    """Whether two rows have the same build, at the precision both know (None: one of them is unknown)."""
    if a.build_number is None or b.build_number is None:
        return None
    x, y = a.build_number.split("."), b.build_number.split(".")
    if "cu" in (a.precision, b.precision):
        x, y = x[:3], y[:3]
    return x == y


def _server_trend(rows: list[tuple[RunRow, ServerRunRow]], labels: dict[str, str]) -> ServerTrend:
    """`rows`: one server's runs, oldest first, the newest being the trend's newest run."""
    now = rows[-1][1]
    since, count, reached_first = None, 0, False
    if now.blocked_by is not None:
        for i in range(len(rows) - 1, -1, -1):
            r, row = rows[i]
            if row.blocked_by is not None:
                since, count, reached_first = r.generated_at, count + 1, i == 0
            elif not row.undecided:
                break
    changed = None
    for i in range(len(rows) - 2, -1, -1):
        same = _same_build(rows[i][1], now)
        if same is False:
            changed = rows[i + 1][0].generated_at
            break
    number = now.build_number
    name = now.build_name + (f" ({number})" if number and number not in now.build_name else "")
    return ServerTrend(
        name=now.server,
        blocked_by=labels.get(now.blocked_by, now.blocked_by) if now.blocked_by else None,
        blocked_since=since,
        blocked_runs=count,
        since_first=reached_first,
        build_changed=changed,
        first_seen=rows[0][0].generated_at,
        build=name,
    )


def build_trend(history: History, org: str, *, runs: int = TREND_RUNS) -> Trend | None:
    """The trend of `org` over its newest `runs` runs (None: nothing recorded for it)."""
    window = history.runs(org, limit=runs)
    if not window:
        return None
    rows = history.server_runs(window)
    newest = window[-1]
    labels: dict[str, str] = {}
    for r in reversed(window):  # the newest label of a rule wins; the newest run's order first
        for rule_id, label in r.reasons:
            labels.setdefault(rule_id, label)
    per_run: dict[int, list[ServerRunRow]] = defaultdict(list)
    for row in rows:
        per_run[row.run_id].append(row)
        if row.blocked_by is not None:
            labels.setdefault(row.blocked_by, row.blocked_by)
    reasons = tuple(labels.items())
    points = []
    for r in window:
        servers = per_run[r.id]
        counts = dict.fromkeys(labels, 0)
        for row in servers:
            if row.blocked_by is not None:
                counts[row.blocked_by] += 1
        points.append(
            Point(r.id, r.generated_at, len(servers), tuple(counts.values()), sum(row.undecided for row in servers))
        )
    by_run = {r.id: r for r in window}
    per_server: dict[str, list[tuple[RunRow, ServerRunRow]]] = defaultdict(list)
    for row in rows:
        per_server[org_key(row.server)].append((by_run[row.run_id], row))
    trends = tuple(_server_trend(per_server[org_key(row.server)], labels) for row in per_run[newest.id])
    total = history.count_runs(org) if len(window) == runs else len(window)
    return Trend(org=newest.org, file=str(history.path), points=tuple(points), reasons=reasons, servers=trends,
                 total_runs=total)  # fmt: skip
