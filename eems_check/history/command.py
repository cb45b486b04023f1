"""The history on the command line: `--history FILE` / `--no-history` on scan and evaluate, and the
`eems-check history` commands (show, prune, import).

What it does: `record` appends a run to the organisation's history (by default a file beside the reports), takes
"Changes since" from the previous run when no `--compare-to` was given, and attaches the trend to the report. A
history that cannot be used is one line on stderr: the reports are written all the same.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import EemsCheckError, InputError
from ..model import Report
from .store import HistoryError, RunRow, open_history, utc_text
from .trend import TREND_RUNS, ServerTrend, Trend, build_trend
from .views import point_detail

SUBCOMMANDS = ("show", "prune", "import")
HISTORY_SCHEMA = "eems-check/history"
HISTORY_SCHEMA_VERSION = 1
BAR_CHARS = 30


def history_name(org: str) -> str:
    from ..outputs import org_slug

    return f"eems-history-{org_slug(org)}.sqlite"


def add_run_arguments(p: argparse.ArgumentParser) -> None:
    """--history / --no-history for scan and evaluate."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help="record this run in this history file (SQLite); default: eems-history-<organisation>.sqlite beside "
        "the reports. Gives the report its trend and, without --compare-to, 'Changes since' the previous run",
    )
    group.add_argument("--no-history", action="store_true", help="record nothing, show no trend")


def _default_path(report_paths: Sequence[Path], org: str) -> Path:
    folder = report_paths[0].parent if report_paths else Path(".")
    return folder / history_name(org)


def record(args: argparse.Namespace, report: Report, report_paths: Sequence[Path]) -> tuple[Report, str | None]:
    """Append `report` to its history and return it with its trend (and, when it has no changes yet, the changes
    since the previous recorded run), plus a line for the terminal. Commands without the options (demo) and
    --no-history record nothing. A history that cannot be used prints one line on stderr and changes nothing."""
    if getattr(args, "no_history", True):
        return report, None
    org = report.inventory.org.name
    path: Path = args.history or _default_path(report_paths, org)
    try:
        with open_history(path) as history:
            changes = report.changes
            if changes is None:
                changes = _changes_since_previous(history, report)
            added = history.append(report, origin=args.command)
            trend = build_trend(history, org)
    except (HistoryError, EemsCheckError) as exc:
        print(f"eems-check: error: {exc}; the reports are written without the history", file=sys.stderr)
        return report, None
    report = dataclasses.replace(report, changes=changes, trend=trend)
    runs = trend.total_runs if trend else 0
    note = "" if added else "; a run generated at the same second was already recorded, so this one was not"
    return report, f"History: {path.resolve()} ({runs} run{'s' if runs != 1 else ''} of {org}{note})"


def _changes_since_previous(history: Any, report: Report) -> Any:
    previous = history.runs(report.inventory.org.name, limit=1, before=report.run.generated_at)
    if not previous:
        return None
    from ..diff import compare

    run = previous[-1]
    label = f"{history.path} (run of {run.generated_at:%Y-%m-%d %H:%M UTC})"
    return compare(history.run_report(run), report, old_label=label)


# --- eems-check history ... ----------------------------------------------------------------------------------


def add_parser(sub: Any, add_common: Callable[[argparse.ArgumentParser], None], parser_class: type) -> None:
    hist = sub.add_parser(
        "history", help="the runs and trend recorded in a history file; prune it; import saved reports into it"
    )
    hsub = hist.add_subparsers(dest="history_command", required=True, parser_class=parser_class)
    p = hsub.add_parser("show", help="print the runs and the trend (the default: eems-check history FILE)")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--org", help="only this organisation (default: every organisation in the file)")
    p.add_argument(
        "--runs", type=_positive, default=TREND_RUNS, metavar="N", help=f"newest N runs (default {TREND_RUNS})"
    )
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)
    p = hsub.add_parser("prune", help="delete old runs and compact the file")
    p.add_argument("file", type=Path, metavar="FILE")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--keep", type=_positive, metavar="N", help="keep the newest N runs of each organisation")
    how.add_argument("--older-than", type=_positive, metavar="DAYS", help="delete runs generated more than DAYS ago")
    add_common(p)
    p = hsub.add_parser("import", help="record saved JSON reports (eems-check/report) as past runs")
    p.add_argument("reports", type=Path, nargs="+", metavar="REPORT.json")
    p.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help="the history file (default: eems-history-<organisation>.sqlite beside each report)",
    )
    add_common(p)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def default_subcommand(argv: list[str]) -> list[str]:
    """`eems-check history FILE` means `eems-check history show FILE`."""
    if len(argv) >= 2 and argv[0] == "history" and argv[1] not in (*SUBCOMMANDS, "-h", "--help"):
        return ["history", "show", *argv[1:]]
    return argv


def run(args: argparse.Namespace) -> int:
    if args.history_command == "prune":
        return _prune(args)
    if args.history_command == "import":
        return _import(args)
    return _show(args)


def _prune(args: argparse.Namespace) -> int:
    cutoff = None
    if args.older_than is not None:
        cutoff = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=args.older_than)
    with open_history(args.file, create=False) as history:
        before = args.file.stat().st_size
        deleted = history.prune(keep=args.keep, older_than=cutoff)
        left = len(history.runs())
    if not args.quiet:
        after = args.file.stat().st_size
        print(f"{args.file}: deleted {deleted} run(s), {left} left; {before:,} -> {after:,} bytes")
    return 0


