"""Org file (YAML) -> frozen dataclasses describing a simulated Exchange organisation (format: ORGFILE.md).

What it does: reads one YAML file, checks every field, and returns a :class:`LabOrgSpec`.
Every problem is raised as ``LabOrgError("<file>:<line>: <problem>")`` (one line).
The format is documented in ``ORGFILE.md`` next to this module.

What it must not do: open sockets, start threads or touch any other part of the lab; it is pure
parsing and validation. Relative times (``-2d``) stay relative here and are resolved when the lab
answers (``EventSpec.at(now)``).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from typing import Any

from eems_check.yamlload import LDict as _LDict
from eems_check.yamlload import LList as _LList
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

ROLE_NAMES = ("Mailbox", "ClientAccess", "UnifiedMessaging", "HubTransport", "Edge")
EDITIONS = ("Standard", "StandardEvaluation", "Enterprise", "EnterpriseEvaluation", "Coexistence")
EVENT_LEVELS = ("Error", "Warning", "Information", "Critical", "Verbose")
SERVICE_STATUSES = (
    "Running",
    "Stopped",
    "Paused",
    "StartPending",
    "StopPending",
    "ContinuePending",
    "PausePending",
)
START_TYPES = ("Automatic", "Manual", "Disabled", "Boot", "System")
EXSETUP_SOURCES = ("exsetup", "registry", "missing")
FAULT_KINDS = (
    "refuse",
    "http_401",
    "http_500",
    "wsman_fault",
    "delay",
    "hang",
    "garbage",
    "oversized",
    "http_refuse",
    "endless_body",
    "negative_chunk",
    "trailing_bytes",
    "fqdn_as",
    "ad_error",
)
ENDPOINTS = ("wsman", "exchange", "both")
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

    def server(self, name_or_fqdn: str) -> ServerSpec | None:
        """Find a server by name or FQDN, case-insensitively."""
        key = name_or_fqdn.lower()
        for s in self.servers:
            if s.name.lower() == key or s.fqdn.lower() == key:
                return s
        return None


# ---------------------------------------------------------------------------------------------------------
# YAML with line numbers
# ---------------------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------------------

_BUILD_RE = re.compile(r"^(\d{1,2})\.(\d{1,2})\.(\d{1,4})\.(\d{1,4})$")
_ADV_RE = re.compile(r"^Version (\d+)\.(\d+) \(Build (\d+)\.(\d+)\)$")
_FQDN_RE = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))+$")
_REL_TIME_RE = re.compile(r"^-(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class _Checker:
    """Reads values out of line-annotated YAML and raises one-line errors."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, line: int, problem: str) -> LabOrgError:
        return LabOrgError(f"{self.path}:{line}: {problem}")

    def mapping(self, value: Any, line: int, what: str) -> _LDict:
        if not isinstance(value, _LDict):
            raise self.fail(line, f"{what} must be a mapping")
        return value

    def sequence(self, value: Any, line: int, what: str) -> _LList:
        if value is None:
            empty = _LList()
            empty.line = line
            empty.lines = []
            return empty
        if isinstance(value, _LList):
            return value
        if isinstance(value, (list, tuple)):  # a default supplied by the parser itself
            wrapped = _LList(value)
            wrapped.line = line
            wrapped.lines = [line] * len(value)
            return wrapped
        raise self.fail(line, f"{what} must be a list")

    def keys(self, m: _LDict, allowed: tuple[str, ...], what: str) -> None:
        for key in m:
            if key not in allowed:
                raise self.fail(
                    m.lines.get(key, m.line), f"unknown key {key!r} in {what} (allowed: {', '.join(allowed)})"
                )

    def line_of(self, m: _LDict, key: str) -> int:
        return m.lines.get(key, m.line)

    def get(
        self,
        m: _LDict,
        key: str,
        kind: type | tuple[type, ...],
        what: str,
        *,
        required: bool = False,
        default: Any = None,
        nullable: bool = False,
    ) -> Any:
        if key not in m:
            if required:
                raise self.fail(m.line, f"{what}: missing required key {key!r}")
            return default
        value = m[key]
        if value is None:
            if nullable:
                return None
            if not required:
                return default
            raise self.fail(self.line_of(m, key), f"{what}.{key} must not be empty")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # bool is an int subclass: refuse it where an int is wanted, unless bool is asked for
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(self.line_of(m, key), f"{what}.{key} must be {self._kind_name(kinds)}, not a boolean")
        if not isinstance(value, kinds):
            raise self.fail(
                self.line_of(m, key),
                f"{what}.{key} must be {self._kind_name(kinds)}, got {type(value).__name__} {value!r}",
            )
        return value

    @staticmethod
    def _kind_name(kinds: tuple[type, ...]) -> str:
        names = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
        return " or ".join(names.get(k, k.__name__) for k in kinds)

    def choice(self, value: str, allowed: tuple[str, ...], line: int, what: str) -> str:
        for a in allowed:
            if value.lower() == a.lower():
                return a
        raise self.fail(line, f"{what} {value!r} is not one of: {', '.join(allowed)}")

    def text(self, value: Any, line: int, what: str) -> str:
        if isinstance(value, bool) or value is None or isinstance(value, (_LDict, _LList)):
            raise self.fail(line, f"{what} must be text")
        return str(value)

    def build(self, value: Any, line: int, what: str) -> tuple[int, int, int, int]:
        text = str(value).strip()
        m = _BUILD_RE.match(text)
        if not m:
            raise self.fail(line, f"{what} {value!r} is not a build number like 15.2.1118.26 (quote it in YAML)")
        major, minor, build, rev = (int(g) for g in m.groups())
        return major, minor, build, rev

    def time(self, value: Any, line: int, what: str) -> tuple[dt.datetime | None, dt.timedelta | None]:
        if isinstance(value, dt.datetime):
            return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc), None
        if isinstance(value, dt.date):
            return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc), None
        if isinstance(value, str):
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
                pass
            else:
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=dt.timezone.utc)
                return parsed.astimezone(dt.timezone.utc), None
        raise self.fail(
            line,
            f"{what} {value!r} is not a time (ISO 8601 like 2026-11-20T08:00:00Z, or relative like -2d4h)",
        )

    def string_list(self, value: Any, line: int, what: str) -> tuple[str, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        seq = self.sequence(value, line, what)
        out = []
        for item, item_line in zip(seq, seq.lines, strict=True):
            out.append(self.text(item, item_line, f"{what} entry"))
        return tuple(out)


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


def load_org(path: str | os.PathLike[str]) -> LabOrgSpec:
    """Read and validate an org file. Raises ``LabOrgError("file:line: problem")``."""
    p = os.fspath(path)
    try:
        with open(p, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise LabOrgError(f"{p}:0: cannot read org file: {exc.strerror or exc}") from None
    return parse_org(text, p)


def parse_org(text: str, path: str = "<org>") -> LabOrgSpec:
    """Validate org-file text (``path`` only names it in errors)."""
    ck = _Checker(path)
    try:
        doc = load_located(text)
    except YamlSyntaxError as exc:
        raise ck.fail(exc.line, f"YAML syntax error: {exc.problem}") from None
    root = ck.mapping(doc, 1, "the org file")
    ck.keys(root, ("organization", "accounts", "lab", "servers"), "the org file")

    org = ck.mapping(ck.get(root, "organization", _LDict, "org file", required=True), root.line, "organization")
    ck.keys(
        org,
        ("name", "domain", "mitigations_enabled", "domain_controller", "discovery_server"),
        "organization",
    )
    org_name = ck.text(ck.get(org, "name", (str, int), "organization", required=True), org.line, "organization.name")
    domain = ck.get(org, "domain", str, "organization", required=True)
    if not _FQDN_RE.match(domain):
        raise ck.fail(ck.line_of(org, "domain"), f"organization.domain {domain!r} is not a DNS domain name")
    if "mitigations_enabled" in org:
        org_mitigations = ck.get(org, "mitigations_enabled", bool, "organization", nullable=True)
    else:
        org_mitigations = True
    dc = ck.get(org, "domain_controller", str, "organization", default=f"dc01.{domain}")
    discovery = ck.get(org, "discovery_server", str, "organization")

    accounts = _parse_accounts(ck, root)
    netbios = accounts[0].domain if accounts[0].domain else domain.split(".")[0].upper()

    lab = root.get("lab")
    allow_basic, allow_unencrypted = True, False
    if lab is not None:
        lab = ck.mapping(lab, ck.line_of(root, "lab"), "lab")
        ck.keys(lab, ("allow_basic", "allow_unencrypted"), "lab")
        allow_basic = ck.get(lab, "allow_basic", bool, "lab", default=True)
        allow_unencrypted = ck.get(lab, "allow_unencrypted", bool, "lab", default=False)

    servers_raw = ck.sequence(ck.get(root, "servers", _LList, "org file", required=True), root.line, "servers")
    if not servers_raw:
        raise ck.fail(servers_raw.line, "servers must list at least one server")
    servers: list[ServerSpec] = []
    seen: dict[str, int] = {}
    for item, line in zip(servers_raw, servers_raw.lines, strict=True):
        srv = _parse_server(ck, ck.mapping(item, line, "a server"), domain)
        for key in (srv.name.lower(), srv.fqdn.lower()):
            if key in seen and not (key == srv.fqdn.lower() == srv.name.lower()):
                raise ck.fail(line, f"server {key!r} is defined twice (first at line {seen[key]})")
            seen[key] = line
        servers.append(srv)

    spec = LabOrgSpec(
        path=path,
        name=org_name,
        domain=domain,
        netbios_domain=netbios,
        mitigations_enabled=org_mitigations,
        domain_controller=dc,
        discovery_server=None,
        accounts=accounts,
        servers=tuple(servers),
        allow_basic=allow_basic,
        allow_unencrypted=allow_unencrypted,
    )
    if discovery is not None:
        found = spec.server(discovery)
        if found is None:
            raise ck.fail(ck.line_of(org, "discovery_server"), f"discovery_server {discovery!r} is not a server")
        spec = _replace_discovery(spec, found.name)
    return spec


def _replace_discovery(spec: LabOrgSpec, name: str) -> LabOrgSpec:
    from dataclasses import replace

    return replace(spec, discovery_server=name)


def _parse_accounts(ck: _Checker, root: _LDict) -> tuple[Account, ...]:
    raw = ck.sequence(ck.get(root, "accounts", _LList, "org file", required=True), root.line, "accounts")
    if not raw:
        raise ck.fail(raw.line, "accounts must list at least one account")
    out = []
    for item, line in zip(raw, raw.lines, strict=True):
        m = ck.mapping(item, line, "an account")
        ck.keys(m, ("username", "password"), "account")
        username = ck.get(m, "username", str, "account", required=True)
        password = ck.text(ck.get(m, "password", (str, int), "account", required=True), line, "password")
        uline = ck.line_of(m, "username")
        if "\\" in username:
            dom, _, user = username.partition("\\")
            if not dom or not user or "\\" in user:
                raise ck.fail(uline, f"username {username!r} must look like DOMAIN\\user or user@dns.domain")
        elif "@" in username:
            dom, user = "", username
        else:
            raise ck.fail(uline, f"username {username!r} must look like DOMAIN\\user or user@dns.domain")
        if ":" in username or ":" in password or "\n" in password or "\r" in password:
            raise ck.fail(ck.line_of(m, "password"), "username and password must not contain ':' or line breaks")
        if not password:
            raise ck.fail(ck.line_of(m, "password"), "password must not be empty")
        out.append(Account(username=username, password=password, domain=dom, user=user))
    return tuple(out)


_SERVER_KEYS = (
    "name",
    "fqdn",
    "site",
    "roles",
    "edition",
    "build",
    "cu_build",
    "admin_display_version",
    "exsetup",
    "install_path",
    "eems",
    "service",
    "events",
    "log_lines",
    "get_mitigations",
    "delegation",
    "ocs",
    "faults",
    "http",
)


def _parse_server(ck: _Checker, m: _LDict, domain: str) -> ServerSpec:
    ck.keys(m, _SERVER_KEYS, "server")
    name = ck.text(ck.get(m, "name", (str, int), "server", required=True), m.line, "server name")
    if not name.strip() or "\n" in name:
        raise ck.fail(ck.line_of(m, "name"), "server name must be one non-empty line")
    what = f"server {name!r}"
    fqdn = ck.get(m, "fqdn", str, what, default=f"{name}.{domain}")
    if not _FQDN_RE.match(fqdn):
        raise ck.fail(
            ck.line_of(m, "fqdn") if "fqdn" in m else ck.line_of(m, "name"),
            f"{what}: fqdn {fqdn!r} is not a DNS name (set fqdn explicitly)",
        )
    site = ck.text(ck.get(m, "site", (str, int), what, default="Default-First-Site-Name"), m.line, "site")

    roles_line = ck.line_of(m, "roles")
    roles = tuple(
        ck.choice(r, ROLE_NAMES, roles_line, f"{what}: role")
        for r in ck.string_list(m.get("roles", ["Mailbox"]), roles_line, "roles")
    )
    if not roles:
        raise ck.fail(roles_line, f"{what}: roles must not be empty")
    if "Edge" in roles and len(roles) > 1:
        raise ck.fail(roles_line, f"{what}: the Edge role cannot be combined with other roles")
    edition = ck.choice(
        ck.get(m, "edition", str, what, default="Standard"),
        EDITIONS,
        ck.line_of(m, "edition"),
        f"{what}: edition",
    )

    build = ck.build(ck.get(m, "build", (str,), what, required=True), ck.line_of(m, "build"), f"{what}: build")
    if "cu_build" in m and "admin_display_version" in m:
        raise ck.fail(
            ck.line_of(m, "admin_display_version"),
            f"{what}: give cu_build or admin_display_version, not both",
        )
    if "cu_build" in m:
        cu_build = ck.build(
            ck.get(m, "cu_build", str, what, required=True), ck.line_of(m, "cu_build"), f"{what}: cu_build"
        )
    elif "admin_display_version" in m:
        adv = ck.get(m, "admin_display_version", str, what, required=True)
        am = _ADV_RE.match(adv.strip())
        if not am:
            raise ck.fail(
                ck.line_of(m, "admin_display_version"),
                f"{what}: admin_display_version {adv!r} must look like 'Version 15.2 (Build 1118.7)'",
            )
        a, b, c, d = (int(g) for g in am.groups())
        cu_build = (a, b, c, d)
    else:
        cu_build = build
    if cu_build[:3] != build[:3] or cu_build[3] > build[3]:
        line = ck.line_of(m, "cu_build") if "cu_build" in m else ck.line_of(m, "admin_display_version")
        raise ck.fail(
            line,
            f"{what}: CU build {'.'.join(map(str, cu_build))} does not belong to build "
            f"{'.'.join(map(str, build))} (same major.minor.build, lower or equal revision)",
        )

    exsetup = ck.choice(
        ck.get(m, "exsetup", str, what, default="exsetup"),
        EXSETUP_SOURCES,
        ck.line_of(m, "exsetup"),
        f"{what}: exsetup",
    )
    install_path = ck.get(m, "install_path", str, what, default=DEFAULT_INSTALL_PATH)
    if not install_path.endswith("\\"):
        install_path += "\\"

    edge = "Edge" in roles
    eems = _parse_eems(ck, m, what)
    service = _parse_service(ck, m, what, edge)
    events = _parse_events(ck, m, what)
    log_lines = _parse_log_lines(ck, m, what)
    get_mitigations = _parse_get_mitigations(ck, m, what, eems)
    delegation = ck.get(m, "delegation", bool, what, default=True)
    ocs = _parse_ocs(ck, m, what)
    faults = _parse_faults(ck, m, what)
    http = _parse_http(ck, m, what)
    return ServerSpec(
        name=name,
        fqdn=fqdn,
        site=site,
        roles=roles,
        edition=edition,
        build=build,
        cu_build=cu_build,
        exsetup=exsetup,
        install_path=install_path,
        eems=eems,
        service=service,
        events=events,
        log_lines=log_lines,
        get_mitigations=get_mitigations,
        delegation=delegation,
        ocs=ocs,
        faults=faults,
        line=m.line,
        http=http,
    )


def _parse_eems(ck: _Checker, m: _LDict, what: str) -> EemsSpec:
    raw = m.get("eems")
    if raw is None:
        return EemsSpec(True, (), (), False, None)
    e = ck.mapping(raw, ck.line_of(m, "eems"), f"{what}: eems")
    ck.keys(e, ("enabled", "applied", "blocked", "data_collection_enabled", "internet_web_proxy"), "eems")
    proxy = ck.get(e, "internet_web_proxy", str, f"{what}: eems", nullable=True)
    if proxy is not None and not re.match(r"^https?://[^\s]+$", proxy):
        raise ck.fail(
            ck.line_of(e, "internet_web_proxy"),
            f"{what}: internet_web_proxy {proxy!r} must be an http(s) URI",
        )
    return EemsSpec(
        enabled=ck.get(e, "enabled", bool, f"{what}: eems", default=True),
        applied=ck.string_list(e.get("applied"), ck.line_of(e, "applied"), "eems.applied"),
        blocked=ck.string_list(e.get("blocked"), ck.line_of(e, "blocked"), "eems.blocked"),
        data_collection_enabled=ck.get(e, "data_collection_enabled", bool, f"{what}: eems", default=False),
        internet_web_proxy=proxy,
    )


def _parse_service(ck: _Checker, m: _LDict, what: str, edge: bool) -> ServiceSpec | None:
    if "service" not in m:
        return None if edge else ServiceSpec("Running", "Automatic")
    raw = m["service"]
    line = ck.line_of(m, "service")
    if raw is None or (isinstance(raw, str) and raw.lower() in ("absent", "missing", "not_installed")):
        return None
    s = ck.mapping(raw, line, f"{what}: service (a mapping, or 'absent')")
    ck.keys(s, ("status", "start_type"), "service")
    status = ck.choice(
        ck.get(s, "status", str, "service", default="Running"),
        SERVICE_STATUSES,
        ck.line_of(s, "status"),
        f"{what}: service status",
    )
    start = ck.choice(
        ck.get(s, "start_type", str, "service", default="Automatic"),
        START_TYPES,
        ck.line_of(s, "start_type"),
        f"{what}: service start_type",
    )
    return ServiceSpec(status, start)


def _parse_events(ck: _Checker, m: _LDict, what: str) -> tuple[EventSpec, ...]:
    seq = ck.sequence(m.get("events"), ck.line_of(m, "events"), f"{what}: events")
    out = []
    for item, line in zip(seq, seq.lines, strict=True):
        e = ck.mapping(item, line, "an event")
        ck.keys(e, ("id", "level", "time", "message", "source"), "event")
        eid = ck.get(e, "id", int, "event", required=True)
        level = ck.choice(
            ck.get(e, "level", str, "event", default="Error"),
            EVENT_LEVELS,
            ck.line_of(e, "level"),
            "event level",
        )
        t_abs, t_off = ck.time(e.get("time", "now"), ck.line_of(e, "time"), "event time")
        message = ck.text(ck.get(e, "message", (str, int), "event", required=True), line, "event message")
        source = ck.get(e, "source", str, "event", default=EEMS_EVENT_SOURCE)
        out.append(
            EventSpec(
                id=eid,
                level=level,
                message=message.rstrip("\n"),
                source=source,
                time_abs=t_abs,
                time_offset=t_off,
            )
        )
    return tuple(out)


def _parse_log_lines(ck: _Checker, m: _LDict, what: str) -> tuple[LogLine, ...]:
    seq = ck.sequence(m.get("log_lines"), ck.line_of(m, "log_lines"), f"{what}: log_lines")
    out = []
    for item, line in zip(seq, seq.lines, strict=True):
        if isinstance(item, _LDict):
            ck.keys(item, ("file", "line"), "log line")
            f = ck.get(item, "file", str, "log line", default=DEFAULT_LOG_FILE)
            text = ck.text(ck.get(item, "line", (str, int), "log line", required=True), line, "log line")
            out.append(LogLine(f, text))
        else:
            out.append(LogLine(DEFAULT_LOG_FILE, ck.text(item, line, "log line")))
    return tuple(out)


def _parse_get_mitigations(ck: _Checker, m: _LDict, what: str, eems: EemsSpec) -> GetMitigationsSpec:
    raw = m.get("get_mitigations")
    if raw is None:
        derived = [_known(mid, "Applied") for mid in eems.applied]
        derived += [_known(mid, "Blocked") for mid in eems.blocked if mid not in eems.applied]
        return GetMitigationsSpec(tuple(derived), (), ())
    g = ck.mapping(raw, ck.line_of(m, "get_mitigations"), f"{what}: get_mitigations")
    ck.keys(g, ("mitigations", "warnings", "errors"), "get_mitigations")
    seq = ck.sequence(g.get("mitigations"), ck.line_of(g, "mitigations"), "get_mitigations.mitigations")
    mits = []
    for item, line in zip(seq, seq.lines, strict=True):
        x = ck.mapping(item, line, "a mitigation")
        ck.keys(x, ("server", "id", "type", "description", "status"), "mitigation")
        mid = ck.text(ck.get(x, "id", (str, int), "mitigation", required=True), line, "mitigation id")
        default_type, default_desc = KNOWN_MITIGATIONS.get(mid.split(".")[0], ("IIS", ""))
        mits.append(
            MitigationSpec(
                server=ck.get(x, "server", str, "mitigation"),
                id=mid,
                type=ck.get(x, "type", str, "mitigation", default=default_type),
                description=ck.get(x, "description", str, "mitigation", default=default_desc),
                status=ck.get(x, "status", str, "mitigation", default="Applied"),
            )
        )
    return GetMitigationsSpec(
        mitigations=tuple(mits),
        warnings=ck.string_list(g.get("warnings"), ck.line_of(g, "warnings"), "get_mitigations.warnings"),
        errors=ck.string_list(g.get("errors"), ck.line_of(g, "errors"), "get_mitigations.errors"),
    )


def _known(mid: str, status: str) -> MitigationSpec:
    mtype, desc = KNOWN_MITIGATIONS.get(mid.split(".")[0], ("IIS", ""))
    return MitigationSpec(server=None, id=mid, type=mtype, description=desc, status=status)


def _parse_ocs(ck: _Checker, m: _LDict, what: str) -> OcsSpec:
    raw = m.get("ocs")
    if raw is None:
        return OcsSpec(True, 200, None)
    o = ck.mapping(raw, ck.line_of(m, "ocs"), f"{what}: ocs")
    ck.keys(o, ("reachable", "status_code", "error"), "ocs")
    reachable = ck.get(o, "reachable", bool, "ocs", default=True)
    code = ck.get(o, "status_code", int, "ocs", nullable=True, default=200 if reachable else None)
    if "status_code" not in o:
        code = 200 if reachable else None
    error = ck.get(o, "error", str, "ocs", nullable=True)
    if not reachable and code is None and not error:
        error = "Unable to connect to the remote server"
    if code is not None and not 100 <= code <= 599:
        raise ck.fail(ck.line_of(o, "status_code"), f"{what}: ocs.status_code {code} is not an HTTP status")
    return OcsSpec(reachable, code, error)


_HTTP_BUILD_RE = re.compile(r"^\d{1,2}\.\d{1,2}\.\d{1,5}(?:\.\d{1,5})?$")
_HTTP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _parse_http(ck: _Checker, m: _LDict, what: str) -> HttpSpec:
    raw = m.get("http")
    if raw is None:
        return HttpSpec()
    h = ck.mapping(raw, ck.line_of(m, "http"), f"{what}: http")
    ck.keys(h, ("owa_header", "header_case", "manifest", "build", "fe_server"), "http")
    where = f"{what}: http"
    case = ck.get(h, "header_case", str, where, default="X-OWA-Version")
    if case.lower() != "x-owa-version":
        raise ck.fail(ck.line_of(h, "header_case"), f"{where}.header_case {case!r} must spell X-OWA-Version")
    build = ck.get(h, "build", str, where)
    if build is not None and not _HTTP_BUILD_RE.match(build.strip()):
        raise ck.fail(ck.line_of(h, "build"), f"{where}.build {build!r} is not a build like 15.2.1118.26 (quote it)")
    fe_server = ck.get(h, "fe_server", (str, int), where)
    if fe_server is not None and not _HTTP_NAME_RE.match(str(fe_server)):
        raise ck.fail(ck.line_of(h, "fe_server"), f"{where}.fe_server {fe_server!r} must be a server name")
    return HttpSpec(
        owa_header=ck.get(h, "owa_header", bool, where, default=True),
        header_case=case,
        manifest=ck.get(h, "manifest", bool, where, default=True),
        build=build.strip() if build is not None else None,
        fe_server=str(fe_server) if fe_server is not None else None,
    )


_FAULT_PARAMS: dict[str, tuple[str, ...]] = {
    "refuse": ("endpoint",),
    "http_401": ("endpoint",),
    "http_500": ("endpoint",),
    "wsman_fault": ("endpoint", "code", "message"),
    "delay": ("endpoint", "ms", "scope"),
    "hang": ("endpoint", "scope"),
    "garbage": (),
    "oversized": ("mb",),
    "http_refuse": (),
    "endless_body": ("endpoint",),
    "negative_chunk": ("endpoint",),
    "trailing_bytes": ("endpoint",),
    "fqdn_as": ("fqdn",),
    "ad_error": ("after", "terminating"),
}


def _parse_faults(ck: _Checker, m: _LDict, what: str) -> tuple[FaultSpec, ...]:
    seq = ck.sequence(m.get("faults"), ck.line_of(m, "faults"), f"{what}: faults")
    out = []
    for item, line in zip(seq, seq.lines, strict=True):
        if isinstance(item, str):
            f = _LDict({"kind": item})
            f.line = line
            f.lines = {"kind": line}
        else:
            f = ck.mapping(item, line, "a fault (a mapping with 'kind', or a fault name)")
        kind = ck.choice(ck.get(f, "kind", str, "fault", required=True), FAULT_KINDS, line, f"{what}: fault kind")
        ck.keys(f, ("kind", *_FAULT_PARAMS[kind]), f"fault {kind}")
        endpoint = ck.choice(
            ck.get(f, "endpoint", str, "fault", default="both"),
            ENDPOINTS,
            ck.line_of(f, "endpoint"),
            "fault endpoint",
        )
        kwargs: dict[str, Any] = {"kind": kind, "endpoint": endpoint}
        if kind in COLLECTOR_FAULTS:
            kwargs["endpoint"] = "wsman"
        if kind == "delay":
            ms = ck.get(f, "ms", int, "fault delay", required=True)
            if ms < 0:
                raise ck.fail(ck.line_of(f, "ms"), "fault delay: ms must not be negative")
            kwargs["ms"] = ms
            kwargs["scope"] = ck.choice(
                ck.get(f, "scope", str, "fault", default="request"),
                ("request", "collector"),
                ck.line_of(f, "scope"),
                "delay scope",
            )
        elif kind == "hang":
            kwargs["scope"] = ck.choice(
                ck.get(f, "scope", str, "fault", default="all"),
                ("all", "collector"),
                ck.line_of(f, "scope"),
                "hang scope",
            )
        elif kind == "oversized":
            mb = ck.get(f, "mb", (int, float), "fault oversized", default=1.0)
            if not 0 < mb <= 256:
                raise ck.fail(ck.line_of(f, "mb"), "fault oversized: mb must be > 0 and <= 256")
            kwargs["mb"] = float(mb)
        elif kind == "ad_error":
            kwargs["after"] = ck.get(f, "after", int, "fault ad_error", default=0)
            kwargs["terminating"] = ck.get(f, "terminating", bool, "fault ad_error", default=False)
            kwargs["endpoint"] = "exchange"
        elif kind == "fqdn_as":
            kwargs["fqdn"] = ck.get(f, "fqdn", str, "fault fqdn_as", required=True)
        elif kind == "wsman_fault":
            kwargs["code"] = ck.get(f, "code", int, "fault wsman_fault", default=5)
            kwargs["message"] = ck.get(f, "message", str, "fault wsman_fault", default="Access is denied.")
        if kwargs.get("scope") == "collector":
            kwargs["endpoint"] = "wsman"
        out.append(FaultSpec(**kwargs))
    return tuple(out)


def format_build(build: tuple[int, int, int, int]) -> str:
    """``(15, 2, 1118, 26)`` -> ``15.2.1118.26``."""
    return ".".join(str(p) for p in build)


def file_version(build: tuple[int, int, int, int]) -> str:
    """ExSetup.exe FileVersion text: ``(15, 2, 1118, 26)`` -> ``15.02.1118.026``."""
    return f"{build[0]}.{build[1]:02d}.{build[2]:04d}.{build[3]:03d}"
