"""Replay a capture through the lab: a real organisation's answers served over real WS-Man/PSRP.

What it does: `load_replay(folder)` reads a capture (`eems-check scan --capture DIR` or `Export-EemsInventory.ps1
-Capture DIR`) and gives the org spec the lab serves it as (one simulated server per captured Get-ExchangeServer
object: its name, FQDN, site, roles and build) with a `Replay` attached. With it, the lab's Get-ExchangeServer and
Get-OrganizationConfig return the captured objects, rebuilt as psrpcore objects element for element (type names,
ToString, adapted and extended properties, enums with their text and value, lists, references, each primitive with
its own CLIXML type), and the collector on each server answers the captured text unchanged. A scan of the replay
then meets what the real servers said, on the wire.

What it must not do: invent an answer: a server without one in the capture refuses WinRM connections in its
replay, as it gave nothing when it was captured.
"""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from psrpcore.types import (
    PSByte,
    PSChar,
    PSDateTime,
    PSDecimal,
    PSDouble,
    PSEnumBase,
    PSGuid,
    PSInt,
    PSInt16,
    PSInt64,
    PSList,
    PSNoteProperty,
    PSObject,
    PSSByte,
    PSSingle,
    PSType,
    PSUInt,
    PSUInt16,
    PSUInt64,
    PSUri,
    PSVersion,
)

from eems_check.lab.orgfile import LabOrgError, LabOrgSpec, parse_org

__all__ = ["Replay", "load_replay", "to_psobject", "to_psobjects"]

_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_BUILD = re.compile(r"Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)")
_NUMBERS: dict[str, Any] = {
    "I32": PSInt, "I64": PSInt64, "I16": PSInt16, "U32": PSUInt, "U64": PSUInt64, "U16": PSUInt16,
    "By": PSByte, "SB": PSSByte,
}
_LISTS = ("LST", "IE", "STK", "QUE")


@dataclass(frozen=True)
class Replay:
    """The captured answers the lab serves: CLIXML objects by cmdlet, collector answers by server name."""

    folder: str
    exchange_servers: tuple[str, ...]  # each Get-ExchangeServer object's text, in the capture's order
    organization_config: tuple[str, ...]
    answers: dict[str, str]  # server name (any case) -> the collector's answer

    def server_objects(self) -> list[Any]:
        return to_psobjects(self.exchange_servers)

    def config_objects(self) -> list[Any]:
        return to_psobjects(self.organization_config)

    def answer(self, server: str) -> str | None:
        return self.answers.get(server.lower())


def load_replay(folder: Path) -> LabOrgSpec:
    """The org spec that serves the capture in `folder`; `LabOrgError` names the file that is wrong."""
    from eems_check.collect.capture import read_capture  # the capture's reader: the same one `evaluate` uses
    from eems_check.errors import InputError

    try:
        inventory = read_capture(folder)
        servers = _objects(folder / "GetExchangeServer.xml")
        config = _objects(folder / "GetOrganizationConfig.xml")
    except (InputError, OSError, ET.ParseError) as exc:
        raise LabOrgError(str(exc)) from None
    answers = {p.stem.lower(): p.read_text(encoding="utf-8-sig") for p in (folder / "collector").glob("*.json")}
    specs: list[dict[str, Any]] = []
    for server in inventory.servers:
        cu = _cu_build(server.admin_display_version) or "15.2.1748.10"
        spec: dict[str, Any] = {
            "name": server.name,
            "fqdn": server.fqdn or f"{server.name}.replay.invalid",
            "site": server.site or "Default-First-Site-Name",
            "roles": list(server.roles) or ["Mailbox"],
            "build": _build(server.exsetup_version) or cu,
            "cu_build": cu,
        }
        if server.name.lower() not in answers and not server.is_edge:
            spec["faults"] = [{"kind": "refuse", "endpoint": "wsman"}]  # it gave no answer: nor does its replay
        specs.append(spec)
    domain = next((str(s["fqdn"]).split(".", 1)[1] for s in specs if "." in str(s["fqdn"])), "replay.invalid")
    doc = {
        "organization": {"name": inventory.org.name, "domain": domain, "mitigations_enabled": True},
        "accounts": [{"username": "REPLAY\\scanner", "password": "Replay-Scan-2026!"}],
        "servers": specs,
    }
    org = parse_org(yaml.safe_dump(doc, sort_keys=False), str(folder / "capture.json"))
    return replace(org, replay=Replay(str(folder), tuple(servers), tuple(config), answers))


