"""The envelope writer gives exactly ElementTree's bytes, and leaves to ElementTree what it does not write."""

from __future__ import annotations

import inspect
import xml.etree.ElementTree as ET
from typing import Any

import pytest
import yaml
from pypsrp.wsman import NAMESPACES, OptionSet, SelectorSet, WSMan

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


def _pypsrps_envelope(
    wsman: WSMan, message_id: str, action: str, resource_uri: str, resource: ET.Element | None,
    option_set: Any, selector_set: Any, timeout: int | None,
) -> bytes:
    """What pypsrp's own invoke writes for these arguments, with `message_id` in place of its random one."""
    _, header = wsman._create_header(action, resource_uri, option_set, selector_set, timeout)
    found = header.find(f"{{{NAMESPACES['wsa']}}}MessageID")
    assert found is not None
    found.text = f"uuid:{message_id}"
    envelope = ET.Element(f"{{{NAMESPACES['s']}}}Envelope")
    envelope.append(header)
    body = ET.SubElement(envelope, f"{{{NAMESPACES['s']}}}Body")
    if resource is not None:
        body.append(resource)
    return ET.tostring(envelope, encoding="utf-8", method="xml")


def test_every_envelope_of_a_scan_is_what_pypsrp_writes(demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch) -> None:
    from eems_check.collect import scan

    checked: list[str] = []
    written = remoting._WSMan._written

    def checking(self: remoting._WSMan, message_id: str, *args: Any) -> bytes | None:
        ours = written(self, message_id, *args)
        assert ours == _pypsrps_envelope(self, message_id, *args)
        checked.append(args[0].rsplit("/", 1)[-1])
        return ours

    monkeypatch.setattr(remoting._WSMan, "_written", checking)
    inventory = scan(lab_options(demo_lab, servers=["EX01"]))
    assert [s.name for s in inventory.servers] == ["EX01"]
    assert set(checked) >= {"Create", "Receive", "Command", "Signal", "Delete"}


def _options(*pairs: tuple[str, str]) -> OptionSet:
    options = OptionSet()
    for name, value in pairs:
        options.add_option(name, value)
    return options


def _selectors(*pairs: tuple[str, str]) -> SelectorSet:
    selectors = SelectorSet()
    for name, value in pairs:
        selectors.add_option(name, value)
    return selectors


def _receive() -> ET.Element:
    receive = ET.Element(f"{{{NAMESPACES['rsp']}}}Receive")
    ET.SubElement(receive, f"{{{NAMESPACES['rsp']}}}DesiredStream", CommandId="ABC").text = "stdout"
    return receive


@pytest.mark.parametrize(
    ("action", "resource_uri", "resource", "options", "selectors", "timeout", "settings"),
    [
        ("http://schemas.xmlsoap.org/ws/2004/09/transfer/Create", "http://x/Microsoft.PowerShell", None, None, None,
         None, {}),
        ("http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive", "http://x/Microsoft.Exchange", _receive(),
         _options(("WSMAN_CMDSHELL_OPTION_KEEPALIVE", "TRUE")), _selectors(("ShellId", "A-B")), 30, {}),
        ("urn:a&b", "", _receive(), _options(("a", "x<y"), ("b", '"q"')), _selectors(("S", "1"), ("T", "\t2")), 1,
         {"locale": "de-DE", "data_locale": 'x"&y', "operation_timeout": 7, "path": "wsman?a=1&b=2"}),
        ("", "uri", ET.Element(f"{{{NAMESPACES['rsp']}}}Signal"), None, None, None, {"max_envelope_size": 512000}),
    ],
    ids=["create-no-body", "receive-with-options-and-selectors", "escapes-everywhere", "empty-action-short-form"],
)
def test_the_envelope_template_writes_pypsrps_bytes(
    action: str, resource_uri: str, resource: ET.Element | None, options: Any, selectors: Any,
    timeout: int | None, settings: dict[str, Any],
) -> None:
    wsman = remoting._WSMan("ex01.contoso.lab", ssl=False, auth="ntlm", username="u", password="p", **settings)
    message_id = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"
    args = (action, resource_uri, resource, options, selectors, timeout)
    assert wsman._written(message_id, *args) == _pypsrps_envelope(wsman, message_id, *args)


def test_an_envelope_the_writer_cannot_write_goes_pypsrps_way() -> None:
    wsman = remoting._WSMan("ex01.contoso.lab", ssl=False, auth="ntlm", username="u", password="p")
    odd = ET.Element("{urn:example:unknown}Thing")
    assert wsman._written("ID", "urn:action", "uri", odd, None, None, None) is None


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
