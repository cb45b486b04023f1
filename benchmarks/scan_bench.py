"""Scan a simulated organisation of N servers with injected latency; print wall time, speed-up, client CPU and RSS.

    .venv/bin/python benchmarks/scan_bench.py [--servers 200] [--delay-ms 50] [--parallel N] [--runs 5]
                                              [--skip-serial] [--lab-processes 2]
    .venv/bin/python benchmarks/scan_bench.py --realistic [--servers 200] [--server-timeout 30] [--runs 3]
    .venv/bin/python benchmarks/scan_bench.py --hostile endless|negative [--servers 50] [--runs 3] --skip-serial

--realistic is what an admin meets: 200 ms per WinRM request, the collector taking 2 s on each server, 5 % of the
servers refusing connections and 1 % never answering. It prints the wall time against the floor no scanner can
beat at that parallelism, ceil(servers / parallel) x (requests per server x delay + collector time) + one
--server-timeout (for the hung servers), and the ratio (goal: within 1.25x). --hostile makes one server stream an
endless answer (or one with a negative chunk size) and prints the scanner's peak RSS (goal: <= 500 MB) and that
every other server was collected.

The simulated organisation runs in child processes (--lab-processes, each serving a share of the servers), so the
client CPU time and peak RSS printed are the scanner's own; the children report their CPU per run too. On a
2-core machine they share the cores with the scanner, whose one interpreter lock then bounds the parallel run.
Medians over --runs parallel scans, then one scan at --parallel 1. A fixed pure-Python loop is timed before and
after: a machine's speed can drift by a third within minutes, so compare figures taken close together.
Targets (issue): >= 20x speed-up of the default parallelism over --parallel 1, <= 15 ms client CPU per server,
<= 250 MB peak RSS at 1,000 servers. Everything stays on loopback.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import statistics
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import yaml

from eems_check.collect import ScanOptions, scan

BUILDS = ["15.2.2562.53", "15.2.1748.46", "15.2.1118.25", "15.1.2507.23"]
REQUESTS_PER_SERVER = 7  # a collector run over sealed NTLM with the eager first token (the lab counts them too)
COLLECTOR_MS = 2000  # --realistic: the collector's own run time on a server (events, logs, ExSetup.exe)


def _faults(i: int, n: int, delay_ms: int, realistic: bool, hostile: str | None) -> list[dict[str, Any]]:
    faults: list[dict[str, Any]] = [{"kind": "delay", "ms": delay_ms}]
    if i == 0:
        return faults  # the discovery server answers
    if realistic:
        faults.append({"kind": "delay", "ms": COLLECTOR_MS, "scope": "collector"})
        if i % 20 == 1:  # 5 %
            faults.append({"kind": "refuse", "endpoint": "wsman"})
        elif i % 100 == 2:  # 1 %
            faults.append({"kind": "hang", "endpoint": "wsman"})
    if hostile and i == n // 2:
        faults.append({"kind": {"endless": "endless_body", "negative": "negative_chunk"}[hostile], "endpoint": "wsman"})
    return faults


def org_file(n: int, delay_ms: int, folder: Path, *, realistic: bool = False, hostile: str | None = None) -> Path:
    servers = [
        {
            "name": f"EX{i:04d}",
            "site": f"Site{i % 5}",
            "build": BUILDS[i % len(BUILDS)],
            "faults": _faults(i, n, delay_ms, realistic, hostile),
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


@dataclass(frozen=True)
class LabFacts:
    """What the scanner needs of the lab running in the child process (ScanOptions.for_lab reads these)."""

    discovery_fqdn: str
    https: bool
    exchange_port: int
    wsman_port: int
    credentials: tuple[str, str]
    addresses: dict[str, str]
    http_port: int
    web_https: bool

    def address_map(self) -> dict[str, str]:
        return self.addresses


def serve(path: str, conn: Connection, shard: int, shards: int, ports: tuple[int, int, int] | None) -> None:
    """One lab process serving every `shards`-th server (the discovery server in shard 0); all list them all."""
    from eems_check.lab import LabOrg, load_org

    spec = load_org(path)
    discovery = (spec.discovery_server or "").lower()  # the bench org always names it
    names = [s.name for s in spec.servers if s.name.lower() != discovery]
    mine = names[shard::shards] + ([discovery] if shard == 0 and discovery else [])
    exchange, wsman, http = ports or (0, 0, 0)
    with LabOrg(spec, serve=mine, exchange_port=exchange, wsman_port=wsman, http_port=http) as lab:
        conn.send(
            LabFacts(
                lab.discovery_fqdn,
                lab.https,
                lab.exchange_port,
                lab.wsman_port,
                lab.credentials,
                lab.address_map(),
                lab.http_port,
                lab.web_https,
            )
        )
        while conn.recv() == "cpu":  # the parent asks for the lab's CPU time until it says stop
            conn.send(time.process_time())
        conn.send(lab.request_count())


class Labs:
    """The simulated organisation spread over `count` child processes (each its own interpreter, as real
    servers share no lock); facts, CPU time and request counts are the sums over them."""

    def __init__(self, path: Path, count: int) -> None:
        ctx = mp.get_context("spawn")
        self._conns: list[Connection] = []
        self._procs: list[Any] = []
        ports: tuple[int, int, int] | None = None
        for shard in range(count):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=serve, args=(str(path), child, shard, count, ports), daemon=True)
            proc.start()
            facts: LabFacts = parent.recv()
            if shard == 0:
                self.facts = facts
                ports = (facts.exchange_port, facts.wsman_port, facts.http_port)
            self._conns.append(parent)
            self._procs.append(proc)

    def cpu(self) -> float:
        for conn in self._conns:
            conn.send("cpu")
        return sum(conn.recv() for conn in self._conns)

    def stop(self) -> int:
        for conn in self._conns:
            conn.send("stop")
        requests = sum(conn.recv() for conn in self._conns)
        for proc in self._procs:
            proc.join(10)
        return int(requests)


def run(labs: Labs, parallel: int, server_timeout: float = 300.0) -> tuple[float, float, float]:
    """One scan: wall seconds, client CPU and simulated servers' CPU (both ms per server)."""
    options = ScanOptions.for_lab(
        labs.facts, parallel=parallel, server_timeout=server_timeout, operation_timeout=20, discovery_timeout=600.0
    )
    lab0 = labs.cpu()
    t0, c0 = time.perf_counter(), time.process_time()
    inventory = scan(options)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    lab_cpu = labs.cpu() - lab0
    n = len(inventory.servers)
    ok = sum(1 for s in inventory.servers if s.collection.status.value == "ok")
    others = sorted({f"{s.name}: {s.collection.status.value}" for s in inventory.servers if s.collection.reason})
    print(
        f"  parallel {parallel:3}: {wall:7.2f} s wall, client CPU {cpu / n * 1000:5.1f} ms per server, "
        f"simulated servers' CPU {lab_cpu / n * 1000:5.1f} ms per server, {ok}/{n} ok, "
        f"RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )
    for line in others[:3] if len(others) <= 3 else []:
        print(f"    {line}")
    return wall, cpu / n * 1000, lab_cpu / n * 1000


def calibration_ms() -> float:
    """CPU milliseconds of a fixed pure-Python loop: this machine's speed at the moment, to compare batches by
    (the same scan costs up to a third more CPU when the machine is slow)."""
    start = time.process_time()
    total = 0
    for i in range(2_000_000):
        total += i
    return (time.process_time() - start) * 1000


def _spread(values: list[float], unit: str, digits: int) -> str:
    return (
        f"median {statistics.median(values):.{digits}f} {unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f}, {len(values)} runs)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=ScanOptions.__dataclass_fields__["parallel"].default)
    parser.add_argument("--runs", type=int, default=5, help="parallel runs to take the medians of")
    parser.add_argument("--skip-serial", action="store_true", help="skip the --parallel 1 run")
    parser.add_argument(
        "--lab-processes", type=int, default=2, help="child processes the simulated servers are spread over"
    )
    parser.add_argument(
        "--realistic", action="store_true", help="200 ms requests, 2 s collector, 5%% refused, 1%% hung"
    )
    parser.add_argument("--hostile", choices=("endless", "negative"), help="one server answers without end")
    parser.add_argument(
        "--server-timeout", type=float, default=None, help="seconds (default 300; 30 with --realistic)"
    )
    args = parser.parse_args()
    if args.realistic and args.delay_ms == 50:
        args.delay_ms = 200
    timeout = args.server_timeout or (30.0 if args.realistic else 300.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = org_file(args.servers, args.delay_ms, Path(tmp), realistic=args.realistic, hostile=args.hostile)
        labs = Labs(path, args.lab_processes)
        print(
            f"servers: {args.servers}, injected delay per HTTP request: {args.delay_ms} ms, simulated by "
            f"{args.lab_processes} child process(es); calibration loop {calibration_ms():.0f} ms"
            + (f"; collector {COLLECTOR_MS} ms, 5% refusing, 1% hung, --server-timeout {timeout:g}" * args.realistic)
        )
        results = [run(labs, args.parallel, timeout) for _ in range(args.runs)]
        walls = [r[0] for r in results]
        print(f"  parallel {args.parallel} wall: {_spread(walls, 's', 2)}")
        if args.realistic:
            per_server = REQUESTS_PER_SERVER * args.delay_ms / 1000 + COLLECTOR_MS / 1000
            floor = math.ceil(args.servers / args.parallel) * per_server + timeout
            print(
                f"  floor ceil({args.servers}/{args.parallel}) x ({REQUESTS_PER_SERVER} x {args.delay_ms} ms + "
                f"{COLLECTOR_MS} ms) + {timeout:g} s = {floor:.2f} s; median wall / floor = "
                f"{statistics.median(walls) / floor:.3f} (goal <= 1.25)"
            )
        print(f"  client CPU per server: {_spread([r[1] for r in results], 'ms', 1)}")
        print(f"  simulated servers' CPU per server: {_spread([r[2] for r in results], 'ms', 1)}")
        if not args.skip_serial:
            wall_1 = run(labs, 1)[0]
            print(f"  speed-up, parallel {args.parallel} (median) vs 1: {wall_1 / statistics.median(walls):.1f}x")
        requests = labs.stop()
    print(f"  calibration loop after the runs: {calibration_ms():.0f} ms")
    runs = args.runs + (0 if args.skip_serial else 1)
    print(f"  HTTP requests seen by the lab: {requests} ({requests / (args.servers * runs):.1f} per server per scan)")
    print(f"  client peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
