"""Runs tasks in daemon threads, a few at a time, each under a wall-clock limit that holds even if it hangs.

What it does: `run_fed` starts up to `parallel` of the tasks a `Feed` hands it (from any thread, while it runs),
hands each outcome (its value, its exception, or that it timed out) to a callback in the running thread as soon as
it is known, and abandons a task that passes its limit: its thread keeps running in the background (daemon, so
the process can still exit) and whatever it returns later is dropped. An abandoned task no longer counts against
`parallel`. It returns when the feed is closed and every task has an outcome, or at once when the feed is
aborted (running tasks are then abandoned). `run_bounded` is the same for a list of tasks known up front.

What it must not do: know what the tasks do, retry them, or reuse anything an abandoned task touched.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

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


class Feed(Generic[T]):
    """Tasks for `run_fed`, put from any thread; `close` says no more will come, `abort` stops the run."""

    def __init__(self) -> None:
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._count = 0
        self._lock = threading.Lock()
        self._aborted = threading.Event()

    def put(self, task: Callable[[], T]) -> int:
        """Queue `task`; returns its index (0, 1, ... in the order of `put`)."""
        with self._lock:
            index = self._count
            self._count += 1
        self._events.put(("task", index, task))
        return index

    def close(self) -> None:
        self._events.put(("closed",))

    def abort(self) -> None:
        """Stop at once: tasks still queued are never started (the event overtakes them)."""
        self._aborted.set()
        self._events.put(("abort",))


def run_bounded(
    tasks: Sequence[Callable[[], T]],
    *,
    parallel: int,
    limit: float,
    on_outcome: Callable[[int, Outcome[T]], None],
    name: str = "eems-check",
) -> None:
    """Run every task; call `on_outcome(index, outcome)` once per task, in the calling thread."""
    feed: Feed[T] = Feed()
    for task in tasks:
        feed.put(task)
    feed.close()
    run_fed(feed, parallel=parallel, limit=limit, on_outcome=on_outcome, name=name)


def run_fed(
    feed: Feed[T],
    *,
    parallel: int,
    limit: float,
    on_outcome: Callable[[int, Outcome[T]], None],
    name: str = "eems-check",
) -> None:
    """Run the tasks `feed` hands over until it is closed (or aborted); see the module docstring."""
    events = feed._events
    pending: deque[tuple[int, Callable[[], T]]] = deque()
    running: dict[int, tuple[float, float]] = {}  # index -> (started, deadline)
    closed = False

    def worker(index: int, task: Callable[[], T], started: float) -> None:
        try:
            value = task()
        except BaseException as exc:
            events.put(("done", index, Outcome(error=exc, elapsed=time.monotonic() - started)))
        else:
            events.put(("done", index, Outcome(value=value, elapsed=time.monotonic() - started)))

    while not closed or pending or running:
        if feed._aborted.is_set():
            return
        while pending and len(running) < max(1, parallel):
            index, task = pending.popleft()
            started = time.monotonic()
            running[index] = (started, started + limit)
            threading.Thread(
                target=worker, args=(index, task, started), name=f"{name}-{index}", daemon=True
            ).start()
        # Every task gets the same limit and `running` keeps start order, so the first entry ends soonest.
        wait = max(0.0, next(iter(running.values()))[1] - time.monotonic()) if running else None
        try:
            event = events.get(timeout=wait)
        except queue.Empty:
            now = time.monotonic()
            for index, (started, deadline) in list(running.items()):
                if deadline <= now:
                    del running[index]
                    on_outcome(index, Outcome(timed_out=True, elapsed=now - started))
            continue
        kind = event[0]
        if kind == "task":
            pending.append((event[1], event[2]))
        elif kind == "closed":
            closed = True
        elif kind == "abort":
            return
        elif event[1] in running:  # "done"; else it was abandoned, and its late result is dropped
            del running[event[1]]
            on_outcome(event[1], event[2])
