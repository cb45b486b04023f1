"""Read and write inventory documents (schemas/inventory.schema.json).

Reading tolerates what Windows PowerShell 5.1 writes (UTF-16 or BOM-prefixed files, `\\/Date(ms)\\/` dates,
one-element arrays collapsed to their element, enums as numbers), guided by the schema itself, then validates and
converts to the typed model. Errors name the file and the field. No evaluation happens here.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from .errors import InventoryError
from .inputfile import JSON_LIMIT, read_regular, shown, shown_path
from .model import (
    BuildSource,
    Collection,
    CollectionStatus,
    EemsSettings,
    EventRecord,
    GetMitigationsResult,
    Inventory,
    LogLine,
    Mitigation,
    OcsProbe,
    OrgInfo,
    ServerRecord,
    ServiceState,
)
from .names import server_key
from .schema_errors import message as _message
from .schema_errors import ordered
from .schema_errors import where as _where

SCHEMA_ID = "eems-check/inventory"
SCHEMA_VERSION = 1
_MS_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$", re.ASCII)
_TRUNCATED = re.compile(r"^System\.(Collections\.|Object\[\]|Management\.Automation\.PS)")


@cache
def schema() -> dict[str, Any]:
    text = (resources.files("eems_check") / "schemas" / "inventory.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def decode_text(raw: bytes, name: str) -> str:
    """Bytes of a JSON file as PowerShell may have written them: UTF-8 (with or without BOM) or UTF-16."""
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            return raw.decode("utf-16")
        if len(raw) >= 2 and raw[0] != 0 and raw[1] == 0:
            return raw.decode("utf-16-le")
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"{name}: not UTF-8 or UTF-16 text (byte {exc.start}: {exc.reason})") from exc


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """JSON readers disagree on which of two equal keys counts (the unsafe build could win): refuse them."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogate(doc: Any) -> str | None:
    """The path of the first string (or key) holding a lone UTF-16 surrogate, which no file can encode."""
    stack: list[tuple[Any, str]] = [(doc, "")]
    while stack:
        value, where = stack.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
        for key, item in items:
            here = f"{where}[{key}]" if isinstance(key, int) else (f"{where}.{key}" if where else str(key))
            for text in (key, item):
                if isinstance(text, str) and _SURROGATE.search(text):
                    return here
            if isinstance(item, (dict, list)):
                stack.append((item, here))
    return None


def load_json(path: Path) -> Any:
    """Parse a JSON file (regular file, size-capped); every problem is one InventoryError line naming the file."""
    raw = read_regular(path, limit=JSON_LIMIT, error=InventoryError)
    text = decode_text(raw, str(path))
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise InventoryError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except _DuplicateKey as exc:
        raise InventoryError(f"{path}: an object has the key {shown(exc.key)} twice") from None
    except RecursionError:
        raise InventoryError(f"{path}: not valid JSON: nested too deeply") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise InventoryError(f"{path}: not valid JSON: {shown(str(exc), 120)}") from None
    if _SURROGATE_ESCAPE.search(text):
        where = _lone_surrogate(doc)
        if where is not None:
            raise InventoryError(f"{path}: {where}: holds a lone UTF-16 surrogate (\\ud800-\\udfff): not text")
    return doc


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = schema()
    for part in ref.lstrip("#/").split("/"):
        target = target[part]
    merged = dict(target)
    merged.update({k: v for k, v in node.items() if k != "$ref"})
    return merged


def _types(node: Mapping[str, Any]) -> set[str]:
    t = node.get("type")
    if isinstance(t, list):
        return set(t)
    return {t} if isinstance(t, str) else set()