def _import(args: argparse.Namespace) -> int:
    from ..report_io import read_report

    bad = 0
    for path in args.reports:
        try:
            report = read_report(path)
            target = args.history or _default_path([path], report.inventory.org.name)
            with open_history(target) as history:
                added = history.append(report, origin="import", source=str(path))
        except InputError as exc:
            bad += 1
            print(f"eems-check: error: {exc}", file=sys.stderr)
            continue
        if not args.quiet:
            stamp = f"{report.run.generated_at:%Y-%m-%d %H:%M UTC}"
            what = "recorded" if added else "already recorded"
            print(f"{path}: {what} as the run of {report.inventory.org.name} at {stamp} in {target}")
    return 2 if bad else 0


def _show(args: argparse.Namespace) -> int:
    with open_history(args.file, create=False) as history:
        orgs = [args.org] if args.org else history.orgs()
        views = []
        for org in orgs:
            trend = build_trend(history, org, runs=args.runs)
            if trend is None:
                raise InputError(f"{args.file}: no runs of organisation {org!r} (it has: {', '.join(history.orgs())})")
            views.append((trend, history.runs(org, limit=args.runs)))
    if args.json:
        print(json.dumps(_document(args.file, views), indent=2, ensure_ascii=False))
        return 0
    print(f"{args.file}: {len(views)} organisation(s)" if views else f"{args.file}: no runs recorded yet")
    for trend, runs in views:
        print()
        print(format_trend(trend, runs))
    return 0


def _bar(trend: Trend, count: int) -> str:
    most = max(p.servers for p in trend.points) or 1
    n = round(count * BAR_CHARS / most)
    return "#" * (n or (1 if count else 0))


def format_trend(trend: Trend, runs: list[RunRow]) -> str:
    """The terminal view of one organisation: its runs with a bar each, then the servers left behind."""
    lines = [
        f"{trend.org}: {trend.total_runs} run(s) recorded; {trend.headline}.",
        f"  {'Generated (UTC)':16}  {'Origin':8}  {'Servers':>7}  {'Cannot':>6}  "
        "Servers that cannot receive mitigations, by reason",
    ]
    origin = {r.id: r.origin for r in runs}
    for p in trend.points:
        lines.append(
            f"  {p.generated_at:%Y-%m-%d %H:%M}  {origin.get(p.run_id, ''):8}  {p.servers:>7}  {p.cannot_receive:>6}  "
            f"{_bar(trend, p.cannot_receive):{BAR_CHARS}}  {point_detail(trend, p)}".rstrip()
        )
    if trend.blocked:
        lines.append(f"Servers that cannot receive mitigations now ({len(trend.blocked)}):")
        for s in trend.blocked:
            lines.append(f"  {s.name}: {server_line(s)}")
    else:
        lines.append("Every server of the newest run can receive mitigations.")
    return "\n".join(lines)


def server_line(s: ServerTrend) -> str:
    """E.g. "fails EEMS Mar 2023 since 2026-05-04 (26 runs); Exchange 2019 CU12 (15.2.1118.7); same build since
    2026-05-04"."""
    since = f"since {s.blocked_since:%Y-%m-%d}{' or earlier' if s.since_first else ''}" if s.blocked_since else ""
    runs = f" ({s.blocked_runs} run{'s' if s.blocked_runs != 1 else ''})"
    changed = (
        f"build last changed {s.build_changed:%Y-%m-%d}"
        if s.build_changed
        else f"same build since {s.first_seen:%Y-%m-%d}"
    )
    return f"fails {s.blocked_by} {since}{runs}; {s.build}; {changed}"


def _document(file: Path, views: list[tuple[Trend, list[RunRow]]]) -> dict[str, Any]:
    def when(stamp: dt.datetime | None) -> str | None:
        return utc_text(stamp) if stamp else None

    return {
        "schema": HISTORY_SCHEMA,
        "schema_version": HISTORY_SCHEMA_VERSION,
        "file": str(file),
        "organisations": [
            {
                "name": trend.org,
                "runs_recorded": trend.total_runs,
                "reasons": [{"rule_id": r, "label": label} for r, label in trend.reasons],
                "runs": [
                    {
                        "generated_at": when(r.generated_at),
                        "evaluated_on": r.evaluated_on,
                        "origin": r.origin,
                        "source": r.source,
                        "tool_version": r.tool_version,
                        "rules_version": r.rules_version,
                        "servers": p.servers,
                        "cannot_receive": p.cannot_receive,
                        "by_reason": dict(zip((rid for rid, _ in trend.reasons), p.by_reason, strict=True)),
                        "undecided": p.undecided,
                        "worst": r.worst,
                    }
                    for r, p in zip(runs, trend.points, strict=True)
                ],
                "servers": [
                    {
                        "server": s.name,
                        "build": s.build,
                        "cannot_receive": s.blocked_by is not None,
                        "blocked_by": s.blocked_by,
                        "blocked_since": when(s.blocked_since),
                        "blocked_since_at_least": s.since_first,
                        "blocked_runs": s.blocked_runs,
                        "build_changed": when(s.build_changed),
                        "first_seen": when(s.first_seen),
                    }
                    for s in trend.servers
                ],
            }
            for trend, runs in views
        ],
    }
