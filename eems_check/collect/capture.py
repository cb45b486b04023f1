"""A capture read back: what an organisation's servers answered, made into the inventory a scan makes of it.

A capture is the folder `Export-EemsInventory.ps1 -Capture DIR` writes in the Exchange Management Shell:
`capture.json` (who wrote it, when, names scrubbed or not), `GetExchangeServer.xml` and
`GetOrganizationConfig.xml` (Export-Clixml of the two cmdlets, as Health Checker's own test data was captured) and
`collector/<NAME>.json` (each server's collector answer, exactly as returned).

What it does: reads those files through the scanner's own stages — `remoting.objects_from_clixml` for the objects,
`records.exchange_facts` for each server, `records.collection_outcome` for each answer — so a capture sent in by an
admin tests everything after the wire, and `eems-check evaluate CAPTURE_DIR` reports on it.

What it must not do: talk to servers, or change or complete an answer: a server without an answer in the capture
is listed as not scanned, with that reason.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..inputfile import JSON_LIMIT, read_regular
from ..inventory import parse_datetime
from ..model import CollectionStatus, Inventory, OrgInfo
from .collector import Bounds
from .plain import PSBag, text
from .recording import CAPTURE_FORMAT
from .records import collection_outcome, exchange_facts, server_record
from .remoting import objects_from_clixml
from .scan import EDGE_REASON

# The largest bounds Export-EemsInventory.ps1 accepts: a capture's answers were made with whatever the admin chose.
_BOUNDS = Bounds(max_events=10000, event_days=3650, max_log_lines=100000)


def is_capture(path: Path) -> bool:
    """A folder holding a `capture.json` (of any kind: reading it says what is wrong with it)."""
    return path.is_dir() and os.path.lexists(path / "capture.json")


def read_capture(folder: Path) -> Inventory:
    """The inventory of a capture folder; `InputError` names the file that is missing or unreadable."""
    manifest = _manifest(folder / "capture.json")
    collected = parse_datetime(manifest.get("collected_at"), f"{folder / 'capture.json'}: collected_at")
    started = collected or dt.datetime.fromtimestamp((folder / "capture.json").stat().st_mtime, dt.timezone.utc)
    bags = [o for o in _objects(folder / "GetExchangeServer.xml") if isinstance(o, PSBag)]
    if not bags:
        raise InputError(f"{folder / 'GetExchangeServer.xml'}: no Get-ExchangeServer object in it")
    config = next((o for o in _objects(folder / "GetOrganizationConfig.xml") if isinstance(o, PSBag)), None)
    records = []
    for bag in bags:
        facts = exchange_facts(bag)
        answer = folder / "collector" / f"{facts['name']}.json"
        reason: str | None
        if facts["is_edge"]:
            status, reason, reading = CollectionStatus.NOT_SCANNED, EDGE_REASON, None
        elif not answer.is_file():
            status, reason, reading = CollectionStatus.NOT_SCANNED, "the capture holds no collector answer", None
        else:
            label = f"capture {answer.name}"
            status, reason, reading = collection_outcome(
                [_text(answer)], [], False, _BOUNDS, facts["name"], label
            )
        records.append(server_record(facts, reading, status, reason, started, None))
    enabled = config.get("MitigationsEnabled") if config is not None else None
    return Inventory(
        org=OrgInfo(
            name=(text(config.get("Name")) if config is not None else None) or "(unknown organisation)",
            mitigations_enabled=enabled if isinstance(enabled, bool) else None,
        ),
        servers=tuple(records),
        collected_at=started,
        collector_name=str(manifest.get("written_by") or "capture"),
        source=f"capture {folder.name}",
    )


def _manifest(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(_text(path))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a capture manifest ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != CAPTURE_FORMAT:
        raise InputError(f"{path}: format is not {CAPTURE_FORMAT!r}")
    return doc


def _objects(path: Path) -> list[Any]:
    try:
        return objects_from_clixml(_text(path))
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # the XML parser or pypsrp's reader, whichever met the bad text
        raise InputError(f"{path}: not CLIXML ({type(exc).__name__}: {exc})") from None


def _text(path: Path) -> str:
    """A capture file's text: a regular file of bounded size only (a FIFO or a device is one line, not a hang)."""
    try:
        return read_regular(path, limit=JSON_LIMIT).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason})") from None
