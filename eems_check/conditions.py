"""The fixed vocabulary of rule conditions, and how each one judges a server.

A rule in the rule set names one `kind` from `KINDS` with parameters. Each kind returns an `Outcome`: a verdict,
the facts its message may quote, and evidence lines. Kinds are pure functions of the server context: no I/O, no
clock (the evaluation day comes in the context).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .builds import Branch, Catalogue, Precision, Resolution, ResolvedBuild, parse_build
from .errors import BuildParseError
from .model import BuildSource, CollectionStatus, OrgInfo, ServerRecord, Severity, Verdict


@dataclass(frozen=True)
class EsuPeriod:
    name: str
    start: dt.date
    end: dt.date
    branches: tuple[str, ...]  # "2019 CU15" style: product id + CU label


@dataclass(frozen=True)
class Context:
    """What a condition may look at for one server."""

    server: ServerRecord
    org: OrgInfo
    build: ResolvedBuild | None
    build_error: str | None
    catalogue: Catalogue
    esu_periods: tuple[EsuPeriod, ...]
    as_of: dt.date
    today: dt.date

    @property
    def branch(self) -> Branch | None:
        return self.build.branch if self.build else None

    @cached_property
    def eems_state(self) -> str:
        """Health Checker's combined EEMS state (worked out once per server: a rule and the report both show it)."""
        return eems_state(self)

    @cached_property
    def has_eems(self) -> bool | None:
        """Whether the build includes EEMS; None when the build is not resolved far enough to tell."""
        if self.server.is_edge:
            return False
        if self.build is None:
            return None
        if self.build.resolution is Resolution.LEGACY:
            return False
        product = self.build.product
        if product is not None and product.eems_from is None:
            return False
        if self.branch is None:
            return None
        return self.branch.has_eems

    def esu_for(self, branch: Branch) -> EsuPeriod | None:
        key = f"{branch.product.id} {branch.cu}"
        return next((p for p in self.esu_periods if key in p.branches and p.start <= self.today <= p.end), None)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    facts: Mapping[str, str] = field(default_factory=dict)
    evidence: tuple[str, ...] = ()
    severity: Severity | None = None  # overrides the rule's severity for a FAIL
    reason: str = ""  # why the verdict is UNKNOWN or NOT_APPLICABLE, or a PASS note


@dataclass(frozen=True)
class Param:
    type: type
    required: bool = False
    item: builtins.type | None = None  # for a list: the type of every item (`type` above shadows the builtin)


@dataclass(frozen=True)
class KindSpec:
    params: Mapping[str, Param]
    facts: tuple[str, ...]
    judge: Callable[[Context, Mapping[str, Any]], Outcome]
    # True when the verdict depends only on the build (text and source), Edge or not, and the day: the evaluation
    # then judges it once per distinct build of the organisation instead of once per server.
    build_only: bool = False


COMMON_FACTS = ("server", "build", "build_name", "product_name", "branch_name", "as_of", "fix")


def _na(reason: str) -> Outcome:
    return Outcome(Verdict.NOT_APPLICABLE, reason=reason)


def _unknown(reason: str) -> Outcome:
    return Outcome(Verdict.UNKNOWN, reason=reason)


def _no_eems_reason(ctx: Context) -> str | None:
    """Why EEMS rules do not apply, or None when they do (or it cannot be told)."""
    if ctx.server.is_edge:
        return "EEMS is not installed on Edge Transport servers"
    has = ctx.has_eems
    if has is False:
        return "this build has no Emergency Mitigation Service"
    return None


def _entry_text(ctx: Context, entry: Any) -> str:
    branch = ctx.branch
    short = branch.product.short_name if branch else entry.product
    return f"{entry.version}, {short} {entry.label}"


