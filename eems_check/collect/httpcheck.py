"""The opt-in unauthenticated build cross-check (`--http-check`): what each server publishes about its build over HTTPS.

What it does: for every scanned server, by its own FQDN (never a load-balancer name; the address map dials the
lab's loopback addresses), two anonymous GETs and nothing else:
* `/owa/`: the `X-OWA-Version` response header (any status, any header casing; redirects are never followed);
* the ECP export-tool ClickOnce manifest: the `version` of the `assemblyIdentity` whose `name` is the export tool
  (dependency entries carry `assemblyIdentity` elements of their own), parsed with the stdlib on a size-capped body
  whose DTD is refused.
`X-FEServer`/`X-BEServer` are kept: an answer from another server means a load balancer or proxy is in the path,
and then the build describes that server, not this one. `merge_http_check` folds a result into a `ServerRecord`.

What it must not do: send credentials or cookies, use a proxy from the environment, follow redirects, request any
path but the two above (no exploit-shaped URLs, no brute force of `/ecp/<build>/`), or raise for one server.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import socket
import ssl
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .. import __version__
from ..builds import parse_build
from ..errors import BuildParseError
from ..model import BuildSource, CollectionStatus, ServerRecord
from .watchdog import Outcome, run_bounded

__all__ = [
    "ALLOWED_PATHS",
    "MANIFEST_PATH",
    "OWA_PATH",
    "HttpCheckResult",
    "HttpTarget",
    "ManifestError",
    "check_server",
    "check_servers",
    "merge_http_check",
    "normalise_version",
    "parse_manifest",
    "parse_owa_header",
    "targets_for",
    "tls_context",
]

log = logging.getLogger(__name__)

OWA_PATH = "/owa/"
MANIFEST_PATH = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
ALLOWED_PATHS = (OWA_PATH, MANIFEST_PATH)
EXPORT_TOOL_NAMES = frozenset(
    {"microsoft.exchange.ediscovery.exporttool", "microsoft.exchange.ediscovery.exporttool.application"}
)
MAX_MANIFEST_BYTES = 256 * 1024  # a real manifest is a few KiB
_VERSION = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{1,5})(?:\.(\d{1,5}))?$")
_HEADER_VALUE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_ERROR_LIMIT = 200
# WinRM outcomes after which an HTTP build may stand in for the missing ExSetup.exe version.
_WINRM_FAILED = frozenset(
    {CollectionStatus.UNREACHABLE, CollectionStatus.AUTH_FAILED, CollectionStatus.TIMEOUT, CollectionStatus.ERROR}
)
SOURCE_WORDS = {"header": "X-OWA-Version header of /owa/", "manifest": "ECP export-tool manifest"}


class ManifestError(ValueError):
    """The export-tool manifest holds no usable build; the message says why, in one line."""


@dataclass(frozen=True)
class HttpTarget:
    """One server to ask: `fqdn` names it (TLS, Host header), `address` is what the socket dials."""

    name: str
    fqdn: str
    address: str
    port: int
    tls: bool = True

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        default = 443 if self.tls else 80
        return f"{scheme}://{self.fqdn}" + ("" if self.port == default else f":{self.port}")


@dataclass(frozen=True)
class HttpCheckResult:
    """What one server published: the build in the OWA header and in the manifest, who answered, what failed."""

    name: str
    fqdn: str
    url: str
    header_version: str | None = None
    manifest_version: str | None = None
    owa_status: int | None = None
    manifest_status: int | None = None
    fe_server: str | None = None
    be_server: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def version(self) -> str | None:
        """The best build seen: a four-part value first, the header before the manifest."""
        values = [v for v in (self.header_version, self.manifest_version) if v]
        return next((v for v in values if v.count(".") == 3), values[0] if values else None)

    @property
    def source(self) -> str | None:
        """`header` or `manifest`: where `version` came from."""
        if self.version is None:
            return None
        return "header" if self.version == self.header_version else "manifest"

    @property
    def agree(self) -> bool | None:
        """Whether header and manifest give the same build (compared on the parts both have); None: not both."""
        if not (self.header_version and self.manifest_version):
            return None
        a, b = self.header_version.split("."), self.manifest_version.split(".")
        return a[: min(len(a), len(b))] == b[: min(len(a), len(b))]

    @property
    def answered_by_other(self) -> bool:
        """True when `X-FEServer` names a server other than the one asked (a load balancer or proxy answered)."""
        if not self.fe_server:
            return False
        own = {self.name.lower(), self.fqdn.lower(), self.fqdn.split(".", 1)[0].lower()}
        return self.fe_server.lower() not in own

    @property
    def usable_version(self) -> str | None:
        """`version`, unless the answer came from another server."""
        return None if self.answered_by_other else self.version

    def describe(self) -> str:
        """One line for the collection reason: what was seen, and what is doubtful about it."""
        seen = []
        if self.header_version:
            seen.append(f"X-OWA-Version {self.header_version}")
        if self.manifest_version:
            seen.append(f"export-tool manifest {self.manifest_version}")
        text = f"HTTPS cross-check of {self.url}: " + (", ".join(seen) if seen else "no build published")
        if self.agree is False:
            text += " (header and manifest disagree)"
        if self.answered_by_other:
            text += (
                f"; answered by {self.fe_server} (X-FEServer), not {self.name}: a load balancer or proxy is in "
                "the path, so the build is not used for this server"
            )
        if self.errors:
            text += "; " + "; ".join(self.errors)
        return text


# -- parsers (pure) -----------------------------------------------------------------------------------------------


def normalise_version(value: str | None) -> str | None:
    """`15.02.1118.026` or ` 15.2.1118.26 ` -> `15.2.1118.26`; three parts kept as three; anything else None."""
    if value is None:
        return None
    match = _VERSION.match(value.strip())
    if not match:
        return None
    return ".".join(str(int(g)) for g in match.groups() if g is not None)


def parse_owa_header(headers: Iterable[tuple[str, str]]) -> str | None:
    """The build in the first valid `X-OWA-Version` header, matched case-insensitively; None when absent."""
    for name, value in headers:
        if name.strip().lower() == "x-owa-version":
            found = normalise_version(value)
            if found:
                return found
    return None


def header_value(headers: Iterable[tuple[str, str]], wanted: str) -> str | None:
    """The first value of header `wanted` (any casing) that is a plain server name; None otherwise."""
    for name, value in headers:
        if name.strip().lower() == wanted.lower() and _HEADER_VALUE.match(value.strip()):
            return value.strip()
    return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_manifest(data: bytes) -> str:
    """The export tool's build from a ClickOnce manifest; raises `ManifestError` (one line) otherwise.

    Only an `assemblyIdentity` whose `name` is the export tool counts (a top-level one first); DTDs are refused,
    so no entity can expand, and the body must be within `MAX_MANIFEST_BYTES`.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(f"the manifest is larger than {MAX_MANIFEST_BYTES // 1024} KiB")
    if b"<!doctype" in data.lower() or b"<!entity" in data.lower():
        raise ManifestError("the manifest carries a DTD, which a ClickOnce manifest never has")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ManifestError(f"the manifest is not XML ({exc})") from None
    candidates = [el for el in root if _local(el.tag) == "assemblyIdentity"]
    candidates += [el for el in root.iter() if _local(el.tag) == "assemblyIdentity" and el not in candidates]
    if _local(root.tag) == "assemblyIdentity":
        candidates.insert(0, root)
    for el in candidates:
        if (el.get("name") or "").strip().lower() in EXPORT_TOOL_NAMES:
            raw = el.get("version")
            found = normalise_version(raw)
            if found is None:
                raise ManifestError(f"the export tool's assemblyIdentity has no build number (version={raw!r})")
            return found
    raise ManifestError("no assemblyIdentity names the export tool")


