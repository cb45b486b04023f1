"""The trend laid out for the templates: the geometry of the report's inline SVG chart and the mail's table-drawn
bars. Every value here is a number or a short string; `templates/_trend.html.j2` and `_trend_mail.html.j2` only
print them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .trend import Point, Trend

REASON_COLOURS = ("#FF0000", "#FF8C00", "#8B0000", "#A0522D", "#C71585")  # first EEMS rule failing, then the next
UNDECIDED_COLOUR = "#FFE600"  # the report's WARNING yellow: an EEMS rule is UNKNOWN
REST_COLOUR = "#D9D9D9"  # servers that can receive mitigations
MAIL_RUNS = 26  # rows of bars in the mail: half a year of weekly runs
MAIL_BAR_PX = 300


@dataclass(frozen=True)
class Key:
    """One entry of the legend: a colour and what it counts."""

    colour: str
    label: str


def keys(trend: Trend) -> tuple[Key, ...]:
    out = [Key(REASON_COLOURS[i % len(REASON_COLOURS)], f"fails {label}") for i, (_, label) in enumerate(trend.reasons)]
    if any(p.undecided for p in trend.points):
        out.append(Key(UNDECIDED_COLOUR, "undecided"))
    out.append(Key(REST_COLOUR, "can receive mitigations"))
    return tuple(out)


def point_detail(trend: Trend, p: Point) -> str:
    """E.g. "5 fail EEMS Mar 2023, 2 fail EEMS Jun 2026" ('' when every server can receive mitigations)."""
    parts = [f"{n} fail {label}" for n, (_, label) in zip(p.by_reason, trend.reasons, strict=True) if n]
    if p.undecided:
        parts.append(f"{p.undecided} undecided")
    return ", ".join(parts)


def point_text(trend: Trend, p: Point) -> str:
    """E.g. "7 of 12 cannot receive mitigations (5 fail EEMS Mar 2023, 2 fail EEMS Jun 2026)"."""
    detail = point_detail(trend, p)
    return f"{p.cannot_receive} of {p.servers} cannot receive mitigations" + (f" ({detail})" if detail else "")


def _segments(trend: Trend, p: Point) -> list[tuple[str, int]]:
    """(colour, servers) from the bottom of a bar up: each reason, undecided, then those that can receive."""
    out = [(REASON_COLOURS[i % len(REASON_COLOURS)], n) for i, n in enumerate(p.by_reason)]
    out.append((UNDECIDED_COLOUR, p.undecided))
    out.append((REST_COLOUR, max(p.servers - p.cannot_receive - p.undecided, 0)))
    return [(c, n) for c, n in out if n > 0]


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    width: float
    height: float
    colour: str


@dataclass(frozen=True)
class Bar:
    title: str
    rects: tuple[Rect, ...]
    label: str | None  # the number written above the bar, when there is room
    label_x: float
    label_y: float
    date: str | None  # the date written under the bar, every few bars
    date_x: float
    date_anchor: str  # SVG text-anchor: the first and last dates stay inside the chart


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    plot_left: int
    plot_right: int
    plot_top: int
    plot_bottom: int
    ticks: tuple[tuple[float, int], ...]  # (y, servers) of each horizontal grid line
    bars: tuple[Bar, ...]
    summary: str  # the chart's accessible name


def _step(top: int) -> int:
    """A round grid step giving at most five lines up to `top`."""
    raw = max(top / 5, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    return int(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw))


def chart(trend: Trend, width: int = 760, height: int = 240) -> Chart:
    """Stacked bars, one per run, oldest on the left: the servers that cannot receive mitigations, per reason, on
    a grey bar of all the run's servers."""
    left, right, top, bottom = 48, width - 12, 18, height - 34
    n = len(trend.points)
    slot = (right - left) / n
    bar_w = max(min(slot * 0.7, 48.0), 1.0)
    most = max((p.servers for p in trend.points), default=0) or 1
    step = _step(most)
    y_max = step * math.ceil(most / step)
    scale = (bottom - top) / y_max
    every = max(1, math.ceil(n / 8))
    bars = []
    for i, p in enumerate(trend.points):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(bottom)
        rects = []
        for colour, count in _segments(trend, p):
            h = count * scale
            y -= h
            rects.append(Rect(round(x, 2), round(y, 2), round(bar_w, 2), round(h, 2), colour))
        red_top = bottom - p.cannot_receive * scale
        show_number = slot >= 22 or i in (0, n - 1)
        # every few bars a date, and always the newest; a regular one too close to the newest gives way
        show_date = i == n - 1 or (i % every == 0 and n - 1 - i >= max(every / 2, 1))
        bars.append(
            Bar(
                title=f"{p.date}: {point_text(trend, p)}",
                rects=tuple(rects),
                label=str(p.cannot_receive) if show_number else None,
                label_x=round(x + bar_w / 2, 2),
                label_y=round(min(red_top, bottom) - 4, 2),
                date=p.date if show_date else None,
                date_x=round(x if i == 0 else x + bar_w if i == n - 1 else x + bar_w / 2, 2),
                date_anchor="start" if i == 0 else "end" if i == n - 1 else "middle",
            )
        )
    ticks = tuple((round(bottom - v * scale, 2), v) for v in range(0, y_max + 1, step))
    return Chart(width, height, left, right, top, bottom, ticks, tuple(bars), f"{trend.org}: {trend.headline}")


