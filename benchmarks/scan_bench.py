"""Scan a simulated organisation of N servers with injected latency; print wall time, speed-up, CPU and memory.

    .venv/bin/python benchmarks/scan_bench.py [--servers 200] [--delay-ms 50] [--parallel 16]

Targets (issue): >= 20x speed-up of the default parallelism over --parallel 1, <= 15 ms client CPU per server,
<= 250 MB peak RSS at 1,000 servers. Everything runs on loopback; the lab runs in this process too, so CPU and
RSS figures include the simulated servers and are upper bounds for the client.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import yaml

from eems_check.collect import ScanOptions, scan
from eems_check.lab import LabOrg, load_org

BUILDS = ["15.2.2562.53", "15.2.1748.46", "15.2.1118.25", "15.1.2507.23"]


def org_file(n: int, delay_ms: int, folder: Path) -> Path:
    servers = [
        {
            "name": f"EX{i:04d}",
            "site": f"Site{i % 5}",
            "build": BUILDS[i % len(BUILDS)],
            "faults": [{"kind": "delay", "ms": delay_ms}],
        }
        for i in range(n)
    ]
    doc = {
        "organization": {
            "name": "Bench",
            "domain": "bench.lab",
            "mitigations_enabled": True,
            "discovery_server": "EX0000",
        },
        "accounts": [{"username": "BENCH\\scanner", "password": "Bench-Scan-2026!"}],
        "servers": servers,
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def run(lab: LabOrg, parallel: int) -> tuple[float, float, int]:
    options = ScanOptions.for_lab(lab, parallel=parallel, server_timeout=120.0)
    before = lab.request_count()
    t0, c0 = time.perf_counter(), time.process_time()
    inventory = scan(options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = sum(1 for s in inventory.servers if s.collection.status.value == "ok")
    print(
        f"  parallel {parallel:3}: {wall:7.2f} s wall, {cpu:6.2f} s CPU (client+lab), "
        f"{ok}/{len(inventory.servers)} ok, {lab.request_count() - before} HTTP requests"
    )
    return wall, cpu, len(inventory.servers)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--skip-serial", action="store_true", help="skip the --parallel 1 run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        spec = load_org(org_file(args.servers, args.delay_ms, Path(tmp)))
        with LabOrg(spec) as lab:
            print(f"servers: {args.servers}, injected delay per request: {args.delay_ms} ms")
            wall_p, cpu_p, n = run(lab, args.parallel)
            if not args.skip_serial:
                wall_1, _, _ = run(lab, 1)
                print(f"  speed-up parallel {args.parallel} vs 1: {wall_1 / wall_p:.1f}x")
            print(f"  CPU per server at parallel {args.parallel}: {cpu_p / n * 1000:.1f} ms (client and lab together)")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak RSS: {peak_mb:.0f} MB (client and lab together)")


if __name__ == "__main__":
    main()
