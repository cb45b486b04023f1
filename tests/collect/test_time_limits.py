"""Time limits hold in time: a task or a server that never answers is given up at its limit, not later.

Each bound is the limit plus a margin well under the limit itself, so a limit that doubled (or never fired)
fails; the tests never time how fast the work itself is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from eems_check.collect import DiscoveryError, scan
from eems_check.collect.watchdog import Outcome, run_bounded
from eems_check.lab import LabOrg, load_org
from eems_check.model import CollectionStatus

from .conftest import FIXTURES, lab_options

LIMIT = 2.0  # seconds
MARGIN = 0.75 * LIMIT  # scheduling on a busy machine; a doubled limit overshoots by LIMIT


@pytest.mark.parametrize("parallel", [1, 3])
def test_a_hanging_task_is_given_up_at_its_limit(parallel: int) -> None:
    release = threading.Event()
    out: dict[int, Outcome[object]] = {}
    seen: dict[int, float] = {}
    start = time.monotonic()

    def record(index: int, outcome: Outcome[object]) -> None:
        seen[index] = time.monotonic() - start
        out[index] = outcome

    try:
        run_bounded([lambda: release.wait(600)] * parallel, parallel=parallel, limit=LIMIT, on_outcome=record)
    finally:
        release.set()
    for index in range(parallel):
        assert out[index].timed_out
        assert LIMIT <= out[index].elapsed < LIMIT + MARGIN
        assert LIMIT <= seen[index] < LIMIT + MARGIN


def test_a_task_that_finishes_in_time_is_not_cut_short() -> None:
    out: dict[int, Outcome[object]] = {}
    run_bounded([lambda: time.sleep(LIMIT / 4) or "done"], parallel=1, limit=LIMIT, on_outcome=out.__setitem__)
    assert out[0].value == "done" and not out[0].timed_out


@pytest.fixture(scope="module")
def hang_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(FIXTURES / "hang.yaml"), base_address="127.0.60.1") as lab:
        yield lab


def test_lab_servers_that_never_answer_are_given_up_at_the_server_timeout(hang_lab: LabOrg) -> None:
    listed: list[float] = []  # when discovery had listed all three: the hung ones' collections start after

    def progress(done: int, failed: int, total: int) -> None:
        if total == 3 and not listed:
            listed.append(time.monotonic())

    inventory = scan(lab_options(hang_lab, server_timeout=LIMIT), progress)
    after_listing = time.monotonic() - listed[0]
    by_name = {s.name: s for s in inventory.servers}
    assert by_name["TDOK"].collection.status is CollectionStatus.OK
    for name in ("TDHANG", "TDMUTE"):
        hung = by_name[name].collection
        assert hung.status is CollectionStatus.TIMEOUT, hung.reason
        assert hung.duration_ms is not None and LIMIT * 1000 <= hung.duration_ms < (LIMIT + MARGIN) * 1000
    assert LIMIT <= after_listing < LIMIT + MARGIN  # the scan waits for nothing else once the limit is up


def test_a_discovery_server_that_never_answers_is_given_up_at_the_discovery_timeout(hang_lab: LabOrg) -> None:
    start = time.monotonic()
    with pytest.raises(DiscoveryError, match=f"gave no complete answer within {LIMIT:g} s"):
        scan(lab_options(hang_lab, discovery_server="tdmute.tardy.lab", discovery_timeout=LIMIT))
    assert LIMIT <= time.monotonic() - start < LIMIT + MARGIN
