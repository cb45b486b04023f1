"""Tasks run a few at a time; a task past its wall-clock limit is abandoned, and errors come back as data."""

from __future__ import annotations

import threading
from collections.abc import Callable

from eems_check.collect.watchdog import Outcome, run_bounded


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
