"""Org file (YAML) -> frozen dataclasses describing a simulated Exchange organisation (format: ORGFILE.md).

What it does: reads one YAML file, validates it against ``schemas/orgfile.schema.json`` (every field), checks
what a schema cannot say (a CU build belonging to its build, names and FQDNs defined once, discovery_server
naming a server, event times), fills the defaults and returns a :class:`LabOrgSpec`.
Every problem is raised as ``LabOrgError("<file>:<line>: <problem>")`` (one line).
The format is documented in ``ORGFILE.md`` next to this module.

What it must not do: open sockets, start threads or touch any other part of the lab; it is pure
parsing and validation. Relative times (``-2d``) stay relative here and are resolved when the lab
answers (``EventSpec.at(now)``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from eems_check import schema_errors
from eems_check.yamlload import LDict as _LDict
from eems_check.yamlload import YamlSyntaxError, load_located

__all__ = [
    "Account",
    "EemsSpec",
    "EventSpec",
    "FaultSpec",
    "GetMitigationsSpec",
    "HttpSpec",
    "LabOrgError",
    "LabOrgSpec",
    "LogLine",
    "MitigationSpec",
    "OcsSpec",
    "ServerSpec",
    "ServiceSpec",
    "load_org",
    "parse_org",
]

DEFAULT_INSTALL_PATH = "C:\\Program Files\\Microsoft\\Exchange Server\\V15\\"
EEMS_EVENT_SOURCE = "MSExchange Mitigation Service"
DEFAULT_LOG_FILE = "MitigationService_1.log"

# Faults that only concern the collector script, i.e. the /wsman endpoint.
COLLECTOR_FAULTS = ("garbage", "oversized")

# Descriptions used when the org file lists applied/blocked mitigations but no explicit
# Get-Mitigations.ps1 output.
KNOWN_MITIGATIONS: dict[str, tuple[str, str]] = {
    "PING1": (
        "Ping",
        "Heartbeat probe to verify the Mitigation Service is working. It does not change anything.",
    ),
    "M1": ("IIS", "Mitigation for CVE-2022-41040: URL Rewrite rule 'EEMS M1.1 PowerShell - inbound'."),
    "M2": ("IIS", "Mitigation for CVE-2026-42897: URL Rewrite rule 'EEMS M2.1 OWA CSP - outbound'."),
}


class LabOrgError(ValueError):
    """One-line error about an org file: ``<file>:<line>: <problem>``."""


# ---------------------------------------------------------------------------------------------------------
# Dataclasses
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """An account the simulated servers accept (NTLM/Negotiate and Basic)."""

    username: str  # as written in the file: DOMAIN\\user or user@dns.domain
    password: str
    domain: str  # NetBIOS domain (DOMAIN\\user form) or "" for a UPN
    user: str  # the user part, or the whole UPN


@dataclass(frozen=True)
class EventSpec:
    """One Application-log event of the EEMS source."""

    id: int
    level: str
    message: str
    source: str
    time_abs: dt.datetime | None = None  # aware UTC
    time_offset: dt.timedelta | None = None  # relative to "now" (negative = in the past)

    def at(self, now: dt.datetime) -> dt.datetime:
        """The event's time, resolving a relative time against ``now``."""
        if self.time_abs is not None:
            return self.time_abs
        return now + (self.time_offset or dt.timedelta(0))


@dataclass(frozen=True)
class LogLine:
    """One line of an EEMS log file (``Logging\\MitigationService``)."""

    file: str
    line: str


@dataclass(frozen=True)
class MitigationSpec:
    """One object of Get-Mitigations.ps1 output."""

    server: str | None  # None = the server's own name
    id: str
    type: str
    description: str
    status: str


@dataclass(frozen=True)
class GetMitigationsSpec:
    """What Get-Mitigations.ps1 returns on a server (objects, warning stream, error stream)."""

    mitigations: tuple[MitigationSpec, ...]
    warnings: tuple[str, ...]
    errors: tuple[str, ...]


