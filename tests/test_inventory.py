"""Inventory files: PowerShell 5.1 habits are accepted, mistakes are one line naming file and field."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from eems_check.errors import InventoryError
from eems_check.inventory import inventory_from_document, inventory_to_document, read_inventory
from eems_check.model import BuildSource, CollectionStatus

INV = Path(__file__).parent / "fixtures" / "inventories"

BAD = [
    ("missing-name.json", "servers[0]: 'name' is required"),
    ("wrong-type.json", 'servers[0].is_edge: must be boolean or null, not "yes"'),
    ("unknown-field.json", "servers[0]: unknown field(s) ('exsetup_verison' was unexpected)"),
    ("depth-truncated.json", "servers[0].eems: holds 'System.Collections.Hashtable'"),
    ("bad-json.json", ":1:89: not valid JSON"),
    ("wrong-version.json", "schema_version: 1 was expected"),
    ("duplicate-server.json", "servers[1].name: 'ex01' appears twice"),
    ("bad-date.json", "servers[0].events[0].time: not a date and time: 'yesterday'"),
]


@pytest.mark.parametrize(("name", "problem"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_inventory_is_one_line_naming_file_and_field(name: str, problem: str) -> None:
    with pytest.raises(InventoryError) as err:
        read_inventory(INV / name)
    text = str(err.value)
    assert "\n" not in text and str(INV / name) in text
    assert problem in text, text


def test_powershell_51_convertto_json_output_is_accepted() -> None:
    inv = read_inventory(INV / "ps51-quirks.json")
    assert inv.collected_at == dt.datetime(2025, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
    (server,) = inv.servers
    assert server.roles == ("Mailbox", "ClientAccess")
    assert server.eems.applied == ("PING1",) and server.eems.blocked == ()
    assert server.service is not None
    assert (server.service.status, server.service.start_type) == ("Running", "Automatic")
    assert server.events is not None and len(server.events) == 1
    assert server.events[0].level == "Error" and server.events[0].time is not None
    assert server.log_lines is not None and len(server.log_lines) == 1
    assert server.collection.status is CollectionStatus.OK


@pytest.mark.parametrize("name", ["utf16-bom.json", "utf8-bom.json"])
def test_files_written_by_windows_powershell_encodings_are_read(name: str) -> None:
    inv = read_inventory(INV / name)
    assert inv.servers[0].exsetup_version == "15.02.2562.053"
    assert inv.servers[0].build_source is BuildSource.EXSETUP


def test_missing_optional_fields_mean_not_collected() -> None:
    (server,) = read_inventory(INV / "minimal.json").servers
    assert server.build_source is BuildSource.ADMIN_DISPLAY_VERSION
    assert server.events is None and server.log_lines is None and not server.service_collected


@pytest.mark.parametrize("name", ["ps51-quirks.json", "minimal.json"])
def test_inventory_round_trips_through_its_own_writer(name: str) -> None:
    inv = read_inventory(INV / name)
    again = inventory_from_document(json.loads(json.dumps(inventory_to_document(inv))), "round-trip")
    assert again.servers == inv.servers and again.org == inv.org
