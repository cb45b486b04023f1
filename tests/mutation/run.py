"""Plant each bug of mutants.yaml, one at a time, in a copy of the tree; run the tests that must catch it; report
which survive. The working tree is never edited: the copy lives in a temporary folder, and the tests import the
copy (PYTHONPATH), subprocesses included.

    .venv/bin/python tests/mutation/run.py [--only ID ...] [--timeout S]

Prints one line per mutant (killed/SURVIVED, seconds, the behaviour) and the kill rate; exits 1 when a mutant
survives or the unmutated copy fails its own tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MUTANTS = Path(__file__).with_name("mutants.yaml")


def load(only: list[str]) -> list[dict[str, Any]]:
    mutants: list[dict[str, Any]] = yaml.safe_load(MUTANTS.read_text(encoding="utf-8"))
    unknown = set(only) - {m["id"] for m in mutants}
    if unknown:
        raise SystemExit(f"mutants.yaml has no mutant {', '.join(sorted(unknown))}")
    return [m for m in mutants if not only or m["id"] in only]


def copy_tree(dest: Path) -> None:
    """The files git knows (tracked, and new ones not ignored), as they are in the working tree now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_tests(tree: Path, tests: list[str], timeout: float) -> tuple[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("EEMS_UPDATE_GOLDEN", None)
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *tests]
    start = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - start
    outcome = {0: "passed", 1: "failed"}.get(done.returncode, f"error {done.returncode}")
    return outcome, time.monotonic() - start


def check_imports_the_copy(tree: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    probe = [sys.executable, "-c", "import eems_check; print(eems_check.__file__)"]
    where = subprocess.run(probe, cwd=tempfile.gettempdir(), env=env, capture_output=True, text=True, check=True)
    if not Path(where.stdout.strip()).resolve().is_relative_to(tree.resolve()):
        raise SystemExit(f"the tests would import {where.stdout.strip()}, not the copy in {tree}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], metavar="ID", help="run only these mutants")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per mutant's test run (600)")
    args = parser.parse_args()
    mutants = load(args.only)
    survivors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="eems-mutants-") as folder:
        tree = Path(folder)
        copy_tree(tree)
        check_imports_the_copy(tree)
        baseline, seconds = run_tests(tree, sorted({t for m in mutants for t in m["tests"]}), args.timeout)
        print(f"unmutated copy: {baseline} ({seconds:.0f} s)")
        if baseline != "passed":
            return 1
        for m in mutants:
            path = tree / m["file"]
            original = path.read_text(encoding="utf-8")
            if original.count(m["find"]) != 1:
                print(f"{m['id']}: its line occurs {original.count(m['find'])} times in {m['file']}; fix mutants.yaml")
                survivors.append(m["id"])
                continue
            path.write_text(original.replace(m["find"], m["replace"]), encoding="utf-8")
            try:
                outcome, seconds = run_tests(tree, m["tests"], args.timeout)
            finally:
                path.write_text(original, encoding="utf-8")
            killed = outcome != "passed"
            if not killed:
                survivors.append(m["id"])
            word = f"killed ({outcome})" if killed else "SURVIVED"
            print(f"{word:18} {seconds:5.0f} s  {m['id']}: {m['behaviour']}", flush=True)
    killed_count = len(mutants) - len(survivors)
    print(f"kill rate: {killed_count}/{len(mutants)} ({100 * killed_count / len(mutants):.0f}%)")
    if survivors:
        print(f"survivors: {', '.join(survivors)}")
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