@dataclass(frozen=True)
class MailCell:
    colour: str
    width: int


@dataclass(frozen=True)
class MailBar:
    date: str
    cells: tuple[MailCell, ...]
    text: str


def mail_bars(trend: Trend, runs: int = MAIL_RUNS, bar_px: int = MAIL_BAR_PX) -> tuple[MailBar, ...]:
    """One row per run (the newest `runs`, oldest first): cells whose pixel widths add up to the run's share of the
    widest run, each at least 1 px when it counts anyone."""
    points = trend.points[-runs:]
    most = max((p.servers for p in points), default=0) or 1
    out = []
    for p in points:
        cells = []
        for colour, count in _segments(trend, p):
            cells.append(MailCell(colour, max(1, round(count * bar_px / most))))
        out.append(MailBar(p.date, tuple(cells), point_text(trend, p)))
    return tuple(out)


@dataclass(frozen=True)
class TableRow:
    date: str
    servers: int
    cannot_receive: int
    by_reason: tuple[int, ...]
    undecided: int


@dataclass(frozen=True)
class ServerRow:
    name: str
    reason: str
    since: str  # "2026-05-04", or "2026-05-04 or earlier" when that is the server's first recorded run
    runs: int
    build: str
    build_changed: str


SERVER_ROWS = 200  # per-server rows in the report (25 in the mail): the rest are counted


@dataclass(frozen=True)
class TrendView:
    """What the trend partials print."""

    trend: Trend
    headline: str
    keys: tuple[Key, ...]
    chart: Chart
    table: tuple[TableRow, ...]  # newest first
    servers: tuple[ServerRow, ...]  # those that cannot receive mitigations now, longest first
    more_servers: int
    build_changes: tuple[tuple[str, str, str], ...]  # (server, build now, changed on) within the chart, newest first
    more_build_changes: int
    mail_bars: tuple[MailBar, ...]
    text_lines: tuple[str, ...]  # the plain-text chart


def _server_rows(trend: Trend, limit: int) -> tuple[ServerRow, ...]:
    out = []
    for s in trend.blocked[:limit]:
        since = f"{s.blocked_since:%Y-%m-%d}" if s.blocked_since else "—"
        changed = f"{s.build_changed:%Y-%m-%d}" if s.build_changed else f"unchanged since {s.first_seen:%Y-%m-%d}"
        out.append(
            ServerRow(
                s.name,
                s.blocked_by or "",
                since + (" or earlier" if s.since_first else ""),
                s.blocked_runs,
                s.build,
                changed,
            )
        )
    return tuple(out)


def text_lines(trend: Trend, runs: int = MAIL_RUNS, chars: int = 30) -> tuple[str, ...]:
    """The trend as lines of plain text: date, a bar of '#', the numbers."""
    points = trend.points[-runs:]
    most = max((p.servers for p in points), default=0) or 1
    out = []
    for p in points:
        n = round(p.cannot_receive * chars / most) or (1 if p.cannot_receive else 0)
        out.append(f"{p.date} {'#' * n:{chars}} {point_text(trend, p)}")
    return tuple(out)


def trend_view(trend: Trend | None, *, mail: bool = False) -> TrendView | None:
    """The view the report (or, with `mail`, the mail) prints; None without a history."""
    if trend is None:
        return None
    limit = 25 if mail else SERVER_ROWS
    start = trend.first.generated_at
    changed = sorted(
        (s for s in trend.servers if s.build_changed is not None and s.build_changed >= start),
        key=lambda s: (-s.build_changed.timestamp() if s.build_changed else 0, s.name.casefold()),
    )
    headline = trend.headline
    return TrendView(
        trend=trend,
        headline=headline[0].upper() + headline[1:],
        keys=keys(trend),
        chart=chart(trend),
        table=tuple(
            TableRow(p.date, p.servers, p.cannot_receive, p.by_reason, p.undecided) for p in reversed(trend.points)
        ),
        servers=_server_rows(trend, limit),
        more_servers=max(len(trend.blocked) - limit, 0),
        build_changes=tuple((s.name, s.build, f"{s.build_changed:%Y-%m-%d}") for s in changed[:limit]),
        more_build_changes=max(len(changed) - limit, 0),
        mail_bars=mail_bars(trend) if mail else (),
        text_lines=text_lines(trend) if mail else (),
    )