@dataclass(frozen=True)
class OcsSpec:
    """Result of a GET to the OCS mitigation endpoint made from the server through its proxy."""

    reachable: bool
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class ServiceSpec:
    """State of the MSExchangeMitigation Windows service."""

    status: str
    start_type: str


@dataclass(frozen=True)
class EemsSpec:
    """Server-level EEMS settings as Get-ExchangeServer shows them."""

    enabled: bool
    applied: tuple[str, ...]
    blocked: tuple[str, ...]
    data_collection_enabled: bool
    internet_web_proxy: str | None


@dataclass(frozen=True)
class HttpSpec:
    """What the server's HTTPS responder (OWA/ECP) publishes about its build."""

    owa_header: bool = True  # False: a proxy in front strips X-OWA-Version
    header_case: str = "X-OWA-Version"  # the header name as sent
    manifest: bool = True  # False: /ecp is blocked or the export-tool manifest is absent (404)
    build: str | None = None  # published build when it differs from the server's (3 or 4 parts); None = build
    fe_server: str | None = None  # X-FEServer; None = the server's own name


@dataclass(frozen=True)
class FaultSpec:
    """One injected fault. Unused fields keep their defaults."""

    kind: str
    endpoint: str = "both"  # wsman | exchange | both
    ms: int = 0  # delay
    scope: str = "request"  # delay: request|collector; hang: all|collector
    mb: float = 1.0  # oversized
    code: int = 5  # wsman_fault
    message: str = "Access is denied."  # wsman_fault
    fqdn: str = ""  # fqdn_as: what Get-ExchangeServer says the server's Fqdn is
    after: int = 0  # ad_error: servers Get-ExchangeServer lists before the error
    terminating: bool = False  # ad_error: the error ends the pipeline (Failed) instead of being written

    def applies_to(self, endpoint: str) -> bool:
        """Whether this fault concerns ``endpoint`` (``wsman`` or ``exchange``)."""
        return self.endpoint in ("both", endpoint)


@dataclass(frozen=True)
class ServerSpec:
    """One simulated Exchange server."""

    name: str
    fqdn: str
    site: str
    roles: tuple[str, ...]
    edition: str
    build: tuple[int, int, int, int]  # exact ExSetup.exe build
    cu_build: tuple[int, int, int, int]  # the CU's RTM build, shown by AdminDisplayVersion
    exsetup: str  # exsetup | registry | missing
    install_path: str
    eems: EemsSpec
    service: ServiceSpec | None
    events: tuple[EventSpec, ...]
    log_lines: tuple[LogLine, ...]
    get_mitigations: GetMitigationsSpec
    delegation: bool
    ocs: OcsSpec
    faults: tuple[FaultSpec, ...] = field(default_factory=tuple)
    line: int = 0
    http: HttpSpec = field(default_factory=HttpSpec)

    @property
    def is_edge(self) -> bool:
        return "Edge" in self.roles

    @property
    def is_mailbox(self) -> bool:
        return "Mailbox" in self.roles

    def fault(self, kind: str, endpoint: str | None = None, scope: str | None = None) -> FaultSpec | None:
        """The first fault of ``kind`` that applies to ``endpoint`` (any endpoint when None) and has ``scope``
        (any scope when None): a server may both answer every request late and run its collector long."""
        for f in self.faults:
            if f.kind == kind and (endpoint is None or f.applies_to(endpoint)) and scope in (None, f.scope):
                return f
        return None

    def refused(self, endpoint: str) -> bool:
        """True when nothing should listen for ``endpoint`` on this server."""
        return self.fault("refuse", endpoint) is not None


@dataclass(frozen=True)
class LabOrgSpec:
    """A whole simulated organisation."""

    path: str
    name: str
    domain: str
    netbios_domain: str
    mitigations_enabled: bool | None  # None = "failed to query" (Nil)
    domain_controller: str
    discovery_server: str | None  # server name, None = default choice
    accounts: tuple[Account, ...]
    servers: tuple[ServerSpec, ...]
    allow_basic: bool
    allow_unencrypted: bool
    replay: Any = None  # a `replay.Replay`: captured answers the lab serves instead of its own (lab serve --replay)

    def server(self, name_or_fqdn: str) -> ServerSpec | None:
        """Find a server by name or FQDN, case-insensitively."""
        key = name_or_fqdn.lower()
        for s in self.servers:
            if s.name.lower() == key or s.fqdn.lower() == key:
                return s
        return None


