"""A second process writing to a history file: `python -m tests.history.writer FILE FIRST COUNT [KILL_AT]`.

Appends COUNT runs of the sample organisation, generated FIRST, FIRST+1, ... hours after 2026-01-01, each in its
own transaction. With KILL_AT, the process kills itself (SIGKILL: no clean-up, no rollback by Python) in the
middle of the run's transaction, at server KILL_AT: an interrupted write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

from eems_check.evaluate import evaluate
from eems_check.history import open_history
from eems_check.inventory import read_inventory
from eems_check.model import ServerReport
from eems_check.ruleset import load_ruleset

from .halfyear import SAMPLE

START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class Dying(tuple[ServerReport, ...]):
    """The servers of a report. The first time the store iterates them while it holds the file's write lock (seen
    from a second connection that cannot take it), this process says so and kills itself at server `kill_at`."""

    kill_at = 0
    path = ""

    def __iter__(self) -> Iterator[ServerReport]:
        for i, server in enumerate(tuple.__iter__(self)):
            if i == self.kill_at and _write_locked(self.path):
                print("killed mid-transaction", flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            yield server


def _write_locked(path: str) -> bool:
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


def main(path: str, first: int, count: int, kill_at: int | None = None) -> None:
    inventory = read_inventory(SAMPLE)
    rules = load_ruleset()
    with open_history(Path(path)) as history:
        for n in range(first, first + count):
            when = START + dt.timedelta(hours=n)
            report = evaluate(inventory, rules, today=when.date(), generated_at=when)
            if kill_at is not None:
                Dying.kill_at, Dying.path = kill_at, path
                report = dataclasses.replace(report, servers=Dying(report.servers))
            history.append(report, origin="evaluate")
            print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
