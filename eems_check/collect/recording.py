"""Record what a scan receives into a capture folder (`eems-check scan --capture DIR`), for the test suite.

What it does: `Recorder` keeps the SOAP answers pypsrp receives in one thread (pypsrp writes each one to its debug
log, "Received message: ..."; a logging handler is the public way to read them), and `pipeline_outputs` takes the
PSRP messages out of their `stdout` streams ([MS-PSRP] 2.2.4 fragments, 2.2.1 messages): the output objects of each
pipeline exactly as the server wrote them. `CaptureWriter` writes them as `capture.py` reads a capture, and as
`Export-EemsInventory.ps1 -Capture` writes one: `capture.json`, `GetExchangeServer.xml` and
`GetOrganizationConfig.xml` (the objects in an `<Objs>` document) and `collector/<NAME>.json` (each answer as
returned). The account's password and any `user:password@` in a URL are always replaced; on request the
organisation's names too (servers, DNS domains, sites, the organisation), consistently across every file.

What it must not do: change what the servers said beyond that scrubbing, or let a capture failure end the scan.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import struct
import threading
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CAPTURE_FORMAT = "eems-check/capture"
CLIXML_NS = "http://schemas.microsoft.com/powershell/2004/04"
_RECEIVED = "Received message: "
_PIPELINE_OUTPUT = 0x00041004
_URL_CREDENTIALS = re.compile(r"(?<=://)[^/@\s:'\"<>]+:[^/@\s'\"<>]+@")

log = logging.getLogger(__name__)


class Recorder(logging.Handler):
    """The answers pypsrp logs as received in the thread that made this recorder."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._thread = threading.get_ident()
        self.answers: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            message = record.getMessage()
            if message.startswith(_RECEIVED):
                self.answers.append(message[len(_RECEIVED) :])


@contextmanager
def recording() -> Iterator[Recorder]:
    """Record pypsrp's received answers in this thread for the length of the block. pypsrp's logger is opened to
    debug records meanwhile; unless it was already (--debug), they go only to the recorder, not to the terminal."""
    logger = logging.getLogger("pypsrp.wsman")
    recorder = Recorder()
    level, propagate = logger.level, logger.propagate
    quiet = logger.getEffectiveLevel() > logging.DEBUG
    logger.addHandler(recorder)
    logger.setLevel(logging.DEBUG)
    if quiet:
        logger.propagate = False
    try:
        yield recorder
    finally:
        logger.removeHandler(recorder)
        logger.setLevel(level)
        logger.propagate = propagate


def pipeline_outputs(answers: Sequence[str]) -> list[list[str]]:
    """The output objects (CLIXML text) of each pipeline in `answers`, pipelines in the order their first output
    arrived. Streams that are not base64, fragments cut short, and messages that never end are passed over."""
    blobs: dict[int, bytes] = {}
    pipelines: dict[uuid.UUID, list[str]] = {}
    for answer in answers:
        for data in _stdout_streams(answer):
            for object_id, end, blob in _fragments(data):
                blobs[object_id] = blobs.get(object_id, b"") + blob
                if end:
                    _message(blobs.pop(object_id), pipelines)
    return list(pipelines.values())


def _stdout_streams(answer: str) -> Iterator[bytes]:
    try:
        root = ET.fromstring(answer)
    except ET.ParseError:
        return
    for stream in root.iter():
        if isinstance(stream.tag, str) and stream.tag.endswith("}Stream") and stream.get("Name") == "stdout":
            try:
                yield base64.b64decode(stream.text or "", validate=True)
            except (binascii.Error, ValueError):
                continue


def _fragments(data: bytes) -> Iterator[tuple[int, bool, bytes]]:
    """([MS-PSRP] 2.2.4) object id, whether this is the object's last fragment, and the fragment's bytes."""
    at = 0
    while at + 21 <= len(data):
        object_id, _fragment_id, flags, length = struct.unpack_from(">QQBI", data, at)
        at += 21
        if at + length > len(data):
            return
        yield object_id, bool(flags & 0x2), data[at : at + length]
        at += length


