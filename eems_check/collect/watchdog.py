"""Runs tasks in daemon threads, a few at a time, each under a wall-clock limit that holds even if it hangs.

What it does: `run_fed` starts up to `parallel` of the tasks a `Feed` hands it (from any thread, while it runs),
hands each outcome (its value, its exception, or that it timed out) to a callback in the running thread as soon as
it is known, and abandons a task that passes its limit: its `cancel` callable (given with the task) is called so
that the task can cut what it is waiting on (a connection), its thread ends in the background (daemon, so the
process can still exit) and whatever it returns later is dropped. An abandoned task no longer counts against
`parallel`. It returns when the feed is closed and every task has an outcome, or at once when the feed is
aborted (running tasks are then abandoned). `run_bounded` is the same for a list of tasks known up front.

What it must not do: know what the tasks do, retry them, or reuse anything an abandoned task touched.
"""

from __future__ import annotations

import contextlib
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

    def put(self, task: Callable[[], T], cancel: Callable[[], None] | None = None) -> int:
        """Queue `task`; returns its index (0, 1, ... in the order of `put`). `cancel` is called (in the running
        thread; it must not block) if the task is abandoned at its limit."""
        with self._lock:
            index = self._count
            self._count += 1
        self._events.put(("task", index, task, cancel))
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
    cancels: Sequence[Callable[[], None] | None] = (),
) -> None:
    """Run every task; call `on_outcome(index, outcome)` once per task, in the calling thread. `cancels[i]`, if
    given, is called when task i is abandoned at its limit."""
    feed: Feed[T] = Feed()
    for i, task in enumerate(tasks):
        feed.put(task, cancels[i] if i < len(cancels) else None)
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
    pending: deque[tuple[int, Callable[[], T], Callable[[], None] | None]] = deque()
    running: dict[int, tuple[float, float, Callable[[], None] | None]] = {}  # index -> (started, deadline, cancel)
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
            for _, _, cancel in running.values():
                _cancel(cancel)
            return
        while pending and len(running) < max(1, parallel):
            index, task, cancel = pending.popleft()
            started = time.monotonic()
            running[index] = (started, started + limit, cancel)
            threading.Thread(
                target=worker, args=(index, task, started), name=f"{name}-{index}", daemon=True
            ).start()
        # Every task gets the same limit and `running` keeps start order, so the first entry ends soonest.
        wait = max(0.0, next(iter(running.values()))[1] - time.monotonic()) if running else None
        try:
            event = events.get(timeout=wait)
        except queue.Empty:
            now = time.monotonic()
            for index, (started, deadline, cancel) in list(running.items()):
                if deadline <= now:
                    del running[index]
                    _cancel(cancel)
                    on_outcome(index, Outcome(timed_out=True, elapsed=now - started))
            continue
        kind = event[0]
        if kind == "task":
            pending.append((event[1], event[2], event[3]))
        elif kind == "closed":
            closed = True
        elif kind == "abort":
            for _, _, cancel in running.values():
                _cancel(cancel)
            return
        elif event[1] in running:  # "done"; else it was abandoned, and its late result is dropped
            del running[event[1]]
            on_outcome(event[1], event[2])


def _cancel(cancel: Callable[[], None] | None) -> None:
    """Call a task's cancel; whatever it raises must not stop the run (the task is abandoned either way)."""
    if cancel is not None:
        with contextlib.suppress(Exception):  # a failing cancel leaves the task abandoned, as without one
            cancel()
