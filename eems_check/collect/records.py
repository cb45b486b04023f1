"""Builds one `ServerRecord` from Get-ExchangeServer facts, the collector's reading and how the collection went.

What it does: maps a Get-ExchangeServer property bag to the inventory schema's server keys, merges the collector's
part, picks the build source (ExSetup or registry from the collector, else AdminDisplayVersion), and passes the
schema-shaped dict through `inventory.normalise_powershell` and `inventory.server_from_dict`, so a scanned server
and an exported inventory become the same typed record by the same code.

`collection_outcome` decides what a finished collector run means: ok, partial (parts missing) or error.

What it must not do: talk to servers, or classify remoting failures (`remoting` does).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..inventory import normalise_powershell, server_from_dict
from ..model import CollectionStatus, ServerRecord
from .collector import Bounds, CollectorOutputError, CollectorReading, read_collector_output, server_schema
from .plain import PSBag, strings, text


def exchange_facts(bag: Mapping[str, Any]) -> dict[str, Any]:
    """The schema-shaped facts of one Get-ExchangeServer object (property names as Exchange spells them)."""
    name = text(bag.get("Name")) or str(bag) or "unknown"
    roles = [r.strip() for r in ",".join(strings(bag.get("ServerRole"))).split(",") if r.strip()]
    is_edge = bag.get("IsEdgeServer")
    return {
        "name": name,
        "fqdn": text(bag.get("Fqdn")),
        "site": _site(bag.get("Site")),
        "roles": roles,
        "edition": text(bag.get("Edition")),
        "is_edge": bool(is_edge) if is_edge is not None else "Edge" in roles,
        "admin_display_version": text(bag.get("AdminDisplayVersion")),
        "eems": {
            "enabled": _bool(bag.get("MitigationsEnabled")),
            "applied": strings(bag.get("MitigationsApplied")),
            "blocked": strings(bag.get("MitigationsBlocked")),
            "data_collection_enabled": _bool(bag.get("DataCollectionEnabled")),
            "internet_web_proxy": text(bag.get("InternetWebProxy")) or None,
        },
    }


_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")


def host_name_problem(name: str) -> str | None:
    """None when `name` is a DNS host name a connection can be made to (labels of letters, digits, hyphens and
    underscores, 253 characters at most, an optional final dot); else what is wrong, quoting the name. The name
    Get-ExchangeServer gives goes into a URL that credentials are sent to: a port, path, query, user part or
    space smuggled into it must never reach the network."""
    shown = repr(name[:80] + ("..." if len(name) > 80 else ""))
    bare = name[:-1] if name.endswith(".") else name
    if not bare or len(bare) > 253:
        return f"an empty or over-long host name {shown}"
    if not all(_LABEL.fullmatch(label) for label in bare.split(".")):
        return f"{shown}, which is not a host name (only letters, digits, '-', '_' and dots are allowed)"
    return None


def _site(value: Any) -> str | None:
    # An ADObjectId: its Name, or the last part of "contoso.com/Configuration/Sites/<site>".
    if isinstance(value, PSBag) and text(value.get("Name")):
        return text(value.get("Name"))
    shown = text(value)
    return shown.rsplit("/", 1)[-1] if shown else None


def _bool(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


def collection_outcome(
    output: Sequence[Any], errors: Sequence[str], failed: bool, bounds: Bounds, expected: str, label: str
) -> tuple[CollectionStatus, str | None, CollectorReading | None]:
    """Status, reason and reading of one collector run that returned (`label` prefixes error reasons)."""
    if failed:
        detail = errors[0] if errors else "no error record"
        return CollectionStatus.ERROR, f"{label}: the collector failed: {detail}", None
    try:
        reading = read_collector_output(output, bounds, expected)
    except CollectorOutputError as exc:
        return CollectionStatus.ERROR, f"{label}: {exc}", None
    problems = [*reading.problems, *(f"the collector wrote an error: {e}" for e in errors[:1])]
    reason = "; ".join([*problems, *reading.notes]) or None
    return (CollectionStatus.PARTIAL if problems else CollectionStatus.OK), reason, reading


def server_record(
    facts: Mapping[str, Any],
    reading: CollectorReading | None,
    status: CollectionStatus,
    reason: str | None,
    started: dt.datetime,
    duration_ms: int | None,
) -> ServerRecord:
    """The typed record of one server."""
    doc: dict[str, Any] = dict(facts)
    if reading is not None:
        doc.update(reading.fields)
    if not doc.get("build_source"):
        doc["build_source"] = "admin_display_version" if doc.get("admin_display_version") else None
    collected = reading.collected_at if reading is not None and reading.collected_at else _iso(started)
    doc["collection"] = {
        "status": status.value,
        "reason": reason,
        "collected_at": collected,
        "duration_ms": duration_ms,
    }
    doc = normalise_powershell(doc, server_schema())
    return server_from_dict(doc, f"server {doc['name']}")


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