# ---------------------------------------------------------------------------------------------------------
# Parsing: the schema (schemas/orgfile.schema.json) checks every field; what follows builds the dataclasses,
# fills the defaults and checks what a schema cannot say.
# ---------------------------------------------------------------------------------------------------------


@cache
def schema() -> dict[str, Any]:
    text = (resources.files("eems_check") / "schemas" / "orgfile.schema.json").read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


_FQDN_RE = re.compile(schema()["$defs"]["dns_name"]["pattern"])
_REL_TIME_RE = re.compile(r"^-(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


def load_org(path: str | os.PathLike[str]) -> LabOrgSpec:
    """Read and validate an org file. Raises ``LabOrgError("file:line: problem")``."""
    from eems_check.errors import InputError
    from eems_check.inputfile import YAML_LIMIT, read_regular

    p = os.fspath(path)
    try:  # a regular file of bounded size only: a FIFO or /dev/zero is refused, not waited on
        text = read_regular(Path(p), limit=YAML_LIMIT).decode("utf-8")
    except InputError as exc:
        raise LabOrgError(f"{p}:0: cannot read org file: {str(exc).removeprefix(f'{p}: ')}") from None
    except UnicodeDecodeError as exc:
        raise LabOrgError(f"{p}:0: cannot read org file: not UTF-8 ({exc.reason})") from None
    return parse_org(text, p)


def _fail(path: str, line: int, problem: str) -> LabOrgError:
    return LabOrgError(f"{path}:{line}: {problem}")


def _get(m: Mapping[str, Any] | None, key: str, default: Any = None) -> Any:
    """A key's value; absent or null takes `default`."""
    value = None if m is None else m.get(key)
    return default if value is None else value


def _texts(value: Any) -> tuple[str, ...]:
    """`texts` in the schema: one text or a list of them."""
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def _build(text: str) -> tuple[int, int, int, int]:
    major, minor, build, rev = (int(part) for part in text.strip().split("."))
    return major, minor, build, rev


def parse_org(text: str, path: str = "<org>") -> LabOrgSpec:
    """Validate org-file text (``path`` only names it in errors)."""
    try:
        doc = load_located(text)
    except YamlSyntaxError as exc:
        raise _fail(path, exc.line, f"YAML syntax error: {exc.problem}") from None
    errors = schema_errors.ordered(jsonschema.Draft202012Validator(schema()).iter_errors(doc), located=doc)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        where = schema_errors.where(first)
        raise _fail(path, schema_errors.line(doc, first), f"{where}: {schema_errors.message(first)}{more}")

    org = doc["organization"]
    domain = org["domain"]
    accounts = tuple(_account(a) for a in doc["accounts"])
    lab = doc.get("lab")
    servers: list[ServerSpec] = []
    seen: dict[str, int] = {}
    for item, line in zip(doc["servers"], doc["servers"].lines, strict=True):
        srv = _server(path, item, domain)
        for key in (srv.name.lower(), srv.fqdn.lower()):
            if key in seen and not (key == srv.fqdn.lower() == srv.name.lower()):
                raise _fail(path, line, f"server {key!r} is defined twice (first at line {seen[key]})")
            seen[key] = line
        servers.append(srv)

    spec = LabOrgSpec(
        path=path,
        name=str(org["name"]),
        domain=domain,
        netbios_domain=accounts[0].domain or domain.split(".")[0].upper(),
        mitigations_enabled=org.get("mitigations_enabled", True),
        domain_controller=_get(org, "domain_controller", f"dc01.{domain}"),
        discovery_server=None,
        accounts=accounts,
        servers=tuple(servers),
        allow_basic=_get(lab, "allow_basic", True),
        allow_unencrypted=_get(lab, "allow_unencrypted", False),
    )
    discovery = org.get("discovery_server")
    if discovery is not None:
        found = spec.server(discovery)
        if found is None:
            raise _fail(path, org.line_of("discovery_server"), f"discovery_server {discovery!r} is not a server")
        spec = replace(spec, discovery_server=found.name)
    return spec


def _account(m: _LDict) -> Account:
    username, password = m["username"], str(m["password"])
    domain, _, user = username.partition("\\") if "\\" in username else ("", "", username)
    return Account(username=username, password=password, domain=domain, user=user)


def _server(path: str, m: _LDict, domain: str) -> ServerSpec:
    name = str(m["name"])
    what = f"server {name!r}"
    fqdn = _get(m, "fqdn", f"{name}.{domain}")
    if not _FQDN_RE.match(fqdn):  # only a default can get here: the schema checked a given one
        raise _fail(path, m.line_of("name"), f"{what}: fqdn {fqdn!r} is not a DNS name (set fqdn explicitly)")
    roles = _texts(_get(m, "roles", ["Mailbox"]))
    build = _build(m["build"])
    if "cu_build" in m:
        cu_build, cu_line = _build(m["cu_build"]), m.line_of("cu_build")
    elif "admin_display_version" in m:  # "Version 15.2 (Build 1118.7)", as the schema checked
        numbers = re.findall(r"\d+", m["admin_display_version"])
        cu_build, cu_line = _build(".".join(numbers)), m.line_of("admin_display_version")
    else:
        cu_build, cu_line = build, m.line_of("build")
    if cu_build[:3] != build[:3] or cu_build[3] > build[3]:
        raise _fail(
            path,
            cu_line,
            f"{what}: CU build {format_build(cu_build)} does not belong to build {format_build(build)} "
            "(same major.minor.build, lower or equal revision)",
        )
    install_path = _get(m, "install_path", DEFAULT_INSTALL_PATH)
    eems = _eems(m.get("eems"))
    return ServerSpec(
        name=name,
        fqdn=fqdn,
        site=str(_get(m, "site", "Default-First-Site-Name")),
        roles=roles,
        edition=_get(m, "edition", "Standard"),
        build=build,
        cu_build=cu_build,
        exsetup=_get(m, "exsetup", "exsetup"),
        install_path=install_path if install_path.endswith("\\") else install_path + "\\",
        eems=eems,
        service=_service(m, "Edge" in roles),
        events=tuple(_event(path, e) for e in _get(m, "events", [])),
        log_lines=tuple(_log_line(x) for x in _get(m, "log_lines", [])),
        get_mitigations=_get_mitigations(m.get("get_mitigations"), eems),
        delegation=_get(m, "delegation", True),
        ocs=_ocs(m.get("ocs")),
        faults=tuple(_fault(f) for f in _get(m, "faults", [])),
        line=m.line,
        http=_http(m.get("http")),
    )


def _eems(e: Mapping[str, Any] | None) -> EemsSpec:
    return EemsSpec(
        enabled=_get(e, "enabled", True),
        applied=_texts(_get(e, "applied")),
        blocked=_texts(_get(e, "blocked")),
        data_collection_enabled=_get(e, "data_collection_enabled", False),
        internet_web_proxy=_get(e, "internet_web_proxy"),
    )


def _service(m: _LDict, edge: bool) -> ServiceSpec | None:
    if "service" not in m:
        return None if edge else ServiceSpec("Running", "Automatic")
    s = m["service"]
    if not isinstance(s, Mapping):  # null, or absent/missing/not_installed
        return None
    return ServiceSpec(_get(s, "status", "Running"), _get(s, "start_type", "Automatic"))


def _event(path: str, e: _LDict) -> EventSpec:
    t_abs, t_off = _time(path, _get(e, "time", "now"), e.line_of("time"))
    return EventSpec(
        id=int(e["id"]),
        level=_get(e, "level", "Error"),
        message=str(e["message"]).rstrip("\n"),
        source=_get(e, "source", EEMS_EVENT_SOURCE),
        time_abs=t_abs,
        time_offset=t_off,
    )


def _time(path: str, value: str, line: int) -> tuple[dt.datetime | None, dt.timedelta | None]:
    text = value.strip()
    if text.lower() == "now":
        return None, dt.timedelta(0)
    m = _REL_TIME_RE.match(text)
    if m and any(m.groups()):
        d, h, mi, s = (int(g or 0) for g in m.groups())
        return None, -dt.timedelta(days=d, hours=h, minutes=mi, seconds=s)
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        problem = f"event time {value!r} is not a time (ISO 8601 like 2026-11-20T08:00:00Z, or relative like -2d4h)"
        raise _fail(path, line, problem) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc), None


