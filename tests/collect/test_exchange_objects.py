"""Exchange objects in the shapes real servers give them become plain Python and schema-shaped facts.

The objects under `fixtures/exchange/` come in the two real forms (`make_exchange_fixtures.py`): the compact wire
form, one object per message, and the Export-Clixml form, whose later objects refer to type names and objects of
earlier ones. The hand-written files under `fixtures/exchange/odd/` hold the shapes a lab built from our own
beliefs would never produce: references from a list to type names and objects outside it, a version as a string,
missing and extra properties.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.collect.plain import PSBag
from eems_check.collect.records import exchange_facts
from eems_check.collect.remoting import objects_from_clixml

from .conftest import FIXTURES

EXCHANGE = FIXTURES / "exchange"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((EXCHANGE / "expected-facts.yaml").read_text(encoding="utf-8"))
CLIXML = "{http://schemas.microsoft.com/powershell/2004/04}"


def _read(path: Path) -> list[Any]:
    return objects_from_clixml(path.read_text(encoding="utf-8"))


def _export_clixml_servers() -> dict[str, Any]:
    return {str(bag): bag for bag in _read(EXCHANGE / "GetExchangeServer.xml")}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_wire_form_object_becomes_the_servers_facts(name: str) -> None:
    (bag,) = _read(EXCHANGE / "wire" / f"{name}.xml")
    assert exchange_facts(bag) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_an_export_clixml_object_becomes_the_servers_facts(name: str) -> None:
    assert exchange_facts(_export_clixml_servers()[name]) == EXPECTED[name]


def test_every_server_of_an_export_clixml_file_is_read() -> None:
    names = sorted(_export_clixml_servers())
    wire = sorted(p.stem for p in (EXCHANGE / "wire").glob("*.xml") if p.stem != "organization-config")
    assert names == wire and len(names) == 13


def test_list_items_that_reuse_an_earlier_items_type_names_are_all_read() -> None:
    # NetworkAddress: six objects, the last five naming the first one's type names by <TNRef> (real servers'
    # shape). A fresh serializer per item failed here with KeyError.
    text = (EXCHANGE / "wire" / "EX2016A.xml").read_text(encoding="utf-8")
    assert text.count("<TNRef") >= 5
    (bag,) = objects_from_clixml(text)
    assert [str(a) for a in bag["NetworkAddress"]] == [
        "ncacn_vns_spp:EX2016A", "netbios:EX2016A", "ncacn_np:EX2016A", "ncacn_spx:EX2016A",
        "ncacn_ip_tcp:EX2016A.contoso.lab", "ncalrpc:EX2016A",
    ]
    assert bag["NetworkAddress"][4]["AddressString"] == "EX2016A.contoso.lab"


def test_a_later_export_clixml_objects_lists_refer_to_the_first_objects_type_names() -> None:
    servers = _export_clixml_servers()
    assert [str(a) for a in servers["EX2019A"]["NetworkAddress"]][-1] == "ncalrpc:EX2019A"
    assert servers["EX2019A"]["ObjectClass"] == ["top", "server", "msExchExchangeServer"]


def test_the_lab_writes_every_property_of_a_real_exchange_server_in_its_order() -> None:
    # The expected names and elements come from Microsoft's captures (exchange-server-properties.txt); EX2019C has
    # no mitigation, proxy or blocked entry, like the captured servers.
    lines = (EXCHANGE / "exchange-server-properties.txt").read_text(encoding="utf-8").splitlines()
    expected = [tuple(line.split()) for line in lines if line and not line.startswith("#")]
    root = ET.fromstring((EXCHANGE / "wire" / "EX2019C.xml").read_text(encoding="utf-8"))
    props = root.find("Props")
    assert props is not None
    assert [(p.get("N"), p.tag) for p in props] == expected
    assert next(t.text for t in root.iter("T")) == "Microsoft.Exchange.Data.Directory.Management.ExchangeServer"
    assert not any((t.text or "").startswith("Deserialized.") for t in root.iter("T"))  # a client adds that


def test_id_is_a_reference_to_identity() -> None:
    (bag,) = _read(EXCHANGE / "wire" / "EX2019C.xml")
    assert bag["Id"]["DistinguishedName"] == bag["Identity"]["DistinguishedName"]
    assert str(bag["Id"]) == "EX2019C"


@pytest.mark.parametrize("form", ["wire/organization-config.xml", "GetOrganizationConfig.xml"])
def test_organization_config_reads_name_and_mitigations_enabled(form: str) -> None:
    (config,) = _read(EXCHANGE / form)
    assert (config["Name"], config["MitigationsEnabled"]) == ("Contoso", True)
    assert len(config) == 169  # every property of a real Exchange 2019 organisation configuration
    assert config["MicrosoftExchangeRecipientEmailAddresses"][0].startswith("SMTP:")


def test_property_bags_are_case_insensitive_and_keep_tostring_and_type_names() -> None:
    (bag,) = _read(EXCHANGE / "wire" / "EX2019E.xml")
    assert isinstance(bag, PSBag)
    assert bag["fqdn"] == bag["FQDN"] == "EX2019E.contoso.lab"
    assert str(bag) == "EX2019E"
    assert bag.type_names[0] == "Microsoft.Exchange.Data.Directory.Management.ExchangeServer"


@pytest.mark.parametrize(("prop", "expected"), [
    ("Edition", "Standard"),  # an enum: its name, not its number
    ("ServerRole", "Mailbox"),  # a flags enum
    ("MitigationsApplied", ["PING1"]),  # a MultiValuedProperty: pypsrp leaves its <LST> as text
    ("MitigationsBlocked", None),  # an empty MultiValuedProperty arrives as Nil
    ("StaticDomainControllers", []),  # ... or as an empty <LST>
    ("IsEdgeServer", False),
    ("InternetWebProxy", "http://proxy.contoso.lab:8080/"),  # a System.Uri
])
def test_values_become_plain_python(prop: str, expected: Any) -> None:
    (bag,) = _read(EXCHANGE / "wire" / "EX2019E.xml")
    assert bag[prop] == expected


def test_nested_objects_are_bags_with_their_tostring() -> None:
    (bag,) = _read(EXCHANGE / "wire" / "EX2019E.xml")
    version = bag["AdminDisplayVersion"]
    assert isinstance(version, PSBag) and str(version) == "Version 15.2 (Build 1748.10)"
    assert version["Build"] == 1748 and re.fullmatch(r"[0-9a-f-]{36}", bag["Guid"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", bag["WhenCreatedUTC"])  # a DateTime stays its text


# -- shapes our own lab never writes ------------------------------------------------------------------------

ODD = EXCHANGE / "odd"


def test_list_items_that_refer_to_type_names_and_objects_outside_the_list_are_read() -> None:
    (bag,) = _read(ODD / "outside-references.xml")
    # Items naming the type names of an object written before the list: read as plain objects.
    assert [str(item) for item in bag["Managers"]] == ["contoso.lab/Users/Ann", "contoso.lab/Users/Bob"]
    assert bag["Managers"][1]["Name"] == "Bob"
    # An item that refers to an object written before the list: null, not a failure of the whole object.
    assert bag["Sites"] == [None, "Berlin"]
    assert exchange_facts(bag)["site"] == "Amsterdam"


@pytest.mark.parametrize(("fixture", "expected"), [
    ("admin-display-version-as-string.xml", {
        "name": "EX01", "fqdn": "ex01.contoso.lab", "site": "Amsterdam", "roles": ["Mailbox"], "edition": None,
        "is_edge": False, "admin_display_version": "Version 15.2 (Build 1544.4)",
        "eems": {"enabled": None, "applied": [], "blocked": [], "data_collection_enabled": None,
                 "internet_web_proxy": None}}),
    ("missing-and-extra-properties.xml", {
        "name": "EX02", "fqdn": None, "site": None, "roles": ["Mailbox", "ClientAccess"], "edition": None,
        "is_edge": False, "admin_display_version": None,
        "eems": {"enabled": True, "applied": ["PING1"], "blocked": [], "data_collection_enabled": None,
                 "internet_web_proxy": None}}),
])
def test_odd_but_real_shapes_become_facts(fixture: str, expected: dict[str, Any]) -> None:
    (bag,) = _read(ODD / fixture)
    assert exchange_facts(bag) == expected
