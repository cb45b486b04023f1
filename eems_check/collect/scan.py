"""Scan an Exchange organisation over remote PowerShell and return the typed `Inventory`.

What it does: one Exchange session on the discovery server (Get-OrganizationConfig, Get-ExchangeServer; filters
applied in Python), then the collector script on every selected server's WinRM endpoint, a bounded number at a
time, each under a wall-clock limit that holds even when the remoting library hangs. A server that fails is a
record with a status and a reason; every selected server is in the inventory (Edge servers as `not_scanned`).
Only a failed discovery raises: `DiscoveryAuthError` when the credentials are refused, `DiscoveryError` otherwise.

With `http_check` on, every scanned server is then asked, by FQDN and without credentials, which build it publishes
over HTTPS (`httpcheck`); the answer fills `http_version`, and stands in for the build where WinRM failed.

What it must not do: print, prompt, or evaluate; progress goes to the optional callback (done, failed, total).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import InputError, RunError
from ..model import CollectionStatus, Inventory, OrgInfo, ServerRecord
from .collector import CollectorReading, collector_parameters, collector_script
from .httpcheck import check_servers, merge_http_check, targets_for, tls_context
from .options import ScanOptions
from .plain import PSBag, text
from .records import collection_outcome, exchange_facts, server_record
from .remoting import CommandResult, ExchangeSession, RemoteFailure, run_script, scrub
from .watchdog import Outcome, run_bounded

__all__ = ["DiscoveryAuthError", "DiscoveryError", "ProgressCallback", "ScanOptions", "scan"]

log = logging.getLogger(__name__)
ProgressCallback = Callable[[int, int, int], None]
FAILED = frozenset(
    {CollectionStatus.UNREACHABLE, CollectionStatus.AUTH_FAILED, CollectionStatus.TIMEOUT, CollectionStatus.ERROR}
)
EDGE_REASON = "Edge Transport server: outside the domain and without EEMS, so not scanned"


class DiscoveryError(RunError):
    """The discovery server could not list the organisation."""


class DiscoveryAuthError(InputError):
    """The discovery server refused the credentials: the user's to fix, unlike a failure of one server."""


@dataclass(frozen=True)
class _Org:
    name: str
    mitigations_enabled: bool | None
    servers: tuple[PSBag, ...]


def scan(options: ScanOptions, progress: ProgressCallback | None = None) -> Inventory:
    """Discover the organisation, collect every selected server, and return the inventory."""
    if not options.verify_tls:
        log.warning(
            "TLS CERTIFICATE CHECKS ARE OFF (--no-verify-tls): anyone on the path can read and change "
            "this scan, and capture the credentials it sends"
        )
    started = dt.datetime.now(dt.timezone.utc)
    org = _discover(options)
    selected, unknown = _select(org.servers, options)
    facts = [exchange_facts(bag) for bag in selected]
    records: list[ServerRecord | None] = [None] * (len(facts) + len(unknown))
    counts = {"done": 0, "failed": 0}
    total = len(records)

    def finish(index: int, record: ServerRecord) -> None:
        records[index] = record
        counts["done"] += 1
        counts["failed"] += record.collection.status in FAILED
        if progress is not None:
            progress(counts["done"], counts["failed"], total)

    if progress is not None:
        progress(0, 0, total)
    scanned: list[int] = []
    for i, f in enumerate(facts):
        if f["is_edge"]:
            finish(i, server_record(f, None, CollectionStatus.NOT_SCANNED, EDGE_REASON, started, None))
        else:
            scanned.append(i)
    for j, name in enumerate(unknown, start=len(facts)):
        reason = f"Get-ExchangeServer on {options.discovery} does not list this server"
        finish(j, server_record({"name": name}, None, CollectionStatus.NOT_SCANNED, reason, started, None))

    def outcome(k: int, result: Outcome[ServerRecord]) -> None:
        i = scanned[k]
        if result.value is not None:
            finish(i, result.value)
            return
        if result.timed_out:
            status = CollectionStatus.TIMEOUT
            reason = f"no answer within {options.server_timeout:g} s; abandoned"
        else:
            status, reason = CollectionStatus.ERROR, f"internal error: {type(result.error).__name__}: {result.error}"
        finish(i, _record(options, facts[i], None, status, reason, started, result.elapsed))

    tasks = [functools.partial(_collect, options, facts[i]) for i in scanned]
    run_bounded(
        tasks, parallel=options.parallel, limit=options.server_timeout, on_outcome=outcome, name="eems-check-server"
    )
    servers = tuple(r for r in records if r is not None)
    if options.http_check:
        servers = _http_check(options, servers)
    return Inventory(
        org=OrgInfo(name=org.name, mitigations_enabled=org.mitigations_enabled, discovery_server=options.discovery),
        servers=servers,
        collected_at=started,
        collector_name="eems-check",
        collector_version=__version__,
        collector_host=socket.gethostname(),
        source=f"scan via {options.discovery}",
    )


def _http_check(options: ScanOptions, servers: tuple[ServerRecord, ...]) -> tuple[ServerRecord, ...]:
    """The records with what each server publishes over HTTPS merged in (see `httpcheck.merge_http_check`)."""
    targets = targets_for(servers, options.http_check_port, options.http_check_tls, options.address_map)
    context = tls_context(verify=options.verify_tls, ca_bundle=options.ca_bundle) if options.http_check_tls else None
    results = check_servers(
        targets,
        context,
        parallel=options.parallel,
        timeout=options.http_check_timeout,
        manifest=options.http_check_manifest,
    )
    return tuple(merge_http_check(s, results.get(s.name)) for s in servers)


