"""What the input hardening costs and what it saves; prints medians over several runs and their ratios.

    .venv/bin/python benchmarks/input_bench.py [--servers 5000] [--runs 5]

* reading a saved JSON report of N servers: `json.loads` alone, then `inventory.load_json` (regular-file check,
  size cap, duplicate-key check, lone-surrogate scan), and the ratio;
* loading the bundled rules (the YAML alias/depth check runs on every load);
* refusing hostile inputs that used to hang or eat memory: a 360-byte YAML alias bomb and a 2 MB inventory of
  1,000,000 invalid servers (before: 84 s / 6.2 GB and 62 s / 3.66 GB, as the issue measured them).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from evaluate_bench import saved_report, size_arguments

from eems_check.errors import InputError
from eems_check.inventory import load_json, read_inventory
from eems_check.ruleset import bundled_path, load_ruleset, parse_document

BOMB = "schema_version: 1\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi", strict=True)
)


def median_ms(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def paired_ms(runs: int, first: Callable[[], object], second: Callable[[], object]) -> tuple[float, float]:
    """Medians of two works run alternately, so that a busy machine slows both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for work, into in ((first, times[0]), (second, times[1])):
            t0 = time.perf_counter()
            work()
            into.append(time.perf_counter() - t0)
    return statistics.median(times[0]) * 1000, statistics.median(times[1]) * 1000


def refused(work: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            work()
        except InputError:
            return
        raise SystemExit("the hostile input was accepted")

    return run


def main() -> None:
    args = size_arguments()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _, saved = saved_report(args.servers, folder)
        text = saved.read_text(encoding="utf-8")
        plain, checked = paired_ms(args.runs, lambda: json.loads(text), lambda: load_json(saved))
        print(f"saved report: {args.servers} servers, {saved.stat().st_size / 1e6:.1f} MB, runs: {args.runs}")
        print(f"  json.loads alone       median {plain:8.1f} ms")
        print(f"  inventory.load_json    median {checked:8.1f} ms   ratio {checked / plain:.2f}")
        bundled = bundled_path().read_text(encoding="utf-8")
        rules = median_ms(args.runs, lambda: parse_document(bundled, "rules.yaml", bundled=True))
        print(f"  bundled rules, parsed and validated    median {rules:8.1f} ms")
        bomb = folder / "bomb.yaml"
        bomb.write_text(BOMB, encoding="utf-8")
        bomb_ms = median_ms(args.runs, refused(lambda: load_ruleset([bomb])))
        print(f"  {len(BOMB)}-byte alias bomb refused         median {bomb_ms:8.1f} ms")
        bad = folder / "bad.json"
        bad.write_text(
            '{"schema_version": 1, "organization": {"name": "C"}, "servers": [' + ",".join(["1"] * 1_000_000) + "]}"
        )
        bad_ms = median_ms(max(1, args.runs // 2), refused(lambda: read_inventory(bad)))
        print(f"  1,000,000 invalid servers ({bad.stat().st_size / 1e6:.1f} MB) refused median {bad_ms:8.1f} ms")


if __name__ == "__main__":
    main()
