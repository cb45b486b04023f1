"""Reading output objects straight into plain shapes gives exactly what pypsrp's reading gives, or steps aside."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from pypsrp.serializer import Serializer

from eems_check.collect import clixml
from eems_check.collect.clixml import NotPlain, read_plain, unescape
from eems_check.collect.plain import PSBag
from eems_check.collect.remoting import to_plain

from .conftest import FIXTURES

SHAPES = yaml.safe_load((FIXTURES / "clixml-shapes.yaml").read_text(encoding="utf-8"))
RECORDED = ["exchange_server_mailbox.xml", "exchange_server_edge.xml", "organization_config.xml"]


def _pypsrp(text: str) -> Any:
    return to_plain(Serializer().deserialize(text))


def _deep(value: Any) -> Any:
    """Compare bags by content, ToString and type names too."""
    if isinstance(value, PSBag):
        return ("bag", {k: _deep(v) for k, v in value.items()}, value.to_string, value.type_names)
    if isinstance(value, list):
        return [_deep(v) for v in value]
    return value


@pytest.mark.parametrize("shape", SHAPES, ids=[s["name"] for s in SHAPES])
def test_each_shape_reads_as_pypsrp_reads_it_or_is_left_to_pypsrp(shape: dict[str, str]) -> None:
    if shape["expect"] == "not_plain":
        with pytest.raises(NotPlain):
            read_plain(shape["xml"])
        return
    assert _deep(read_plain(shape["xml"])) == _deep(_pypsrp(shape["xml"]))


@pytest.mark.parametrize("fixture", RECORDED)
def test_recorded_exchange_objects_read_the_same(fixture: str) -> None:
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    assert _deep(read_plain(text)) == _deep(_pypsrp(text))


def test_an_object_holding_an_array_list_is_left_to_pypsrp() -> None:
    with pytest.raises(NotPlain):
        read_plain((FIXTURES / "primitives.xml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("raw", "text"), [
    ("a_x000A_b", "a\nb"),
    ("_x005F_x0041_", "_x0041_"),
    ("_xD83D__xDE00_", "\U0001F600"),
    ("no escapes", "no escapes"),
    (None, ""),
])
def test_escapes_are_undone_as_pypsrp_undoes_them(raw: str | None, text: str) -> None:
    assert unescape(raw) == text == Serializer()._deserialize_string(raw)


@pytest.mark.parametrize("raw", ["_xZZZZ_", "_xD83D_ alone"])
def test_escapes_pypsrp_cannot_read_are_left_to_it(raw: str) -> None:
    with pytest.raises(NotPlain):
        unescape(raw)


@pytest.mark.parametrize(("types", "generic"), [
    (("Deserialized.Contoso.Role", "Deserialized.System.Enum", "Deserialized.System.ValueType",
      "Deserialized.System.Object"), True),
    (("System.Management.Automation.PSObject", "System.Object"), True),
    (("System.Collections.ArrayList", "System.Object"), False),
    (("System.String[]", "System.Array", "System.Object"), False),
    (("Selected.Contoso.Thing", "System.Object"), False),
    (("Contoso.Thing",), False),
])
def test_a_type_list_gets_the_same_decision_each_time_it_comes(types: tuple[str, ...], generic: bool) -> None:
    assert [clixml._is_generic(types) for _ in range(3)] == [generic] * 3


def test_remembered_type_lists_stay_bounded_and_decisions_stay_right_past_the_bound() -> None:
    many = [(f"Contoso.Thing{i}", "System.Object") for i in range(3 * clixml._GENERIC_BY_TYPES_LIMIT)]
    assert all(clixml._is_generic(types) for types in many)
    assert len(clixml._GENERIC_BY_TYPES) <= clixml._GENERIC_BY_TYPES_LIMIT
    assert not clixml._is_generic(("System.Collections.Hashtable", "System.Object"))