def _discover(options: ScanOptions) -> _Org:
    target = options.exchange_target(options.discovery)
    creds = options.credentials()

    def work() -> tuple[CommandResult, CommandResult]:
        with ExchangeSession(target, creds) as session:
            return session.run_cmdlet("Get-OrganizationConfig"), session.run_cmdlet("Get-ExchangeServer")

    box: list[Outcome[tuple[CommandResult, CommandResult]]] = []
    run_bounded(
        [work],
        parallel=1,
        limit=options.server_timeout,
        on_outcome=lambda _, o: box.append(o),
        name="eems-check-discovery",
    )
    outcome = box[0]
    if outcome.timed_out:
        raise DiscoveryError(f"discovery: {target.label}/PowerShell gave no answer within {options.server_timeout:g} s")
    if isinstance(outcome.error, RemoteFailure):
        reason = scrub(outcome.error.reason, options.password)
        if outcome.error.status is CollectionStatus.AUTH_FAILED:
            raise DiscoveryAuthError(
                f"discovery: {reason}. Check --username, the password and --auth; the Exchange endpoint accepts "
                "Kerberos (user@DOMAIN, server FQDN) and the account needs an Exchange role"
            ) from None
        raise DiscoveryError(f"discovery: cannot list the organisation: {reason}") from None
    if outcome.error is not None:
        raise DiscoveryError(
            f"discovery: {type(outcome.error).__name__}: {scrub(str(outcome.error), options.password)}"
        ) from None
    assert outcome.value is not None
    org_result, servers_result = outcome.value
    servers = tuple(o for o in servers_result.output if isinstance(o, PSBag))
    if servers_result.failed or (servers_result.errors and not servers):
        detail = servers_result.errors[0] if servers_result.errors else "the pipeline failed"
        raise DiscoveryError(
            f"discovery: Get-ExchangeServer failed on {target.name}: {scrub(detail, options.password)}"
        )
    for cmdlet, result in (("Get-OrganizationConfig", org_result), ("Get-ExchangeServer", servers_result)):
        for line in (*result.errors, *result.warnings):  # non-terminating: the pipeline still Completed
            log.warning("%s on %s: %s", cmdlet, target.name, scrub(line, options.password))
    config = next((o for o in org_result.output if isinstance(o, PSBag)), None)
    if config is None:
        log.warning("Get-OrganizationConfig returned nothing on %s", target.name)
        return _Org("(unknown organisation)", None, servers)
    enabled = config.get("MitigationsEnabled")
    return _Org(
        text(config.get("Name")) or str(config) or "(unknown organisation)",
        enabled if isinstance(enabled, bool) else None,
        servers,
    )


def _select(servers: Sequence[PSBag], options: ScanOptions) -> tuple[list[PSBag], list[str]]:
    """The servers the options ask for, in Get-ExchangeServer order, and explicit names it does not list."""
    wanted = {s.lower() for s in options.servers}
    sites = {s.lower() for s in options.sites}
    roles = {r.lower() for r in options.roles}
    chosen: list[PSBag] = []
    seen: set[str] = set()
    for bag in servers:
        facts = exchange_facts(bag)
        names = {facts["name"].lower(), (facts["fqdn"] or "").lower()} - {""}
        if wanted and not names & wanted:
            continue
        if sites and (facts["site"] or "").lower() not in sites:
            continue
        if roles and not {r.lower() for r in facts["roles"]} & roles:
            continue
        chosen.append(bag)
        seen |= names
    unknown = [s for s in dict.fromkeys(options.servers) if s.lower() not in seen]
    return chosen, unknown


def _collect(options: ScanOptions, facts: Mapping[str, Any]) -> ServerRecord:
    """Run the collector on one server (in a worker thread) and build its record; never raises for the server."""
    started = dt.datetime.now(dt.timezone.utc)
    clock = time.monotonic()
    target = options.wsman_target(facts["fqdn"] or facts["name"])
    params = collector_parameters(
        options.bounds,
        probe_ocs=options.probe_ocs,
        run_get_mitigations=options.run_get_mitigations,
        proxy=facts["eems"]["internet_web_proxy"],
    )
    creds = options.credentials(delegate=options.run_get_mitigations)

    reason: str | None
    try:
        result = run_script(target, creds, collector_script(), params)
    except RemoteFailure as failure:
        status, reason, reading = failure.status, failure.reason, None
    else:
        status, reason, reading = collection_outcome(
            result.output, result.errors, result.failed, options.bounds, facts["name"], target.label
        )
    return _record(options, facts, reading, status, reason, started, time.monotonic() - clock)


def _record(
    options: ScanOptions,
    facts: Mapping[str, Any],
    reading: CollectorReading | None,
    status: CollectionStatus,
    reason: str | None,
    started: dt.datetime,
    elapsed: float,
) -> ServerRecord:
    clean = scrub(reason, options.password) if reason else None
    return server_record(facts, reading, status, clean, started, int(elapsed * 1000))
