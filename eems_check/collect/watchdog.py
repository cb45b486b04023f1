"""Runs tasks in daemon threads, a few at a time, each under a wall-clock limit that holds even if it hangs.

What it does: `run_bounded` starts up to `parallel` tasks, hands each outcome (its value, its exception, or that it
timed out) to a callback in the calling thread as soon as it is known, and abandons a task that passes its
limit: its thread keeps running in the background (daemon, so the process can still exit) and whatever it
returns later is dropped. An abandoned task no longer counts against `parallel`.

What it must not do: know what the tasks do, retry them, or reuse anything an abandoned task touched.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")


class Outcome(Generic[T]):
    """What became of one task: exactly one of `value`, `error` or `timed_out`."""

    __slots__ = ("elapsed", "error", "timed_out", "value")

    def __init__(
        self, value: T | None = None, error: BaseException | None = None, timed_out: bool = False, elapsed: float = 0.0
    ) -> None:
        self.value = value
        self.error = error
        self.timed_out = timed_out
        self.elapsed = elapsed


def run_bounded(
    tasks: Sequence[Callable[[], T]],
    *,
    parallel: int,
    limit: float,
    on_outcome: Callable[[int, Outcome[T]], None],
    name: str = "eems-check",
) -> None:
    """Run every task; call `on_outcome(index, outcome)` once per task, in the calling thread."""
    done: queue.Queue[tuple[int, Outcome[T]]] = queue.Queue()
    pending = deque(range(len(tasks)))
    running: dict[int, tuple[float, float]] = {}  # index -> (started, deadline)

    def worker(index: int, started: float) -> None:
        try:
            value = tasks[index]()
        except BaseException as exc:
            done.put((index, Outcome(error=exc, elapsed=time.monotonic() - started)))
        else:
            done.put((index, Outcome(value=value, elapsed=time.monotonic() - started)))

    while pending or running:
        while pending and len(running) < max(1, parallel):
            index = pending.popleft()
            started = time.monotonic()
            running[index] = (started, started + limit)
            threading.Thread(target=worker, args=(index, started), name=f"{name}-{index}", daemon=True).start()
        wait = max(0.0, min(deadline for _, deadline in running.values()) - time.monotonic())
        try:
            index, outcome = done.get(timeout=wait)
        except queue.Empty:
            now = time.monotonic()
            for index, (started, deadline) in list(running.items()):
                if deadline <= now:
                    del running[index]
                    on_outcome(index, Outcome(timed_out=True, elapsed=now - started))
            continue
        if index in running:  # else: it was abandoned, and its late result is dropped
            del running[index]
            on_outcome(index, outcome)
