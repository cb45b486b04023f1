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
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import InputError, RunError, ScanInterrupted
from ..model import CollectionStatus, Inventory, OrgInfo, ServerRecord
from .collector import CollectorReading, collector_parameters, collector_script
from .httpcheck import check_servers, merge_http_check, targets_for, tls_context
from .options import ScanOptions
from .plain import PSBag, text
from .records import collection_outcome, exchange_facts, server_record
from .remoting import CommandResult, ExchangeSession, RemoteFailure, run_script, scrub
from .watchdog import Feed, Outcome, run_bounded, run_fed

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


def scan(options: ScanOptions, progress: ProgressCallback | None = None) -> Inventory:
    """Discover the organisation, collect every selected server, and return the inventory.

    Collection starts with the first servers Get-ExchangeServer returns, while the rest of its answer is still
    arriving: in a large organisation that answer takes many Receives. If discovery then fails, the servers
    already started are abandoned and the scan fails as before."""
    if not options.verify_tls:
        log.warning(
            "TLS CERTIFICATE CHECKS ARE OFF (--no-verify-tls): anyone on the path can read and change "
            "this scan, and capture the credentials it sends"
        )
    started = dt.datetime.now(dt.timezone.utc)
    board = _Board(options, started, progress)
    feed: Feed[ServerRecord] = Feed()
    collecting = threading.Thread(
        target=run_fed,
        args=(feed,),
        kwargs={
            "parallel": options.parallel,
            "limit": options.server_timeout,
            "on_outcome": board.outcome,
            "name": "eems-check-server",
        },
        name="eems-check-collection",
        daemon=True,
    )
    collecting.start()
    selector = _Selector(options)

    def admit(bag: PSBag) -> None:  # in the discovery thread, as Get-ExchangeServer's objects arrive
        facts = selector.admit(bag)
        if facts is not None:
            board.admit(facts, feed)

    org: _Org | None = None
    try:
        org = _discover(options, admit)
        board.stop_admitting()
        for name in selector.unknown():
            board.add_unknown(name)
        feed.close()
        collecting.join()
    except KeyboardInterrupt:  # Ctrl+C: hand over what was collected, so the CLI can save it
        board.stop_admitting()
        feed.abort()
        when = "during discovery" if org is None else "during collection"
        servers = board.records(unfinished=f"not collected: the scan was interrupted (Ctrl+C) {when}")
        raise ScanInterrupted(_inventory(options, org, servers, started, f"interrupted (Ctrl+C) {when}")) from None
    except BaseException:
        board.stop_admitting()
        feed.abort()
        raise
    servers = board.records()
    if options.http_check:
        servers = _http_check(options, servers)
    return _inventory(options, org, servers, started)


def _inventory(
    options: ScanOptions,
    org: _Org | None,
    servers: tuple[ServerRecord, ...],
    started: dt.datetime,
    incomplete: str | None = None,
) -> Inventory:
    name = org.name if org else f"unknown (discovery on {options.discovery} did not finish)"
    return Inventory(
        org=OrgInfo(
            name=name, mitigations_enabled=org.mitigations_enabled if org else None, discovery_server=options.discovery
        ),
        servers=servers,
        collected_at=started,
        collector_name="eems-check",
        collector_version=__version__,
        collector_host=socket.gethostname(),
        source=f"scan via {options.discovery}",
        incomplete=incomplete,
    )


