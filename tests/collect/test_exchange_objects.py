"""Deserialized Exchange objects (CLIXML as the lab sends it) become plain Python and schema-shaped facts."""

from __future__ import annotations

from typing import Any

import pytest

from eems_check.collect.plain import PSBag
from eems_check.collect.records import exchange_facts
from eems_check.collect.remoting import objects_from_clixml

from .conftest import FIXTURES


def _plain(name: str) -> Any:
    (only,) = objects_from_clixml((FIXTURES / name).read_text(encoding="utf-8"))
    return only


@pytest.mark.parametrize(("fixture", "expected"), [
    ("exchange_server_mailbox.xml", {
        "name": "EX2019E", "fqdn": "EX2019E.contoso.lab", "site": "Berlin", "roles": ["Mailbox"],
        "edition": "Standard", "is_edge": False, "admin_display_version": "Version 15.2 (Build 1748.10)",
        "eems": {"enabled": True, "applied": ["PING1"], "blocked": [], "data_collection_enabled": False,
                 "internet_web_proxy": "http://proxy.contoso.lab:8080/"}}),
    ("exchange_server_edge.xml", {
        "name": "EDGE01", "fqdn": "edge01.dmz.contoso.lab", "site": "London", "roles": ["Edge"],
        "edition": "Standard", "is_edge": True, "admin_display_version": "Version 15.2 (Build 1748.10)",
        "eems": {"enabled": True, "applied": [], "blocked": [], "data_collection_enabled": False,
                 "internet_web_proxy": None}}),
])
def test_get_exchange_server_object_becomes_facts(fixture: str, expected: dict[str, Any]) -> None:
    assert exchange_facts(_plain(fixture)) == expected


def test_property_bags_are_case_insensitive_and_keep_tostring() -> None:
    bag = _plain("exchange_server_mailbox.xml")
    assert isinstance(bag, PSBag)
    assert bag["fqdn"] == bag["FQDN"] == "EX2019E.contoso.lab"
    assert str(bag) == "EX2019E"
    assert bag.type_names[0] == "Deserialized.Microsoft.Exchange.Data.Directory.Management.ExchangeServer"


@pytest.mark.parametrize(("prop", "expected"), [
    ("Edition", "Standard"),  # an enum: its name, not its number
    ("ServerRole", "Mailbox"),  # a flags enum
    ("MitigationsApplied", ["PING1"]),  # a MultiValuedProperty: pypsrp leaves its <LST> as text
    ("MitigationsBlocked", None),  # an empty MultiValuedProperty arrives as Nil
    ("IsEdgeServer", False),
    ("InternetWebProxy", "http://proxy.contoso.lab:8080/"),  # a System.Uri
])
def test_values_become_plain_python(prop: str, expected: Any) -> None:
    assert _plain("exchange_server_mailbox.xml")[prop] == expected


def test_a_guid_becomes_its_text() -> None:
    guid = _plain("exchange_server_mailbox.xml")["Guid"]
    assert isinstance(guid, str) and len(guid) == 36


def test_nested_objects_are_bags_with_their_tostring() -> None:
    bag = _plain("exchange_server_mailbox.xml")
    version = bag["AdminDisplayVersion"]
    assert isinstance(version, PSBag) and str(version) == "Version 15.2 (Build 1748.10)"
    assert version["Build"] == 1748


def test_organization_config_reads_mitigations_enabled() -> None:
    config = _plain("organization_config.xml")
    assert (config["Name"], config["MitigationsEnabled"]) == ("Contoso", True)
