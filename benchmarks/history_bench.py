"""The scan history at size: a year of weekly runs of a synthetic 1,000-server organisation; print medians.

    .venv/bin/python benchmarks/history_bench.py [--servers 1000] [--weeks 52] [--repeat 7]

Measures, each as a median:
  * append: recording one run of N servers (one transaction, WAL, into a file that already holds the earlier runs);
  * trend: reading the newest 52 runs back and rendering the report's and the mail's trend sections;
  * the report's HTML rendered with and without the trend (what the trend adds to a report);
  * "Changes since" the previous run: its document read back from the file and compared with this run's;
and the history file's size after the last week. Goal (issue): append and trend each under 0.2 s on the
project's 2-core machine. Each week about 2% of the servers move to a newer build, so the file holds what a
real organisation's would: builds, findings and "days behind" messages that change from week to week.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evaluate_bench import synthetic

from eems_check.diff import compare
from eems_check.evaluate import evaluate
from eems_check.history import build_trend, open_history
from eems_check.history.views import trend_view
from eems_check.model import BuildSource, Inventory, Report
from eems_check.render import Format
from eems_check.render.html_report import environment
from eems_check.render.json_report import report_to_document
from eems_check.ruleset import RuleSet, load_ruleset

GOAL_S = 0.2
START = dt.datetime(2025, 12, 1, 7, 0, tzinfo=dt.timezone.utc)
PATCHED = "15.2.2562.53"


def weekly_reports(inventory: Inventory, ruleset: RuleSet, weeks: int, seed: int = 11) -> list[Report]:
    rnd = random.Random(seed)
    servers = list(inventory.servers)
    out = []
    for week in range(weeks):
        for i in rnd.sample(range(len(servers)), k=max(1, len(servers) // 50)):
            servers[i] = dataclasses.replace(servers[i], exsetup_version=PATCHED, build_source=BuildSource.EXSETUP)
        when = START + dt.timedelta(weeks=week)
        out.append(
            evaluate(
                dataclasses.replace(inventory, servers=tuple(servers)), ruleset, today=when.date(), generated_at=when
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--repeat", type=int, default=7, help="timed trend renderings and extra appends")
    args = parser.parse_args()
    ruleset = load_ruleset()
    inventory = synthetic(args.servers)
    t0 = time.perf_counter()
    reports = weekly_reports(inventory, ruleset, args.weeks + args.repeat)
    print(
        f"servers: {args.servers}, weeks: {args.weeks}; "
        f"{len(reports)} reports evaluated in {time.perf_counter() - t0:.1f} s"
    )
    env = environment()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "eems-history-Synthetic.sqlite"
        appends = []
        with open_history(path) as history:
            for report in reports[: args.weeks]:
                t = time.perf_counter()
                history.append(report, origin="scan")
                appends.append(time.perf_counter() - t)
        size = path.stat().st_size  # the last close checkpoints the WAL into the file
        wal = Path(f"{path}-wal")
        wal_size = wal.stat().st_size if wal.exists() else 0

        trend_times, read_times = [], []
        last = reports[args.weeks - 1]
        for _ in range(args.repeat):
            t = time.perf_counter()
            with open_history(path) as history:
                trend = build_trend(history, "Synthetic", runs=52)
            t1 = time.perf_counter()
            report = dataclasses.replace(last, trend=trend)
            env.get_template("_trend.html.j2").render(trend=trend_view(trend), anchors={})
            env.get_template("_trend_mail.html.j2").render(trend=trend_view(trend, mail=True))
            t2 = time.perf_counter()
            read_times.append(t1 - t)
            trend_times.append(t2 - t)
        html_with, html_without = [], []
        for _ in range(3):
            t = time.perf_counter()
            Format.HTML.renderer().render(report)
            html_with.append(time.perf_counter() - t)
            t = time.perf_counter()
            Format.HTML.renderer().render(last)
            html_without.append(time.perf_counter() - t)

        changes_times = []  # "Changes since" the previous run: its document from the file, compared with this one
        with open_history(path) as history:
            previous = history.runs("Synthetic", limit=1)[-1]
            for _ in range(3):
                t = time.perf_counter()
                compare(history.run_document(previous), report_to_document(reports[args.weeks]))
                changes_times.append(time.perf_counter() - t)

        more = []  # appends into the full file (a year already recorded)
        with open_history(path) as history:
            for extra in reports[args.weeks :]:
                t = time.perf_counter()
                history.append(extra, origin="scan")
                more.append(time.perf_counter() - t)

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:7.1f} ms  min {min(values) * 1000:7.1f} ms"

    append_all = statistics.median(appends)
    print(
        f"  append one run, over the first {args.weeks} weeks  {ms(appends)}  ratio to goal {append_all / GOAL_S:.2f}"
    )
    print(f"  append one run, into the full file     {ms(more)}  ratio to goal {statistics.median(more) / GOAL_S:.2f}")
    print(f"  trend of 52 runs: read                 {ms(read_times)}")
    print(f"  changes since the previous run         {ms(changes_times)}")
    trend_med = statistics.median(trend_times)
    print(f"  trend of 52 runs: read + both sections {ms(trend_times)}  ratio to goal {trend_med / GOAL_S:.2f}")
    with_s, without_s = statistics.median(html_with), statistics.median(html_without)
    print(
        f"  HTML report with / without the trend  {with_s * 1000:.1f} / {without_s * 1000:.1f} ms "
        f"(ratio {with_s / without_s:.2f})"
    )
    print(
        f"  file after {args.weeks} runs: {size / 1e6:.2f} MB ({size / args.weeks / 1e3:.1f} KB per run, "
        f"{size / args.weeks / args.servers:.0f} bytes per server and run); WAL left: {wal_size} bytes"
    )


if __name__ == "__main__":
    main()
