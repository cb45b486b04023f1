"""A second process writing to a history file: `python -m tests.history.writer FILE FIRST COUNT [KILL_AT]`.

Appends COUNT runs of the sample organisation, generated FIRST, FIRST+1, ... hours after 2026-01-01, each in its
own transaction. With KILL_AT, the process kills itself (SIGKILL: no clean-up, no rollback by Python) while the
run is being written, after handing KILL_AT servers to the store: an interrupted write."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
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
    """The servers of a report; the last pass over them (the one that writes the servers' rows, after the run's
    row is inserted) kills this process at server `kill_at`."""

    kill_at = 0
    passes = 0

    def __iter__(self) -> Iterator[ServerReport]:
        Dying.passes += 1
        for i, server in enumerate(tuple.__iter__(self)):
            if Dying.passes >= 4 and i == self.kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            yield server


def main(path: str, first: int, count: int, kill_at: int | None = None) -> None:
    inventory = read_inventory(SAMPLE)
    rules = load_ruleset()
    with open_history(Path(path)) as history:
        for n in range(first, first + count):
            when = START + dt.timedelta(hours=n)
            report = evaluate(inventory, rules, today=when.date(), generated_at=when)
            if kill_at is not None:
                Dying.kill_at = kill_at
                report = dataclasses.replace(report, servers=Dying(report.servers))
            history.append(report, origin="evaluate")
            print(n, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else None)