def normalise_powershell(value: Any, node: Mapping[str, Any] | None = None, path: str = "") -> Any:
    """Undo Windows PowerShell 5.1 ConvertTo-Json habits, following the schema."""
    node = _resolve(node if node is not None else schema())
    types = _types(node)
    if isinstance(value, str) and _TRUNCATED.match(value) and (types & {"object", "array"}):
        raise InventoryError(
            f"{path or 'document'}: holds {value!r}, the mark of ConvertTo-Json's depth limit; "
            "write the file with ConvertTo-Json -Depth 8"
        )
    if "array" in types and _is_array_wrapper(value):
        value = value["value"]  # Windows PowerShell 5.1 wrote an array that carried ETS members as an object
    if "array" in types and value is not None and not isinstance(value, list):
        if "x-split" in node and isinstance(value, str):
            value = [p.strip() for p in value.split(node["x-split"]) if p.strip()]
        else:
            value = [value]
    if isinstance(value, list) and "items" in node:
        return [normalise_powershell(v, node["items"], f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and "properties" in node:
        props = node["properties"]
        return {
            k: normalise_powershell(v, props[k], f"{path}.{k}" if path else k) if k in props else v
            for k, v in value.items()
        }
    if node.get("format") == "date-time" and isinstance(value, str):
        match = _MS_DATE.match(value)
        if match:
            return _ms_date(match, path or "document").isoformat().replace("+00:00", "Z")
    if "x-ps-enum" in node and isinstance(value, int) and not isinstance(value, bool):
        return node["x-ps-enum"].get(str(value), str(value))
    return value


def _is_array_wrapper(value: Any) -> bool:
    """`{"value": [...], "Count": n}`: how ConvertTo-Json in Windows PowerShell 5.1 writes an array that holds
    extended members (an array built with `+=` or taken from a property, for instance) where a list belongs."""
    return (
        isinstance(value, dict)
        and set(value) == {"value", "Count"}
        and isinstance(value["value"], list)
        and value["Count"] == len(value["value"])
    )


ERRORS_READ = 20  # schema problems gathered before stopping: a file of a million bad entries is refused at once


def validate_document(doc: Any, name: str) -> dict[str, Any]:
    """Normalise PowerShell quirks, then validate against the schema; returns the normalised document."""
    if not isinstance(doc, dict):
        raise InventoryError(f"{name}: the inventory must be a JSON object, not {type(doc).__name__}")
    try:
        doc = normalise_powershell(doc)
    except InventoryError as exc:
        raise InventoryError(f"{name}: {exc}") from None
    validator = jsonschema.Draft202012Validator(schema())
    found = list(itertools.islice(validator.iter_errors(doc), ERRORS_READ + 1))
    errors = ordered(found[:ERRORS_READ])
    if errors:
        first = errors[0]
        if len(found) > ERRORS_READ:
            more = f" (the first of more than {ERRORS_READ} problems)"
        else:
            more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        raise InventoryError(f"{name}: {shown_path(_where(first))}: {_message(first)}{more}")
    return doc


def _ms_date(match: re.Match[str], where: str) -> dt.datetime:
    """`\\/Date(ms)\\/` as PowerShell 5.1 writes it; a value outside the years 1-9999 is an InventoryError."""
    try:
        return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=int(match.group(1)))
    except (OverflowError, ValueError):
        raise InventoryError(f"{where}: {shown(match.group(0))} is not a date between the years 1 and 9999") from None


def parse_datetime(value: str | None, where: str) -> dt.datetime | None:
    if value is None:
        return None
    text = value.strip()
    match = _MS_DATE.match(text)
    if match:
        return _ms_date(match, where)
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00").replace("z", "+00:00"))
    try:
        stamp = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InventoryError(f"{where}: not a date and time: {shown(value)}") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=dt.timezone.utc)
    try:
        return stamp.astimezone(dt.timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the year 1 in UTC
        raise InventoryError(f"{where}: {shown(value)} is not a date between the years 1 and 9999") from None


def _strs(values: list[str] | None) -> tuple[str, ...]:
    return tuple(v for v in (values or []) if v)


def server_from_dict(d: Mapping[str, Any], where: str) -> ServerRecord:
    eems = d.get("eems") or {}
    service_collected = "service" in d
    service = d.get("service")
    events = d.get("events")
    log_lines = d.get("log_lines")
    gm = d.get("get_mitigations")
    probe = d.get("ocs_probe")
    coll = d.get("collection") or {}
    source = d.get("build_source")
    if source is None:
        source = (
            "exsetup"
            if d.get("exsetup_version")
            else "admin_display_version"
            if d.get("admin_display_version")
            else None
        )
    return ServerRecord(
        name=d["name"],
        fqdn=d.get("fqdn"),
        site=d.get("site"),
        roles=_strs(d.get("roles")),
        edition=d.get("edition"),
        is_edge=bool(d.get("is_edge")),
        admin_display_version=d.get("admin_display_version"),
        exsetup_version=d.get("exsetup_version"),
        build_source=BuildSource(source) if source else None,
        http_version=d.get("http_version"),
        eems=EemsSettings(
            enabled=eems.get("enabled"),
            applied=_strs(eems.get("applied")),
            blocked=_strs(eems.get("blocked")),
            data_collection_enabled=eems.get("data_collection_enabled"),
            internet_web_proxy=eems.get("internet_web_proxy"),
        ),
        service=ServiceState(service.get("name") or "MSExchangeMitigation", service["status"], service["start_type"])
        if service
        else None,
        service_collected=service_collected,
        events=None
        if events is None
        else tuple(
            EventRecord(
                id=e["id"],
                level=e.get("level") or "",
                message=e["message"],
                time=parse_datetime(e.get("time"), f"{where}.events[{i}].time"),
                source=e.get("source") or "MSExchange Mitigation Service",
            )
            for i, e in enumerate(events)
        ),
        log_lines=None if log_lines is None else tuple(LogLine(x.get("file") or "", x["line"]) for x in log_lines),
        get_mitigations=None
        if gm is None
        else GetMitigationsResult(
            ran=gm["ran"],
            reason=gm.get("reason"),
            mitigations=tuple(
                Mitigation(
                    id=m["id"],
                    type=m.get("type") or "",
                    description=m.get("description") or "",
                    status=m.get("status") or "",
                    server=m.get("server") or "",
                )
                for m in gm.get("mitigations") or []
            ),
            warnings=_strs(gm.get("warnings")),
            errors=_strs(gm.get("errors")),
            host=gm.get("host"),
        ),
        ocs_probe=None
        if probe is None
        else OcsProbe(
            ran=probe["ran"],
            reason=probe.get("reason"),
            url=probe.get("url"),
            proxy=probe.get("proxy"),
            status_code=probe.get("status_code"),
            error=probe.get("error"),
            certificate_issuer=probe.get("certificate_issuer"),
        ),
        collection=Collection(
            status=CollectionStatus(coll.get("status") or "ok"),
            reason=coll.get("reason"),
            collected_at=parse_datetime(coll.get("collected_at"), f"{where}.collection.collected_at"),
            duration_ms=coll.get("duration_ms"),
        ),
    )


def inventory_from_document(doc: Any, name: str) -> Inventory:
    """Validate a parsed JSON document and build the typed inventory."""
    doc = validate_document(doc, name)
    org = doc["organization"]
    collector = doc.get("collector") or {}
    servers = tuple(server_from_dict(s, f"{name}: servers[{i}]") for i, s in enumerate(doc["servers"]))
    seen: dict[str, int] = {}
    for i, s in enumerate(servers):
        key = server_key(s.name)
        if key in seen:
            raise InventoryError(f"{name}: servers[{i}].name: {s.name!r} appears twice (first at servers[{seen[key]}])")
        seen[key] = i
    return Inventory(
        org=OrgInfo(
            name=org["name"],
            mitigations_enabled=org.get("mitigations_enabled"),
            discovery_server=org.get("discovery_server"),
            discovery_problems=tuple(org.get("discovery_problems") or ()),
        ),
        servers=servers,
        collected_at=parse_datetime(doc.get("collected_at"), f"{name}: collected_at"),
        collector_name=collector.get("name") or "unknown",
        collector_version=collector.get("version") or "",
        collector_host=collector.get("host"),
        source=name,
        incomplete=doc.get("incomplete"),
    )


def read_inventory(path: Path) -> Inventory:
    return inventory_from_document(load_json(path), str(path))


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def server_to_dict(s: ServerRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": s.name,
        "fqdn": s.fqdn,
        "site": s.site,
        "roles": list(s.roles),
        "edition": s.edition,
        "is_edge": s.is_edge,
        "admin_display_version": s.admin_display_version,
        "exsetup_version": s.exsetup_version,
        "build_source": s.build_source.value if s.build_source else None,
        "http_version": s.http_version,
        "eems": {
            "enabled": s.eems.enabled,
            "applied": list(s.eems.applied),
            "blocked": list(s.eems.blocked),
            "data_collection_enabled": s.eems.data_collection_enabled,
            "internet_web_proxy": s.eems.internet_web_proxy,
        },
    }
    if s.service_collected:
        out["service"] = (
            {"name": s.service.name, "status": s.service.status, "start_type": s.service.start_type}
            if s.service
            else None
        )
    out["events"] = (
        None
        if s.events is None
        else [
            {"id": e.id, "level": e.level, "time": _iso(e.time), "source": e.source, "message": e.message}
            for e in s.events
        ]
    )
    out["log_lines"] = None if s.log_lines is None else [{"file": x.file, "line": x.line} for x in s.log_lines]
    gm = s.get_mitigations
    out["get_mitigations"] = (
        None
        if gm is None
        else {
            "ran": gm.ran,
            "reason": gm.reason,
            "mitigations": [
                {"server": m.server, "id": m.id, "type": m.type, "description": m.description, "status": m.status}
                for m in gm.mitigations
            ],
            "warnings": list(gm.warnings),
            "errors": list(gm.errors),
            "host": gm.host,
        }
    )
    p = s.ocs_probe
    out["ocs_probe"] = (
        None
        if p is None
        else {
            "ran": p.ran,
            "reason": p.reason,
            "url": p.url,
            "proxy": p.proxy,
            "status_code": p.status_code,
            "error": p.error,
            "certificate_issuer": p.certificate_issuer,
        }
    )
    c = s.collection
    out["collection"] = {
        "status": c.status.value,
        "reason": c.reason,
        "collected_at": _iso(c.collected_at),
        "duration_ms": c.duration_ms,
    }
    return out


def inventory_to_document(inv: Inventory) -> dict[str, Any]:
    """The inventory as a schema-valid JSON document (what --save-inventory writes)."""
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "collected_at": _iso(inv.collected_at),
        "collector": {"name": inv.collector_name, "version": inv.collector_version, "host": inv.collector_host},
        "organization": {
            "name": inv.org.name,
            "mitigations_enabled": inv.org.mitigations_enabled,
            "discovery_server": inv.org.discovery_server,
            **({"discovery_problems": list(inv.org.discovery_problems)} if inv.org.discovery_problems else {}),
        },
        "servers": [server_to_dict(s) for s in inv.servers],
        **({"incomplete": inv.incomplete} if inv.incomplete else {}),
    }
