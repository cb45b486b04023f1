"""The envelope writer gives exactly ElementTree's bytes, and leaves to ElementTree what it does not write."""

from __future__ import annotations

import inspect
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import yaml
from pypsrp.wsman import NAMESPACES, WSMan

from eems_check.collect import remoting
from eems_check.collect.xmlwrite import XMLWriter
from eems_check.lab import LabOrg

from .conftest import FIXTURES, lab_options

CASES = yaml.safe_load((FIXTURES / "xml-trees.yaml").read_text(encoding="utf-8"))
PREFIXES = {uri: prefix for prefix, uri in NAMESPACES.items()}


def _name(name: str) -> str:
    for prefix, uri in NAMESPACES.items():
        name = name.replace("{" + prefix + "}", "{" + uri + "}")
    return name


def _tree(spec: dict[str, Any]) -> ET.Element:
    element = ET.Element(_name(spec["tag"]), {_name(k): v for k, v in (spec.get("attrib") or {}).items()})
    element.text = spec.get("text")
    element.tail = spec.get("tail")
    element.extend(_tree(child) for child in spec.get("children") or [])
    return element


@pytest.fixture(autouse=True)
def _pypsrp_prefixes() -> None:
    """pypsrp registers its prefixes with ElementTree when a WSMan is made; the writer's bytes equal
    ElementTree's under that registry, which is what every request is written under."""
    WSMan("127.0.0.1", port=5985, auth="basic", ssl=True, username="u", password="p")


@pytest.mark.parametrize("case", [c for c in CASES if not c.get("unwritable")], ids=lambda c: c["id"])
def test_the_writer_gives_element_trees_bytes(case: dict[str, Any]) -> None:
    tree = _tree(case["tree"])
    written = XMLWriter(PREFIXES).tostring(tree)
    assert written == ET.tostring(tree, encoding="utf-8", method="xml")


@pytest.mark.parametrize("case", [c for c in CASES if c.get("unwritable")], ids=lambda c: c["id"])
def test_the_writer_leaves_what_it_cannot_write_to_element_tree(case: dict[str, Any]) -> None:
    assert XMLWriter(PREFIXES).tostring(_tree(case["tree"])) is None


def test_comments_are_left_to_element_tree() -> None:
    root = ET.Element(_name("{s}Body"))
    root.append(ET.Comment("note"))
    assert XMLWriter(PREFIXES).tostring(root) is None


def test_a_writer_reused_across_trees_declares_only_each_trees_namespaces() -> None:
    writer = XMLWriter(PREFIXES)
    for spec in ({"tag": "{rsp}Receive"}, {"tag": "{wsman}Option"}, {"tag": "{rsp}Receive"}):
        tree = _tree(spec)
        assert writer.tostring(tree) == ET.tostring(tree, encoding="utf-8", method="xml")


def test_the_override_keeps_pypsrps_invoke_signature() -> None:
    ours = inspect.signature(remoting._WSMan.invoke)
    theirs = inspect.signature(WSMan.invoke)
    assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == [
        (p.name, p.kind, p.default) for p in theirs.parameters.values()
    ]


def test_every_envelope_of_a_scan_is_what_element_tree_writes(
    demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eems_check.collect import scan

    checked: list[bytes] = []

    class Checking(XMLWriter):
        def tostring(self, element: ET.Element) -> bytes | None:
            written = super().tostring(element)
            assert written == ET.tostring(element, encoding="utf-8", method="xml")
            checked.append(written)
            return written

    monkeypatch.setattr(remoting, "_ENVELOPE_WRITER", Checking(PREFIXES))
    inventory = scan(lab_options(demo_lab, servers=["EX01"]))
    assert [s.name for s in inventory.servers] == ["EX01"]
    actions = {ET.fromstring(xml).findtext("s:Header/wsa:Action", namespaces=NAMESPACES) for xml in checked}
    assert {a.rsplit("/", 1)[-1] for a in actions if a} >= {"Create", "Receive", "Command", "Delete"}


@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"port": 5986, "ssl": True, "path": "wsman"},
        {"locale": "de-DE", "data_locale": "fr-FR", "operation_timeout": 120},
        {"max_envelope_size": 512000},
    ],
    ids=["defaults", "https", "locales-and-timeout", "larger-envelope"],
)
@pytest.mark.parametrize("server", ["ex01.contoso.lab", "a-very-long-server-name-for-the-test.emea.corp.contoso.lab"])
def test_the_payload_budget_is_pypsrps(settings: dict[str, Any], server: str) -> None:
    options: dict[str, Any] = {"ssl": False, "auth": "ntlm", "username": "u", "password": "p", **settings}
    ours = remoting._WSMan(server, **options)
    theirs = WSMan(server, **options)
    theirs.session_id = ours.session_id
    assert ours.max_payload_size == theirs.max_payload_size
    for size in (153600, 512000, 1024 * 1024):
        assert ours._calc_envelope_size(size) == WSMan._calc_envelope_size(ours, size)
    ours.update_max_payload_size(512000)
    theirs.update_max_payload_size(512000)
    assert (ours.max_envelope_size, ours.max_payload_size) == (theirs.max_envelope_size, theirs.max_payload_size)