def judge_eems_min_update(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    since = dt.date.fromisoformat(params["since"])
    update_name = params.get("update_name") or f"update of {since.isoformat()}"
    base = {"update_name": update_name, "target": "the newest CU and SU"}
    reason = _no_eems_reason(ctx)
    if reason:
        return Outcome(Verdict.NOT_APPLICABLE, {**base, "minimum": "n/a"}, reason=reason)
    build, branch = ctx.build, ctx.branch
    if build is None:
        return Outcome(Verdict.UNKNOWN, {**base, "minimum": "unknown"}, reason="the build is not known")
    if branch is None:
        return Outcome(
            Verdict.UNKNOWN,
            {**base, "minimum": "unknown"},
            reason=f"{build.number} is not a CU in the rules (as of {ctx.as_of}); no guess is made",
        )
    minimum = branch.first_released_on_or_after(since)
    if minimum is None:
        text = f"none: no update of {branch.name} is that new, a newer CU is needed"
        return Outcome(
            Verdict.FAIL,
            {**base, "minimum": text, "target": f"a newer CU than {branch.cu} and its newest SU"},
            evidence=(
                f"newest update of {branch.name}: {_entry_text(ctx, branch.latest)}, "
                f"released {branch.latest.released_text}",
            ),
        )
    minimum_text = _entry_text(ctx, minimum)
    facts = {**base, "minimum": minimum_text, "target": minimum_text}
    if build.parsed.precision is Precision.CU:
        if minimum is branch.rtm:
            return Outcome(Verdict.PASS, facts, reason=f"every build of {branch.name} meets it")
        return Outcome(
            Verdict.UNKNOWN, facts, reason=f"only the CU is known; builds of {branch.name} pass from {minimum_text}"
        )
    if build.parsed.version >= minimum.version:
        return Outcome(Verdict.PASS, facts, reason=f"at or above {minimum_text}")
    return Outcome(Verdict.FAIL, facts)


def judge_eems_available(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    if ctx.server.is_edge:
        return _na("Edge Transport servers never have EEMS")
    build = ctx.build
    if build is None:
        return _unknown("the build is not known")
    product = build.product
    if product is None:
        return _unknown("the product is not known")
    if build.resolution is Resolution.LEGACY or product.eems_from is None:
        return Outcome(Verdict.FAIL, {"reason": f"{product.name} never received it"})
    branch = ctx.branch
    if branch is None:
        return _unknown(f"{build.number} is not a CU in the rules")
    if branch.has_eems:
        return Outcome(Verdict.PASS, reason=f"EEMS ships with {product.short_name} {product.eems_from} and later")
    return Outcome(Verdict.FAIL, {"reason": f"it arrived with {product.short_name} {product.eems_from}"})


def judge_product_support(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    build = ctx.build
    if build is None or build.product is None:
        return _unknown("the product is not known")
    product = build.product
    if product.lifecycle == "modern" and not product.legacy:
        return Outcome(Verdict.PASS, reason="in support under the Modern Lifecycle Policy while kept current")
    end = product.extended_support_end
    if end is None or ctx.today <= end:
        return Outcome(Verdict.PASS, reason=f"extended support until {end}" if end else "in support")
    branch = ctx.branch
    esu = ctx.esu_for(branch) if branch else None
    if esu is not None:
        severity = Severity(params.get("esu_severity", "warning"))
        return Outcome(
            Verdict.FAIL,
            {
                "support_state": f"passed the end of support on {end.isoformat()}; {branch.name if branch else ''} "
                f"receives security updates only through paid {esu.name} (until {esu.end.isoformat()})"
            },
            severity=severity,
        )
    return Outcome(
        Verdict.FAIL,
        {"support_state": f"reached the end of support on {end.isoformat()} and receives no more security updates"},
    )


def _serviced_until(branch: Branch) -> tuple[dt.date | None, bool]:
    if branch.serviced_open:
        return None, True
    return (branch.serviced_until or branch.latest.released), False


_SERVICED_CACHE: dict[tuple[int, dt.date], tuple[Catalogue, str]] = {}


def _serviced_lines(ctx: Context) -> str:
    """The CU lines serviced on the evaluation day (the same for every server: computed once per catalogue)."""
    key = (id(ctx.catalogue), ctx.today)
    cached = _SERVICED_CACHE.get(key)
    if cached is not None and cached[0] is ctx.catalogue:
        return cached[1]
    lines = []
    for branch in ctx.catalogue.branches:
        until, open_ended = _serviced_until(branch)
        if open_ended or (until is not None and until >= ctx.today) or ctx.esu_for(branch):
            lines.append(branch.name)
    text = ", ".join(lines) or "none known"
    if len(_SERVICED_CACHE) > 32:
        _SERVICED_CACHE.clear()
    _SERVICED_CACHE[key] = (ctx.catalogue, text)
    return text


def judge_branch_serviced(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    branch = ctx.branch
    if branch is None:
        return _unknown("the CU line is not known")
    until, open_ended = _serviced_until(branch)
    if open_ended:
        return Outcome(Verdict.PASS, reason=f"{branch.name} is serviced")
    assert until is not None
    if until >= ctx.today:
        return Outcome(Verdict.PASS, reason=f"{branch.name} is serviced until {until.isoformat()}")
    esu = ctx.esu_for(branch)
    if esu is not None:
        return Outcome(Verdict.PASS, reason=f"{branch.name} receives updates through {esu.name}")
    last = branch.latest
    state = f"is no longer serviced: its last update is {last.label} ({last.version}, {last.released_text})"
    return Outcome(Verdict.FAIL, {"service_state": state, "serviced_lines": _serviced_lines(ctx)})


def judge_latest_update(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    build, branch = ctx.build, ctx.branch
    if build is None or branch is None:
        return _unknown("the CU line is not known")
    latest = branch.latest
    facts = {
        "latest_name": f"{branch.product.short_name} {latest.label}",
        "latest_build": str(latest.version),
        "latest_released": latest.released_text,
        "latest_note": "" if latest.verified else "; reported by third parties, not yet confirmed by Microsoft",
    }
    if build.parsed.precision is Precision.CU:
        return Outcome(Verdict.UNKNOWN, {**facts, "days_behind": "?"}, reason="the SU level is not known")
    if build.resolution is Resolution.NEWER_THAN_LINE or build.parsed.version >= latest.version:
        return Outcome(Verdict.PASS, facts, reason=f"on {latest.label} or newer")
    own = build.entry or build.before
    days = (latest.released - own.released).days if own is not None else None
    return Outcome(Verdict.FAIL, {**facts, "days_behind": str(days) if days is not None else "?"})


def judge_build_known(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    build = ctx.build
    if build is None:
        if ctx.build_error:
            return Outcome(Verdict.FAIL, {"detail": f"the build reported by the server is unusable: {ctx.build_error}"})
        return _unknown("no build was collected")
    res = build.resolution
    stale = f"the rules (as of {ctx.as_of.isoformat()}) may be out of date"
    if res in (Resolution.EXACT, Resolution.CU_ONLY):
        note: tuple[str, ...] = ()
        if build.entry is not None and build.entry.conflict:
            note = (f"sources disagree about this build: {build.entry.conflict}",)
        if build.entry is not None and not build.entry.verified:
            note += ("this build is reported by third parties, not yet confirmed by Microsoft",)
        return Outcome(Verdict.PASS, evidence=note, reason=f"{build.number} is {build.name}")
    if res is Resolution.LEGACY:
        return _na(f"{build.product.name if build.product else 'legacy product'} is recognised but not analysed")

    def txt(e: Any) -> str:
        return _entry_text(ctx, e) if e is not None else "?"

    if res is Resolution.BETWEEN:
        detail = (
            f"{build.number} is not a known build: it lies between {txt(build.before)} and {txt(build.after)} "
            "(a private fix or a mistyped value?)"
        )
    elif res is Resolution.NEWER_THAN_LINE:
        detail = (
            f"{build.number} is newer than every known build of {ctx.branch.name if ctx.branch else '?'} "
            f"(newest known: {txt(build.before)}); {stale}"
        )
    elif res is Resolution.NEWER_THAN_RULES:
        detail = f"{build.number} is a CU newer than every known CU (newest known: {txt(build.before)}); {stale}"
    elif res is Resolution.UNKNOWN_CU:
        detail = f"{build.number} is not a known CU: it lies between {txt(build.before)} and {txt(build.after)}"
    elif res is Resolution.OLDER_THAN_PRODUCT:
        detail = f"{build.number} is older than the first release of its product (a preview build?)"
    else:
        detail = f"{build.number} is not a build of any Exchange version in the rules"
    return Outcome(Verdict.FAIL, {"detail": detail})


def judge_build_precision(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    build = ctx.build
    if build is None:
        return _na("no build was collected")
    if build.parsed.precision is Precision.SU:
        return Outcome(Verdict.PASS, reason="the exact build is known")
    source = {
        BuildSource.ADMIN_DISPLAY_VERSION: "AdminDisplayVersion (Get-ExchangeServer)",
        BuildSource.HTTP: "the build published over HTTPS",
    }.get(ctx.server.build_source or BuildSource.INPUT, "a CU-level build")
    return Outcome(Verdict.FAIL, {"source": source})


def judge_build_sources_agree(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    """The build the server reports (ExSetup.exe, else AdminDisplayVersion) against the one it publishes over HTTPS."""
    server = ctx.server
    published = server.http_version
    if not published:
        return _na(
            "no usable build was read over HTTPS (no --http-check, nothing published, or another server "
            "answered: see the collection reason)"
        )
    if server.exsetup_version and server.build_source is not BuildSource.HTTP:
        local_text, local_source = server.exsetup_version, "ExSetup.exe"
    elif server.admin_display_version:
        local_text, local_source = server.admin_display_version, "AdminDisplayVersion"
    else:
        return _na(f"only the HTTPS build ({published}) is known; nothing to compare it with")
    try:
        web, local = parse_build(published), parse_build(local_text)
    except BuildParseError as exc:
        return _unknown(f"a build cannot be compared: {exc}")
    exact = web.precision is Precision.SU and local.precision is Precision.SU
    if (web.version == local.version) if exact else (web.line_key == local.line_key):
        same = f"the same build ({published})" if exact else f"the same CU ({'.'.join(map(str, web.line_key))})"
        return Outcome(Verdict.PASS, reason=f"{local_source} and HTTPS show {same}")
    return Outcome(
        Verdict.FAIL,
        {
            "local_source": local_source,
            "local_build": local_text,
            "http_build": published,
            "compared": "exact build" if exact else "CU",
        },
    )


def eems_state(ctx: Context) -> str:
    """Health Checker's combined EEMS state, plus what this tool knows beyond it."""
    if ctx.server.is_edge:
        return "Not on Edge"
    if ctx.has_eems is False:
        return "Not present"
    org, server = ctx.org.mitigations_enabled, ctx.server.eems.enabled
    if org is None:
        return "Failed to query config"
    if server is None:
        return "Unknown (server setting not read)"
    if org and server:
        service = ctx.server.service
        if ctx.server.service_collected and service is None:
            return "Enabled, but the service is not installed"
        if service is not None and not (
            service.status.lower() == "running" and service.start_type.lower() == "automatic"
        ):
            return f"Enabled, but the service is {service.status} ({service.start_type})"
        return "Enabled"
    if not org and not server:
        return "Disabled"
    return "Disabled on org level" if not org else "Disabled on server level"


def judge_eems_enabled(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    state = ctx.eems_state
    if state.startswith("Enabled"):  # the service is EEMS-SERVICE's business
        return Outcome(Verdict.PASS, {"state": state}, reason="enabled for the organisation and the server")
    if ctx.org.mitigations_enabled is None or ctx.server.eems.enabled is None:
        return Outcome(Verdict.UNKNOWN, {"state": state}, reason=state)
    return Outcome(Verdict.FAIL, {"state": state + " (EEMS keeps checking but applies nothing)"})


def judge_eems_service(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    if not ctx.server.service_collected:
        return _na("the service state was not collected")
    service = ctx.server.service
    if service is None:
        return Outcome(Verdict.FAIL, {"state": "not installed"})
    if service.status.lower() == "running" and service.start_type.lower() == "automatic":
        return Outcome(Verdict.PASS, {"state": "Running, Automatic"}, reason="Running, Automatic")
    return Outcome(Verdict.FAIL, {"state": f"{service.status}, start type {service.start_type}"})


def judge_mitigations_blocked(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    blocked = ctx.server.eems.blocked
    applied = ctx.server.eems.applied
    evidence = (f"applied: {', '.join(applied)}",) if applied else ()
    if blocked:
        return Outcome(Verdict.FAIL, {"blocked": ", ".join(blocked)}, evidence=evidence)
    return Outcome(Verdict.PASS, evidence=evidence, reason="none blocked")


def _has(names: tuple[str, ...], mitigation: str) -> bool:
    """Whether `names` lists `mitigation` (M2 matches M2 and versions of it such as M2.1.0)."""
    return any(n == mitigation or n.startswith(mitigation + ".") for n in names)


def judge_mitigation_stands_in(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    """A server without the update that fixes a vulnerability relies on the EEMS mitigation standing in for it:
    FAIL when that mitigation is blocked or not applied."""
    mitigation, since = params["mitigation"], dt.date.fromisoformat(params["fixed_since"])
    facts = {"mitigation": mitigation, "vulnerability": params.get("vulnerability", "the vulnerability")}
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    build, branch = ctx.build, ctx.branch
    if build is None or branch is None:
        return _unknown("the CU line is not known")
    fix = branch.first_released_on_or_after(since)
    if fix is not None and build.parsed.precision is Precision.SU and build.parsed.version >= fix.version:
        return Outcome(Verdict.PASS, reason=f"the build has the fix ({_entry_text(ctx, fix)} or newer)")
    if fix is not None and build.parsed.precision is Precision.CU and fix is not branch.rtm:
        return _unknown(f"only the CU is known; {branch.name} has the fix from {_entry_text(ctx, fix)}")
    eems = ctx.server.eems
    fix_text = _entry_text(ctx, fix) if fix else f"none, no update of {branch.name} has it"
    if _has(eems.blocked, mitigation):
        return Outcome(Verdict.FAIL, {**facts, "state": "blocked", "fixed_in": fix_text})
    if not _has(eems.applied, mitigation):
        return Outcome(Verdict.FAIL, {**facts, "state": "not applied", "fixed_in": fix_text})
    return Outcome(Verdict.PASS, reason=f"the fix is missing, but {mitigation} is applied and stands in for it")


def _fmt_time(value: dt.datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "time unknown"


def judge_eems_evidence(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    events, lines = ctx.server.events, ctx.server.log_lines
    if events is None and lines is None:
        return _na("events and EEMS logs were not collected")
    ids = set(params.get("event_ids", []))
    patterns = [p.lower() for p in params.get("patterns", [])]
    hits: list[str] = []
    found_in: dict[str, None] = {}  # where the signs were found, in order: "event 1008", "the EEMS log"
    epoch = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    for event in sorted(events or (), key=lambda e: e.time or epoch, reverse=True):
        text = event.message.lower()
        if event.id in ids or any(p in text for p in patterns):
            text = " ".join(event.message.split())
            text = text if len(text) <= 300 else text[:297] + "..."
            hits.append(f"{_fmt_time(event.time)} event {event.id} ({event.level or 'level unknown'}): {text}")
            found_in[f"event {event.id}"] = None
    for line in lines or ():
        if any(p in line.line.lower() for p in patterns):
            text = " ".join(line.line.split())
            hits.append(f"EEMS log {line.file}: {text if len(text) <= 300 else text[:297] + '...'}")
            found_in["the EEMS log"] = None
    if not hits:
        return Outcome(Verdict.PASS, reason="no event 1008 or failing fetch in the EEMS log")
    facts = {"count": str(len(hits)), "newest": hits[0], "found_in": " and ".join(found_in)}
    return Outcome(Verdict.FAIL, facts, evidence=tuple(hits[:10]))


def judge_ocs_probe(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    probe = ctx.server.ocs_probe
    if probe is None or not probe.ran:
        return _na(probe.reason if probe and probe.reason else "the probe did not run")
    via = f" through proxy {probe.proxy}" if probe.proxy else " (no proxy)"
    if probe.proxy_auth_required:
        detail = f"proxy requires authentication (inconclusive){via}"
        return Outcome(
            Verdict.UNKNOWN,
            {"detail": detail},
            reason=f"{detail}: the probe's session could not authenticate to the proxy; EEMS itself authenticates "
            "as the computer account",
        )
    issuer = probe.certificate_issuer
    expected = [str(o) for o in params.get("issuer_organizations", [])]
    if issuer and expected and not any(f"o={o}".lower() in issuer.lower() for o in expected):
        return Outcome(
            Verdict.FAIL,
            {
                "detail": f"{probe.url or 'the Office Config Service'} was served{via} a certificate issued by "
                f"{issuer}: TLS inspection, which breaks EEMS's certificate validation"
            },
        )
    if probe.reachable:
        return Outcome(
            Verdict.PASS,
            {"detail": "reachable"},
            reason=f"HTTP 200 from {probe.url}{via} (reachability alone does not prove EEMS can "
            "validate what it fetches)",
        )
    got = probe.error or (f"HTTP {probe.status_code}" if probe.status_code else "no answer")
    return Outcome(
        Verdict.FAIL, {"detail": f"{probe.url or 'the Office Config Service'} unreachable from the server{via}: {got}"}
    )


def judge_get_mitigations(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    reason = _no_eems_reason(ctx)
    if reason:
        return _na(reason)
    result = ctx.server.get_mitigations
    if result is None:
        return _na("Get-Mitigations.ps1 was not run")
    if not result.ran:
        return _na(f"Get-Mitigations.ps1 did not run: {result.reason or 'no reason given'}")
    patterns = [p.lower() for p in params.get("patterns", [])]
    listed = tuple(
        f"{m.id}: {m.status or '?'} {('- ' + m.description) if m.description else ''}".strip()
        for m in result.mitigations
    )
    bad = [w for w in result.warnings if any(p in w.lower() for p in patterns)]
    if bad:
        # The warning describes the computer that ran the script, which need not be the server judged.
        on = f" (on {result.host})" if result.host else ""
        return Outcome(Verdict.FAIL, {"detail": f"WARNING{on}: {bad[0]}"}, evidence=tuple(bad) + listed)
    if result.errors:
        return Outcome(Verdict.FAIL, {"detail": f"error: {result.errors[0]}"}, evidence=result.errors + listed)
    if result.host and result.host.split(".")[0].lower() != ctx.server.name.split(".")[0].lower():
        # Export-EemsInventory.ps1 runs the script in the admin's shell: its connectivity check describes that
        # computer, so no warning there says nothing about this server.
        return Outcome(
            Verdict.UNKNOWN,
            evidence=listed,
            reason=f"Get-Mitigations.ps1 ran on {result.host}, not on this server, so its connectivity check does "
            "not describe this server (-ProbeOcs tests from the server itself)",
        )
    return Outcome(Verdict.PASS, evidence=listed, reason="no connectivity warning")


_STATUS_WORDS = {
    CollectionStatus.PARTIAL: "Partly collected",
    CollectionStatus.UNREACHABLE: "Unreachable",
    CollectionStatus.AUTH_FAILED: "Authentication failed",
    CollectionStatus.TIMEOUT: "Timed out",
    CollectionStatus.ERROR: "Collection error",
}


def judge_collection(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    status = ctx.server.collection.status
    if status is CollectionStatus.OK:
        return Outcome(Verdict.PASS, reason="collected")
    if status is CollectionStatus.NOT_SCANNED:
        return _na(ctx.server.collection.reason or "not scanned")
    facts = {"status": _STATUS_WORDS[status], "reason": ctx.server.collection.reason or "no reason recorded"}
    if status is CollectionStatus.PARTIAL:
        return Outcome(Verdict.FAIL, facts, severity=Severity(params.get("partial_severity", "warning")))
    return Outcome(Verdict.FAIL, facts)


def judge_edge_server(ctx: Context, params: Mapping[str, Any]) -> Outcome:
    if ctx.server.is_edge:
        return Outcome(Verdict.FAIL)
    return _na("not an Edge Transport server")


KINDS: dict[str, KindSpec] = {
    "eems_min_update": KindSpec(
        {"since": Param(str, True), "update_name": Param(str)},
        ("minimum", "update_name", "target"),
        judge_eems_min_update,
        build_only=True,
    ),
    "eems_available": KindSpec({}, ("reason",), judge_eems_available, build_only=True),
    "product_support": KindSpec(
        {"esu_severity": Param(str)}, ("support_state",), judge_product_support, build_only=True
    ),
    "branch_serviced": KindSpec({}, ("service_state", "serviced_lines"), judge_branch_serviced, build_only=True),
    "latest_update": KindSpec(
        {},
        ("latest_name", "latest_build", "latest_released", "latest_note", "days_behind"),
        judge_latest_update,
        build_only=True,
    ),
    "build_known": KindSpec({}, ("detail",), judge_build_known, build_only=True),
    "build_precision": KindSpec({}, ("source",), judge_build_precision, build_only=True),
    "build_sources_agree": KindSpec(
        {}, ("local_source", "local_build", "http_build", "compared"), judge_build_sources_agree
    ),
    "eems_enabled": KindSpec({}, ("state",), judge_eems_enabled),
    "eems_service": KindSpec({}, ("state",), judge_eems_service),
    "mitigations_blocked": KindSpec({}, ("blocked",), judge_mitigations_blocked),
    "eems_evidence": KindSpec(
        {"event_ids": Param(list, item=int), "patterns": Param(list, item=str)},
        ("count", "newest", "found_in"),
        judge_eems_evidence,
    ),
    "ocs_probe": KindSpec({"issuer_organizations": Param(list, item=str)}, ("detail",), judge_ocs_probe),
    "mitigation_stands_in": KindSpec(
        {"mitigation": Param(str, True), "fixed_since": Param(str, True), "vulnerability": Param(str)},
        ("mitigation", "vulnerability", "state", "fixed_in"),
        judge_mitigation_stands_in,
    ),
    "get_mitigations": KindSpec({"patterns": Param(list, item=str)}, ("detail",), judge_get_mitigations),
    "collection": KindSpec({"partial_severity": Param(str)}, ("status", "reason"), judge_collection),
    "edge_server": KindSpec({}, (), judge_edge_server),
}
