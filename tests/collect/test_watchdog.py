"""Tasks run a few at a time; a task past its wall-clock limit is abandoned, and errors come back as data."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from eems_check.collect.watchdog import Feed, Outcome, run_bounded, run_fed


def _collect(tasks: list[Callable[[], object]], parallel: int = 4, limit: float = 30.0) -> dict[int, Outcome[object]]:
    out: dict[int, Outcome[object]] = {}
    run_bounded(tasks, parallel=parallel, limit=limit, on_outcome=out.__setitem__)
    return out


def test_values_and_errors_come_back_per_task() -> None:
    def fail() -> object:
        raise OSError("no route")

    out = _collect([lambda: 1, fail, lambda: "three"])
    assert [out[0].value, out[2].value] == [1, "three"]
    assert isinstance(out[1].error, OSError) and out[1].value is None


def test_a_hanging_task_is_abandoned_and_the_others_finish() -> None:
    release = threading.Event()
    out = _collect([lambda: release.wait(600), lambda: "ok"], parallel=2, limit=0.3)
    release.set()
    assert out[0].timed_out and out[0].value is None
    assert out[1].value == "ok" and not out[1].timed_out


def test_no_more_than_parallel_tasks_run_at_once() -> None:
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def task() -> object:
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        threading.Event().wait(0.01)
        with lock:
            state["now"] -= 1
        return None

    out = _collect([task] * 12, parallel=3)
    assert len(out) == 12 and state["peak"] <= 3


def test_worker_threads_are_daemons_so_a_hung_one_cannot_block_exit() -> None:
    seen: list[bool] = []
    release = threading.Event()

    def task() -> object:
        seen.append(threading.current_thread().daemon)
        return release.wait(600)

    _collect([task], limit=0.2)
    release.set()
    assert seen == [True]


def test_tasks_fed_from_another_thread_run_until_the_feed_closes() -> None:
    feed: Feed[int] = Feed()
    seen: dict[int, int | None] = {}

    def producer() -> None:
        for i in range(5):
            feed.put(lambda i=i: i * i)
            time.sleep(0.01)
        feed.close()

    threading.Thread(target=producer).start()
    run_fed(feed, parallel=2, limit=5, on_outcome=lambda i, o: seen.__setitem__(i, o.value))
    assert seen == {0: 0, 1: 1, 2: 4, 3: 9, 4: 16}


def test_an_aborted_feed_returns_at_once_and_abandons_what_runs() -> None:
    feed: Feed[None] = Feed()
    release = threading.Event()
    feed.put(release.wait)
    outcomes: list[int] = []
    threading.Timer(0.1, feed.abort).start()
    started = time.monotonic()
    run_fed(feed, parallel=1, limit=30, on_outcome=lambda i, o: outcomes.append(i))
    assert time.monotonic() - started < 5 and outcomes == []
    release.set()


def test_tasks_still_queued_when_the_feed_is_aborted_never_start() -> None:
    feed: Feed[None] = Feed()
    started: list[int] = []
    for i in range(20):
        feed.put(lambda i=i: started.append(i))
    feed.abort()
    run_fed(feed, parallel=4, limit=5, on_outcome=lambda i, o: None)
    assert started == []