def _log_line(x: Any) -> LogLine:
    if isinstance(x, Mapping):
        return LogLine(_get(x, "file", DEFAULT_LOG_FILE), str(x["line"]))
    return LogLine(DEFAULT_LOG_FILE, str(x))


def _get_mitigations(g: Mapping[str, Any] | None, eems: EemsSpec) -> GetMitigationsSpec:
    if g is None:
        derived = [_known(mid, "Applied") for mid in eems.applied]
        derived += [_known(mid, "Blocked") for mid in eems.blocked if mid not in eems.applied]
        return GetMitigationsSpec(tuple(derived), (), ())
    mits = []
    for x in _get(g, "mitigations", []):
        mid = str(x["id"])
        default_type, default_desc = KNOWN_MITIGATIONS.get(mid.split(".")[0], ("IIS", ""))
        mits.append(
            MitigationSpec(
                server=_get(x, "server"),
                id=mid,
                type=_get(x, "type", default_type),
                description=_get(x, "description", default_desc),
                status=_get(x, "status", "Applied"),
            )
        )
    return GetMitigationsSpec(tuple(mits), _texts(_get(g, "warnings")), _texts(_get(g, "errors")))


def _known(mid: str, status: str) -> MitigationSpec:
    mtype, desc = KNOWN_MITIGATIONS.get(mid.split(".")[0], ("IIS", ""))
    return MitigationSpec(server=None, id=mid, type=mtype, description=desc, status=status)