# -- the requests ---------------------------------------------------------------------------------------------------


def tls_context(*, verify: bool, ca_bundle: str | None) -> ssl.SSLContext:
    """The client TLS context: the scan's CA bundle (file or directory) or the system store; none if `verify` is off."""
    if not verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    if ca_bundle and os.path.isdir(ca_bundle):
        return ssl.create_default_context(capath=ca_bundle)
    return ssl.create_default_context(cafile=ca_bundle)


class _HTTPSDial(http.client.HTTPSConnection):
    """HTTPS to `host` (certificate name, SNI, Host header) over a socket dialled to `address`."""

    def __init__(self, target: HttpTarget, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(target.fqdn, target.port, timeout=timeout, context=context)
        self._dial = target.address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((self._dial, self.port), self.timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class _HTTPDial(http.client.HTTPConnection):
    """Plain HTTP to `host` over a socket dialled to `address` (the lab without TLS only)."""

    def __init__(self, target: HttpTarget, timeout: float) -> None:
        super().__init__(target.fqdn, target.port, timeout=timeout)
        self._dial = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._dial, self.port), self.timeout)


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    oversized: bool


def _get(target: HttpTarget, path: str, context: ssl.SSLContext | None, timeout: float, limit: int) -> _Answer:
    assert path in ALLOWED_PATHS  # the only two requests this module ever makes
    conn: http.client.HTTPConnection
    conn = _HTTPSDial(target, context, timeout) if target.tls and context else _HTTPDial(target, timeout)
    try:
        conn.request(
            "GET",
            path,
            headers={"User-Agent": f"eems-check/{__version__}", "Accept": "*/*", "Connection": "close"},
        )
        response = conn.getresponse()
        headers = tuple(response.getheaders())
        body = response.read(limit + 1) if limit else b""
        return _Answer(response.status, headers, body[:limit], len(body) > limit)
    finally:
        conn.close()