def _objects(path: Path) -> list[str]:
    """The text of each object of an `<Objs>` file, namespace-free, as the wire carries it."""
    root = ET.fromstring(path.read_text(encoding="utf-8-sig"))
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
    return [ET.tostring(child, encoding="unicode") for child in root]


def _cu_build(text: str | None) -> str | None:
    match = _BUILD.search(text or "")
    return ".".join(str(int(g)) for g in match.groups()) if match else None


def _build(text: str | None) -> str | None:
    parts = (text or "").split(".")
    return ".".join(str(int(p)) for p in parts) if len(parts) == 4 and all(p.isdigit() for p in parts) else None


def to_psobject(text: str) -> Any:
    """One CLIXML object (`<Obj>` or a primitive) as the psrpcore value that serialises back to the same shape."""
    return _Reader().value(ET.fromstring(text))


def to_psobjects(texts: tuple[str, ...] | list[str]) -> list[Any]:
    """The objects of one file, in order, read as one document: in an Export-Clixml file a later object may refer
    to type names and objects of an earlier one."""
    reader = _Reader()
    return [reader.value(ET.fromstring(text)) for text in texts]


class _Reader:
    def __init__(self) -> None:
        self.types: dict[str, list[str]] = {}
        self.objects: dict[str, Any] = {}

    def value(self, element: ET.Element) -> Any:
        tag, text = element.tag, element.text or ""
        if tag == "Nil":
            return None
        if tag in ("S", "ToString", "XD", "SBK"):
            return _unescape(text)
        if tag == "B":
            return text.strip().lower() == "true"
        if tag in _NUMBERS:
            return _NUMBERS[tag](int(text))
        if tag == "Db":
            return PSDouble(float(text))
        if tag == "Sg":
            return PSSingle(float(text))
        if tag == "D":
            return PSDecimal(text)
        if tag == "C":
            return PSChar(int(text))
        if tag == "DT":
            return PSDateTime.fromisoformat(text)
        if tag == "G":
            return PSGuid(text)
        if tag == "URI":
            return PSUri(_unescape(text))
        if tag == "Version":
            return PSVersion(text)
        if tag == "BA":
            return base64.b64decode(text)
        if tag == "TS":
            return _unescape(text)  # a duration: kept as its text (the lab's objects have none)
        if tag == "Ref":
            return self.objects.get(element.get("RefId", ""))
        if tag == "Obj":
            return self._object(element)
        raise ValueError(f"a <{tag}> element, which a replay does not rebuild")

    def _object(self, element: ET.Element) -> Any:
        types = self._types(element)
        to_string_element = element.find("ToString")
        to_string = _unescape(to_string_element.text or "") if to_string_element is not None else None
        listed = next((child for child in element if child.tag in _LISTS), None)
        primitive = next((c for c in element if c.tag in _NUMBERS), None)
        result: Any
        if listed is not None:
            result = PSList([self.value(item) for item in listed])
            result.PSObject.type_names = types
        elif primitive is not None and to_string is not None and element.find("Props") is None:
            result = _enum(types[0] if types else "System.Enum", to_string, int(primitive.text or 0))
        else:
            result = PSObject()
            result.PSObject.type_names = types
            if to_string is not None:
                result.PSObject.to_string = to_string
            bags = (("Props", result.PSObject.adapted_properties), ("MS", result.PSObject.extended_properties))
            for holder, bag in bags:
                found = element.find(holder)
                for member in found if found is not None else ():
                    bag.append(PSNoteProperty(member.get("N", ""), self.value(member)))
        ref = element.get("RefId")
        if ref is not None:
            self.objects[ref] = result
        return result

    def _types(self, element: ET.Element) -> list[str]:
        names = element.find("TN")
        if names is not None:
            found = [t.text or "" for t in names]
            self.types[names.get("RefId", "")] = found
            return found
        pointer = element.find("TNRef")
        return list(self.types.get(pointer.get("RefId", ""), [])) if pointer is not None else []


@cache
def _enum(type_name: str, text: str, value: int) -> Any:
    members: Any = PSEnumBase(type_name.rsplit(".", 1)[-1], [(text, value)])  # type: ignore[arg-type]
    return PSType([type_name], rehydrate=False)(members)[text]


def _unescape(text: str) -> str:
    """CLIXML's `_xHHHH_` escapes undone, UTF-16 pairs joined ([MS-PSRP] 2.2.5.1.1)."""
    if "_x" not in text:
        return text
    joined = _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    return joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be", "replace")