def _ocs(o: Mapping[str, Any] | None) -> OcsSpec:
    if o is None:
        return OcsSpec(True, 200, None)
    reachable = _get(o, "reachable", True)
    code = o.get("status_code", 200 if reachable else None)  # null: no status
    error = _get(o, "error")
    if not reachable and code is None and not error:
        error = "Unable to connect to the remote server"
    return OcsSpec(reachable, code, error)


def _http(h: Mapping[str, Any] | None) -> HttpSpec:
    build, fe_server = _get(h, "build"), _get(h, "fe_server")
    return HttpSpec(
        owa_header=_get(h, "owa_header", True),
        header_case=_get(h, "header_case", "X-OWA-Version"),
        manifest=_get(h, "manifest", True),
        build=build.strip() if build is not None else None,
        fe_server=str(fe_server) if fe_server is not None else None,
    )


def _fault(f: str | Mapping[str, Any]) -> FaultSpec:
    f = {"kind": f} if isinstance(f, str) else f
    kind = f["kind"]
    scope = _get(f, "scope", "all" if kind == "hang" else "request")
    collector_only = kind in COLLECTOR_FAULTS or scope == "collector"
    return FaultSpec(
        kind=kind,
        endpoint="wsman" if collector_only else "exchange" if kind == "ad_error" else _get(f, "endpoint", "both"),
        ms=int(_get(f, "ms", 0)),
        scope=scope,
        mb=float(_get(f, "mb", 1.0)),
        code=int(_get(f, "code", 5)),
        message=_get(f, "message", "Access is denied."),
        fqdn=_get(f, "fqdn", ""),
        after=int(_get(f, "after", 0)),
        terminating=_get(f, "terminating", False),
    )


def format_build(build: tuple[int, int, int, int]) -> str:
    """``(15, 2, 1118, 26)`` -> ``15.2.1118.26``."""
    return ".".join(str(p) for p in build)


def file_version(build: tuple[int, int, int, int]) -> str:
    """ExSetup.exe FileVersion text: ``(15, 2, 1118, 26)`` -> ``15.02.1118.026``."""
    return f"{build[0]}.{build[1]:02d}.{build[2]:04d}.{build[3]:03d}"