def _reason(what: str, exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError):
        text = f"TLS certificate not trusted: {exc.verify_message or exc}"
    elif isinstance(exc, ssl.SSLError):
        text = f"TLS failed: {exc.reason or exc}"
    elif isinstance(exc, ConnectionRefusedError):
        text = "connection refused"
    elif isinstance(exc, TimeoutError):
        text = "no answer in time"
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(f"{what}: {text}".split())
    return text if len(text) <= _ERROR_LIMIT else text[: _ERROR_LIMIT - 3] + "..."


def check_server(
    target: HttpTarget, context: ssl.SSLContext | None, *, timeout: float = 5.0, manifest: bool = True
) -> HttpCheckResult:
    """Ask one server for its build; never raises for the server (problems land in `errors`)."""
    errors: list[str] = []
    header = fe = be = None
    owa_status = manifest_status = None
    manifest_version = None
    try:
        answer = _get(target, OWA_PATH, context, timeout, 0)
    except (OSError, http.client.HTTPException) as exc:
        errors.append(_reason("/owa/", exc))
    else:
        owa_status = answer.status
        header = parse_owa_header(answer.headers)
        fe = header_value(answer.headers, "X-FEServer")
        be = header_value(answer.headers, "X-BEServer")
        if header is None:
            errors.append(f"/owa/: HTTP {answer.status} without X-OWA-Version (stripped by a proxy?)")
    if manifest and owa_status is not None:  # same host and port: when /owa/ could not connect, neither could this
        try:
            answer = _get(target, MANIFEST_PATH, context, timeout, MAX_MANIFEST_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            errors.append(_reason("manifest", exc))
        else:
            manifest_status = answer.status
            fe = fe or header_value(answer.headers, "X-FEServer")
            be = be or header_value(answer.headers, "X-BEServer")
            if answer.status != 200:
                errors.append(f"manifest: HTTP {answer.status}")
            elif answer.oversized:
                errors.append(f"manifest: larger than {MAX_MANIFEST_BYTES // 1024} KiB, not read")
            else:
                try:
                    manifest_version = parse_manifest(answer.body)
                except ManifestError as exc:
                    errors.append(f"manifest: {exc}")
    return HttpCheckResult(
        name=target.name,
        fqdn=target.fqdn,
        url=target.base_url,
        header_version=header,
        manifest_version=manifest_version,
        owa_status=owa_status,
        manifest_status=manifest_status,
        fe_server=fe,
        be_server=be,
        errors=tuple(errors),
    )


def check_servers(
    targets: Sequence[HttpTarget],
    context: ssl.SSLContext | None,
    *,
    parallel: int = 16,
    timeout: float = 5.0,
    manifest: bool = True,
) -> dict[str, HttpCheckResult]:
    """`check_server` on every target, a few at a time, each under a wall-clock limit; keyed by target name."""
    results: dict[str, HttpCheckResult] = {}

    def done(index: int, outcome: Outcome[HttpCheckResult]) -> None:
        target = targets[index]
        if outcome.value is not None:
            results[target.name] = outcome.value
            return
        why = "no answer in time" if outcome.timed_out else f"internal error: {outcome.error}"
        results[target.name] = HttpCheckResult(target.name, target.fqdn, target.base_url, errors=(why,))

    tasks = [lambda t=t: check_server(t, context, timeout=timeout, manifest=manifest) for t in targets]
    run_bounded(tasks, parallel=parallel, limit=4 * timeout + 2, on_outcome=done, name="eems-check-http")
    ordered = {t.name: results[t.name] for t in targets}
    for result in ordered.values():
        log.info("%s", result.describe())
    return ordered


# -- into the inventory ------------------------------------------------------------------------------------------------


def _line(version: str | None) -> tuple[int, int, int] | None:
    """(major, minor, build) of any build spelling, AdminDisplayVersion included; None when unusable."""
    if not version:
        return None
    try:
        return parse_build(version).line_key
    except BuildParseError:
        return None


def merge_http_check(record: ServerRecord, result: HttpCheckResult | None) -> ServerRecord:
    """`record` with the HTTP build in `http_version`; the build itself when nothing better was collected.

    The HTTP build becomes the server's build (`build_source: http`) only when the record has no ExSetup.exe
    version (WinRM failed, or ExSetup.exe was not found), the HTTP value is four-part (or there is no build at
    all), header and manifest do not contradict each other, and it lies on the CU that AdminDisplayVersion names.
    The collection status is kept; the reason says where the build came from. Everything doubtful (disagreement,
    another server answering, errors) is noted there too.
    """
    if result is None:
        return record
    version = result.usable_version
    notes: list[str] = []
    changes: dict[str, Any] = {"http_version": version}
    weak = record.build_source in (None, BuildSource.ADMIN_DISPLAY_VERSION) and not record.exsetup_version
    same_cu = record.admin_display_version is None or _line(record.admin_display_version) == _line(version)
    precise = version is not None and (version.count(".") == 3 or record.admin_display_version is None)
    if version and weak and same_cu and precise and result.agree is not False:
        changes["build_source"] = BuildSource.HTTP
        how = "WinRM collection failed" if record.collection.status in _WINRM_FAILED else "ExSetup.exe was not read"
        notes.append(
            f"{how}: build {version} taken from the unauthenticated HTTPS cross-check "
            f"({SOURCE_WORDS[result.source or 'header']}), not from ExSetup.exe"
        )
    elif version and not same_cu:
        notes.append(f"the HTTPS build {version} is not on the CU of {record.admin_display_version}")
    if notes or result.errors or result.agree is False or result.answered_by_other:
        notes.append(result.describe())
    if notes:
        reason = "; ".join([*([record.collection.reason] if record.collection.reason else []), *notes])
        changes["collection"] = replace(record.collection, reason=reason)
    return replace(record, **changes)


def targets_for(
    records: Iterable[ServerRecord], port: int, tls: bool, address_map: Mapping[str, str]
) -> list[HttpTarget]:
    """One target per server that has an FQDN and may run OWA (Edge servers do not; unlisted servers have no FQDN)."""
    out = []
    for record in records:
        if record.is_edge or not record.fqdn or record.collection.status is CollectionStatus.NOT_SCANNED:
            continue
        address = address_map.get(record.fqdn.lower(), record.fqdn)
        out.append(HttpTarget(record.name, record.fqdn, address, port, tls))
    return out
