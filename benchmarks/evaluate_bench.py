"""Evaluate + render a synthetic organisation of N servers; print medians over several runs.

    .venv/bin/python benchmarks/evaluate_bench.py [--servers 5000] [--runs 5]

Target (issue): evaluate + HTML + JSON for 5,000 servers in at most 1 s on the project's 2-core machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from pathlib import Path

from eems_check.evaluate import evaluate
from eems_check.model import (
    BuildSource,
    Collection,
    CollectionStatus,
    EemsSettings,
    EventRecord,
    Inventory,
    OcsProbe,
    OrgInfo,
    Report,
    ServerRecord,
    ServiceState,
)
from eems_check.render import Format
from eems_check.ruleset import load_ruleset

BUILDS = [
    "15.2.2562.53",
    "15.2.2562.41",
    "15.2.1748.53",
    "15.2.1748.43",
    "15.2.1544.39",
    "15.2.1258.39",
    "15.2.1118.25",
    "15.2.1118.26",
    "15.1.2507.75",
    "15.1.2375.37",
    "15.2.986.42",
    "15.2.2562.99",
]


def synthetic(n: int, seed: int = 7) -> Inventory:
    rnd = random.Random(seed)
    servers = []
    for i in range(n):
        build = rnd.choice(BUILDS)
        unreachable = rnd.random() < 0.03
        events = tuple(
            EventRecord(1008, "Error", None, "Exception encountered while fetching mitigations")
            for _ in range(rnd.choice([0, 0, 0, 2]))
        )
        servers.append(
            ServerRecord(
                name=f"EX{i:05d}",
                fqdn=f"ex{i:05d}.contoso.com",
                site=f"Site{i % 40}",
                roles=("Mailbox",),
                admin_display_version="Version 15.2 (Build 1748.10)",
                exsetup_version=None if unreachable else build,
                build_source=BuildSource.ADMIN_DISPLAY_VERSION if unreachable else BuildSource.EXSETUP,
                eems=EemsSettings(
                    enabled=rnd.random() > 0.05,
                    applied=("PING1", "M2.1.0"),
                    blocked=("M1",) if rnd.random() < 0.05 else (),
                ),
                service=None if unreachable else ServiceState("MSExchangeMitigation", "Running", "Automatic"),
                service_collected=not unreachable,
                events=None if unreachable else events,
                log_lines=None if unreachable else (),
                ocs_probe=None if unreachable else OcsProbe(ran=True, url="https://x", status_code=200),
                collection=Collection(
                    CollectionStatus.UNREACHABLE if unreachable else CollectionStatus.OK,
                    "connection refused" if unreachable else None,
                ),
            )
        )
    return Inventory(org=OrgInfo("Synthetic", True), servers=tuple(servers))


def size_arguments() -> argparse.Namespace:
    """`--servers N --runs R`, the two knobs every benchmark of a synthetic organisation takes."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    return parser.parse_args()


def saved_report(n: int, folder: Path) -> tuple[Report, Path]:
    """The report of a synthetic n-server organisation, evaluated and saved as `folder/report.json`."""
    now = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    report = evaluate(synthetic(n), load_ruleset(), today=now.date(), generated_at=now)
    path = folder / "report.json"
    path.write_text(Format.JSON.renderer().render(report), encoding="utf-8")
    return report, path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ruleset = load_ruleset()
    inventory = synthetic(args.servers)
    now = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    Format.HTML.renderer().render(evaluate(synthetic(10), ruleset, today=now.date(), generated_at=now))  # warm-up
    timings: dict[str, list[float]] = {"evaluate": [], "html": [], "json": [], "csv": [], "total": [], "cpu": []}
    sizes = {}
    for _ in range(args.runs):
        c0 = time.process_time()
        t0 = time.perf_counter()
        report = evaluate(inventory, ruleset, today=now.date(), generated_at=now)
        t1 = time.perf_counter()
        html = Format.HTML.renderer().render(report)
        t2 = time.perf_counter()
        js = Format.JSON.renderer().render(report)
        t3 = time.perf_counter()
        timings["cpu"].append(time.process_time() - c0)
        cs = Format.CSV.renderer().render(report)
        t4 = time.perf_counter()
        for key, value in (
            ("evaluate", t1 - t0),
            ("html", t2 - t1),
            ("json", t3 - t2),
            ("csv", t4 - t3),
            ("total", t3 - t0),
        ):
            timings[key].append(value)
        sizes = {"html": len(html.encode()), "json": len(js.encode()), "csv": len(cs.encode())}
    print(f"servers: {args.servers}, runs: {args.runs}, rules: {len(ruleset.active_rules)}")
    for key, values in timings.items():
        label = {"total": "evaluate+html+json", "cpu": "  same, CPU time"}.get(key, key)
        print(f"  {label:20} median {statistics.median(values) * 1000:8.1f} ms   min {min(values) * 1000:8.1f} ms")
    per_server = statistics.median(timings["total"]) / args.servers * 1e6
    print(
        f"  per server (evaluate+html+json): {per_server:.0f} us; target 1000 ms total -> "
        f"ratio {statistics.median(timings['total']) / 1.0:.2f}"
    )
    print("  sizes: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sizes.items()))


if __name__ == "__main__":
    main()