class _Board:
    """The scan's records, one slot per server in discovery order, filled from several threads."""

    def __init__(self, options: ScanOptions, started: dt.datetime, progress: ProgressCallback | None) -> None:
        self._options = options
        self._started = started
        self._progress = progress
        self._lock = threading.Lock()
        self._slots: list[ServerRecord | None] = []
        self._facts: list[Mapping[str, Any]] = []
        self._slot_of_task: dict[int, int] = {}
        self._admitting = True
        self._done = 0
        self._failed = 0
        self._report()

    def admit(self, facts: Mapping[str, Any], feed: Feed[ServerRecord]) -> None:
        """A selected server: Edge servers are recorded as not scanned, the others queued for collection."""
        with self._lock:
            if not self._admitting:
                return  # a discovery abandoned at its time limit may still be delivering objects
            slot = self._new_slot(facts)
            if facts["is_edge"]:
                self._fill(slot, self._not_scanned(facts, EDGE_REASON))
            else:
                self._slot_of_task[feed.put(functools.partial(_collect, self._options, facts))] = slot
            self._report()

    def add_unknown(self, name: str) -> None:
        """A server named on the command line that Get-ExchangeServer does not list."""
        reason = f"Get-ExchangeServer on {self._options.discovery} does not list this server"
        with self._lock:
            slot = self._new_slot({"name": name})
            self._fill(slot, self._not_scanned({"name": name}, reason))
            self._report()

    def outcome(self, task: int, result: Outcome[ServerRecord]) -> None:
        """A collection's outcome (in the collection thread)."""
        with self._lock:
            slot = self._slot_of_task[task]
            record = result.value
            if record is None:
                if result.timed_out:
                    status = CollectionStatus.TIMEOUT
                    reason = f"no answer within {self._options.server_timeout:g} s; abandoned"
                else:
                    status = CollectionStatus.ERROR
                    reason = f"internal error: {type(result.error).__name__}: {result.error}"
                record = _record(self._options, self._facts[slot], None, status, reason, self._started, result.elapsed)
            self._fill(slot, record)
            self._report()

    def stop_admitting(self) -> None:
        with self._lock:
            self._admitting = False

    def records(self, unfinished: str | None = None) -> tuple[ServerRecord, ...]:
        """The records in discovery order; with `unfinished`, servers still being collected are included as not
        scanned for that reason (an interrupted scan), otherwise left out."""
        with self._lock:
            if unfinished is None:
                return tuple(r for r in self._slots if r is not None)
            return tuple(
                r if r is not None else self._not_scanned(facts, unfinished)
                for r, facts in zip(self._slots, self._facts, strict=True)
            )

    def _not_scanned(self, facts: Mapping[str, Any], reason: str) -> ServerRecord:
        return server_record(facts, None, CollectionStatus.NOT_SCANNED, reason, self._started, None)

    def _new_slot(self, facts: Mapping[str, Any]) -> int:
        self._slots.append(None)
        self._facts.append(facts)
        return len(self._slots) - 1

    def _fill(self, slot: int, record: ServerRecord) -> None:
        self._slots[slot] = record
        self._done += 1
        self._failed += record.collection.status in FAILED

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self._done, self._failed, len(self._slots))


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


def _discover(options: ScanOptions, admit: Callable[[PSBag], None]) -> _Org:
    """Get-ExchangeServer, whose objects go to `admit` as they arrive (in the discovery thread), then
    Get-OrganizationConfig; raises `DiscoveryError`/`DiscoveryAuthError` when the organisation cannot be listed."""
    target = options.exchange_target(options.discovery)
    creds = options.credentials()

    def each(item: Any) -> None:
        if isinstance(item, PSBag):
            admit(item)

    def work() -> tuple[CommandResult, CommandResult]:
        with ExchangeSession(target, creds) as session:
            servers = session.run_cmdlet("Get-ExchangeServer", on_output=each)  # first: collection waits on it
            return session.run_cmdlet("Get-OrganizationConfig"), servers

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
    listed = any(isinstance(o, PSBag) for o in servers_result.output)  # each already went to `admit`
    if servers_result.failed or (servers_result.errors and not listed):
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
        return _Org("(unknown organisation)", None)
    enabled = config.get("MitigationsEnabled")
    return _Org(
        text(config.get("Name")) or str(config) or "(unknown organisation)",
        enabled if isinstance(enabled, bool) else None,
    )


class _Selector:
    """Which servers the options ask for, decided one Get-ExchangeServer object at a time, and at the end the
    names given with --server that it did not list."""

    def __init__(self, options: ScanOptions) -> None:
        self._options = options
        self._wanted = {s.lower() for s in options.servers}
        self._sites = {s.lower() for s in options.sites}
        self._roles = {r.lower() for r in options.roles}
        self._seen: set[str] = set()

    def admit(self, bag: PSBag) -> dict[str, Any] | None:
        """The server's facts when the options select it, else None."""
        facts = exchange_facts(bag)
        names = {facts["name"].lower(), (facts["fqdn"] or "").lower()} - {""}
        if self._wanted and not names & self._wanted:
            return None
        if self._sites and (facts["site"] or "").lower() not in self._sites:
            return None
        if self._roles and not {r.lower() for r in facts["roles"]} & self._roles:
            return None
        self._seen |= names
        return facts

    def unknown(self) -> list[str]:
        return [s for s in dict.fromkeys(self._options.servers) if s.lower() not in self._seen]


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