def _message(data: bytes, pipelines: dict[uuid.UUID, list[str]]) -> None:
    """([MS-PSRP] 2.2.1) destination, message type, runspace pool id, pipeline id, then the CLIXML data."""
    if len(data) < 40:
        return
    (message_type,) = struct.unpack_from("<I", data, 4)
    if message_type != _PIPELINE_OUTPUT:
        return
    pipeline = uuid.UUID(bytes_le=data[24:40])
    pipelines.setdefault(pipeline, []).append(data[40:].decode("utf-8", "replace").lstrip("\ufeff"))


class CaptureWriter:
    """A capture folder written at the end of a scan (see the module docstring); thread-safe."""

    def __init__(self, folder: Path, *, password: str | None, scrub_names: bool) -> None:
        self.folder = folder
        self._password = password
        self._scrub_names = scrub_names
        self._lock = threading.Lock()
        self._cmdlets: dict[str, list[str]] = {}
        self._answers: dict[str, str] = {}

    def cmdlet(self, name: str, objects: Sequence[str]) -> None:
        with self._lock:
            self._cmdlets[name] = list(objects)

    def answer(self, server: str, text: str) -> None:
        with self._lock:
            self._answers[server] = text

    def finish(self, *, collected_at: str, written_by: str, names: Mapping[str, str]) -> None:
        """Write every file. `names` maps each name of the organisation to scrub to its stand-in (used when the
        names are to be scrubbed; see `scrub_table`)."""
        table = dict(names) if self._scrub_names else {}
        with self._lock:
            files = {
                f"{cmdlet}.xml": _objs(objects) for cmdlet, objects in self._cmdlets.items()
            }
            files.update({f"collector/{server}.json": text for server, text in self._answers.items()})
        manifest = {
            "format": CAPTURE_FORMAT,
            "version": 1,
            "written_by": written_by,
            "collected_at": collected_at,
            "names_scrubbed": self._scrub_names,
        }
        files["capture.json"] = json.dumps(manifest, indent=2)
        for relative, content in files.items():
            self._write(self._scrub(relative, table), self._scrub(content, table))

    def _scrub(self, text: str, names: Mapping[str, str]) -> str:
        clean = _URL_CREDENTIALS.sub("scrubbed:scrubbed@", text)
        if self._password:
            clean = clean.replace(self._password, "***")
        for name in sorted(names, key=len, reverse=True):
            clean = re.sub(re.escape(name), names[name].replace("\\", "\\\\"), clean, flags=re.IGNORECASE)
        return clean

    def _write(self, relative: str, content: str) -> None:
        path = self.folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle:
            handle.write(content)


def _objs(objects: Sequence[str]) -> str:
    """The objects in one `<Objs>` document, each exactly as the server wrote it (every wire object defines its
    type names and objects before it refers to them, so they read back in one pass)."""
    body = "\n".join(f"  {text}" for text in objects)
    return f'<Objs Version="1.1.0.1" xmlns="{CLIXML_NS}">\n{body}\n</Objs>\n'


def scrub_table(servers: Sequence[Mapping[str, Any]], organisation: str | None) -> dict[str, str]:
    """Neutral stand-ins for the organisation's own names, as Export-EemsInventory.ps1 -ScrubNames makes them:
    servers SERVER01..., the DNS domains of their FQDNs example1.invalid... (also as DC=...,DC=...), sites
    SITE01..., the organisation "Organisation"."""
    table: dict[str, str] = {}
    counts = {"server": 0, "domain": 0, "site": 0}
    for facts in servers:
        name, fqdn, site = facts.get("name"), facts.get("fqdn"), facts.get("site")
        if name and name not in table:
            counts["server"] += 1
            table[name] = f"SERVER{counts['server']:02d}"
        if fqdn and "." in fqdn:
            domain = fqdn.split(".", 1)[1]
            if domain not in table:
                counts["domain"] += 1
                neutral = f"example{counts['domain']}.invalid"
                table[domain] = neutral
                table["DC=" + ",DC=".join(domain.split("."))] = "DC=" + ",DC=".join(neutral.split("."))
        if site and site not in table:
            counts["site"] += 1
            table[site] = f"SITE{counts['site']:02d}"
    if organisation and organisation not in table:
        table[organisation] = "Organisation"
    return table
