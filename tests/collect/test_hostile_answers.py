"""Nothing a server sends can exhaust the scanner or smuggle a credential out of it.

Each server of `fixtures/hostile-answers.yaml` misbehaves in one way, through real WS-Man over loopback: the scan
records that server with a reason and collects every other one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from eems_check.collect import scan
from eems_check.lab import LabOrg, load_org
from eems_check.model import CollectionStatus as S
from eems_check.model import Inventory

from .conftest import FIXTURES, lab_options


@pytest.fixture(scope="module")
def hostile_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(FIXTURES / "hostile-answers.yaml"), base_address="127.0.60.1") as lab:
        yield lab


@pytest.fixture(scope="module")
def inventory(hostile_lab: LabOrg) -> Inventory:
    return scan(lab_options(hostile_lab, server_timeout=3.0))


def _server(inventory: Inventory, name: str) -> tuple[S, str]:
    record = next(s for s in inventory.servers if s.name == name)
    return record.collection.status, record.collection.reason or ""


def test_the_well_behaved_server_is_collected(inventory: Inventory) -> None:
    assert _server(inventory, "HXOK")[0] is S.OK


@pytest.mark.parametrize("name", ["HXENDLESS", "HXNEGATIVE"])
def test_an_answer_without_end_is_cut_at_the_limit(inventory: Inventory, name: str) -> None:
    status, reason = _server(inventory, name)
    assert status is S.ERROR
    assert "exceeded 16 MiB" in reason and "connection was closed" in reason


def test_an_answer_smuggled_after_a_real_one_is_never_taken_for_the_next(inventory: Inventory) -> None:
    # Bytes after a Content-Length body are dropped with that response (or the connection is, when they arrive
    # later): every later request still gets its own answer, so the server's real data comes back.
    record = next(s for s in inventory.servers if s.name == "HXTRAILING")
    # (ExSetup.exe spells its file version with leading zeros.)
    assert (record.collection.status, record.exsetup_version) == (S.OK, "15.02.1748.046")


@pytest.mark.parametrize(("name", "shown"), [
    ("HXPORT", "127.0.60.5:8080"),
    ("HXPATH", "127.0.60.6/wsman?hxpath"),
    ("HXSPACE", "127.0.60.7 evil"),
    ("HXUSER", "scanner@127.0.60.8"),
])
def test_a_name_that_is_not_a_host_name_is_never_contacted(
    hostile_lab: LabOrg, inventory: Inventory, name: str, shown: str
) -> None:
    status, reason = _server(inventory, name)
    assert status is S.ERROR
    assert shown in reason and "not contacted, no credentials sent" in reason
    # Its real address (the lab's) saw no request at all: nothing, credentials included, was sent anywhere.
    assert hostile_lab.request_count(f"{name}.tailspin.lab") == 0


def test_a_server_past_its_time_limit_has_its_connection_shut(hostile_lab: LabOrg) -> None:
    # The hung server's worker thread must end soon after its limit, not when the read timeout (15 s) runs out:
    # the watchdog shuts its socket. A bound with a wide margin, not a performance figure.
    before = {t.ident for t in threading.enumerate()}
    inventory = scan(lab_options(hostile_lab, servers=("HXHANG",), server_timeout=1.0))
    assert _server(inventory, "HXHANG") == (S.TIMEOUT, "no answer within 1 s; the connection was closed")
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        workers = [t for t in threading.enumerate() if t.name.startswith("eems-check-server") and t.ident not in before]
        if not workers:
            break
        time.sleep(0.05)
    assert workers == []
