"""Read a saved 5,000-server JSON report back, and diff two of them; print medians over several runs.

    .venv/bin/python benchmarks/report_read_bench.py [--servers 5000] [--runs 5]

What `eems-check send`, `--compare-to` and `eems-check diff` pay before anything else: `read_report` validates
every field of the document (inventory included) and builds the `Report`; `diff_files` reads two and compares.
Wall time and CPU time (the CPU figure is the steadier one on a shared machine).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evaluate_bench import saved_report, size_arguments

from eems_check.diff import diff_files
from eems_check.report_io import read_report


def main() -> None:
    args = size_arguments()
    with tempfile.TemporaryDirectory() as tmp:
        report, path = saved_report(args.servers, Path(tmp))
        findings = sum(len(s.findings) for s in report.servers)
        timings: dict[str, list[float]] = {
            "read_report": [],
            "diff_files": [],
            "read_report CPU": [],
            "diff_files CPU": [],
        }
        for _ in range(args.runs):
            t0, c0 = time.perf_counter(), time.process_time()
            read_report(path)
            t1, c1 = time.perf_counter(), time.process_time()
            diff_files(path, path)
            t2, c2 = time.perf_counter(), time.process_time()
            timings["read_report"].append(t1 - t0)
            timings["diff_files"].append(t2 - t1)
            timings["read_report CPU"].append(c1 - c0)
            timings["diff_files CPU"].append(c2 - c1)
        size = path.stat().st_size
    print(f"servers: {args.servers}, findings: {findings}, report: {size / 1e6:.1f} MB, runs: {args.runs}")
    for key, values in timings.items():
        print(f"  {key:16} median {statistics.median(values) * 1000:8.1f} ms   min {min(values) * 1000:8.1f} ms")
    ratio = statistics.median(timings["diff_files CPU"]) / statistics.median(timings["read_report CPU"])
    print(f"  diff_files / read_report (CPU): {ratio:.2f}")


if __name__ == "__main__":
    main()
