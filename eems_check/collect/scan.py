"""Scan an Exchange organisation over remote PowerShell and return the typed `Inventory`.

What it does: one Exchange session on the discovery server (Get-OrganizationConfig, Get-ExchangeServer; filters
applied in Python), then the collector script on every selected server's WinRM endpoint, a bounded number at a
time, each under a wall-clock limit that holds even when the remoting library hangs. A server that fails is a
record with a status and a reason; every selected server is in the inventory (Edge servers as `not_scanned`).
Only a failed discovery raises: `DiscoveryAuthError` when the credentials are refused, `DiscoveryError` otherwise
(no answer within the discovery's own time budget, an error before any server was listed, or no server at all).
A discovery that lists some servers and then fails, or writes errors, is partial: the servers listed are scanned and
the inventory says why the list may be incomplete. One object that cannot be read is that server's problem; the
same server listed twice is collected once; a name that is not a host name is never sent credentials.

With `http_check` on, every scanned server is then asked, by FQDN and without credentials, which build it publishes
over HTTPS (`httpcheck`); the answer fills `http_version`, and stands in for the build where WinRM failed.

What it must not do: print, prompt, or evaluate; progress goes to the optional callback (done, failed, total).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .. import __version__
from ..errors import InputError, RunError, ScanInterrupted
from ..model import CollectionStatus, Inventory, OrgInfo, ServerRecord
from .collector import CollectorReading, collector_parameters, collector_script
from .http import Cancel
from .httpcheck import check_servers, merge_http_check, targets_for, tls_context
from .options import ScanOptions
from .plain import PSBag, text
from .recording import CaptureWriter, pipeline_outputs, recording, scrub_table
from .records import collection_outcome, exchange_facts, host_name_problem, server_record
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
    problems: tuple[str, ...] = ()


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
    writer = None
    if options.capture is not None:
        writer = CaptureWriter(options.capture, password=options.password, scrub_names=options.capture_scrub_names)
    board = _Board(options, started, progress, writer)
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

    def admit(item: Any) -> None:  # in the discovery thread, as Get-ExchangeServer's objects arrive
        try:
            facts, problem = selector.admit(item)
            if facts is not None:
                board.admit(facts, feed, problem)
        except (InputError, ValueError, TypeError, KeyError) as exc:  # one unreadable object ends nothing else
            shown = scrub(str(item), options.password)[:80]
            selector.problems.append(f"Get-ExchangeServer's object {shown!r} could not be read: {exc}")

    org: _Org | None = None
    try:
        org = _discover(options, admit, writer)
        if not selector.listed:
            raise DiscoveryError(
                f"discovery: Get-ExchangeServer on {options.discovery} listed no Exchange server (does the account "
                "hold an Exchange role that can read the organisation's servers?)"
            )
        board.stop_admitting()
        for name in selector.unknown():
            board.add_unknown(name)
        problems = (*org.problems, *selector.problems)
        if not board.size() and not problems:
            raise DiscoveryError(
                f"discovery: none of the {selector.listed} servers Get-ExchangeServer listed matches "
                f"{_filters(options)}"
            )
        for problem in problems:
            log.warning("discovery: %s", scrub(problem, options.password))
        feed.close()
        collecting.join()
    except KeyboardInterrupt:  # Ctrl+C: hand over what was collected, so the CLI can save it
        board.stop_admitting()
        feed.abort()
        when = "during discovery" if org is None else "during collection"
        servers = board.records(unfinished=f"not collected: the scan was interrupted (Ctrl+C) {when}")
        incomplete = f"interrupted (Ctrl+C) {when}"
        raise ScanInterrupted(_inventory(options, org, servers, started, (), incomplete)) from None
    except BaseException:
        board.stop_admitting()
        feed.abort()
        raise
    servers = board.records()
    if options.http_check:
        servers = _http_check(options, servers)
    if writer is not None:
        _finish_capture(writer, started, servers, org.name)
    return _inventory(options, org, servers, started, problems)


def _inventory(
    options: ScanOptions,
    org: _Org | None,
    servers: tuple[ServerRecord, ...],
    started: dt.datetime,
    problems: tuple[str, ...],
    incomplete: str | None = None,
) -> Inventory:
    name = org.name if org else f"unknown (discovery on {options.discovery} did not finish)"
    return Inventory(
        org=OrgInfo(
            name=name,
            mitigations_enabled=org.mitigations_enabled if org else None,
            discovery_server=options.discovery,
            discovery_problems=tuple(scrub(p, options.password) for p in problems),
        ),
        servers=servers,
        collected_at=started,
        collector_name="eems-check",
        collector_version=__version__,
        collector_host=socket.gethostname(),
        source=f"scan via {options.discovery}",
        incomplete=incomplete,
    )


def _finish_capture(writer: CaptureWriter, started: dt.datetime, servers: tuple[ServerRecord, ...], org: str) -> None:
    names = scrub_table([{"name": s.name, "fqdn": s.fqdn, "site": s.site} for s in servers], org)
    stamp = started.isoformat().replace("+00:00", "Z")
    try:
        writer.finish(collected_at=stamp, written_by=f"eems-check scan {__version__}", names=names)
    except OSError as exc:  # the scan itself went well: its reports are still written
        log.warning("the capture was not written to %s: %s", writer.folder, exc.strerror or exc)


class _Board:
    """The scan's records, one slot per server in discovery order, filled from several threads."""

    def __init__(
        self,
        options: ScanOptions,
        started: dt.datetime,
        progress: ProgressCallback | None,
        writer: CaptureWriter | None = None,
    ) -> None:
        self._writer = writer
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

    def admit(self, facts: Mapping[str, Any], feed: Feed[ServerRecord], problem: str | None = None) -> None:
        """A selected server: Edge servers are recorded as not scanned, a server whose object could not be used
        (`problem`) as an error, the others queued for collection."""
        with self._lock:
            if not self._admitting:
                return  # a discovery abandoned at its time limit may still be delivering objects
            slot = self._new_slot(facts)
            if problem is not None:
                record = _record(self._options, facts, None, CollectionStatus.ERROR, problem, self._started, 0.0)
                self._fill(slot, record)
            elif facts["is_edge"]:
                self._fill(slot, self._not_scanned(facts, EDGE_REASON))
            else:
                cancel = Cancel()
                collect = functools.partial(_collect, self._options, facts, cancel, self._writer)
                task = feed.put(collect, cancel.cancel)
                self._slot_of_task[task] = slot
            self._report()

    def size(self) -> int:
        with self._lock:
            return len(self._slots)

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
                    reason = f"no answer within {self._options.server_timeout:g} s; the connection was closed"
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


def _discover(options: ScanOptions, admit: Callable[[Any], None], writer: CaptureWriter | None = None) -> _Org:
    """Get-ExchangeServer, whose objects go to `admit` as they arrive (in the discovery thread), then
    Get-OrganizationConfig, within the discovery's own time budget; raises `DiscoveryError`/`DiscoveryAuthError`
    when the organisation cannot be listed at all. Errors after the first server are problems of the result."""
    target = options.exchange_target(options.discovery)
    creds = options.credentials()
    cancel = Cancel()
    listed = threading.Event()

    def each(item: Any) -> None:
        listed.set()
        admit(item)

    def work() -> tuple[CommandResult | RemoteFailure, CommandResult]:
        with ExchangeSession(target, creds, cancel) as session, _recorded(writer):
            servers = session.run_cmdlet("Get-ExchangeServer", on_output=each)  # first: collection waits on it
            try:
                return session.run_cmdlet("Get-OrganizationConfig"), servers
            except RemoteFailure as failure:  # the servers are listed: the organisation's settings are unknown
                return failure, servers

    box: list[Outcome[tuple[CommandResult | RemoteFailure, CommandResult]]] = []
    run_bounded(
        [work],
        parallel=1,
        limit=options.discovery_timeout,
        on_outcome=lambda _, o: box.append(o),
        name="eems-check-discovery",
        cancels=[cancel.cancel],
    )
    outcome = box[0]
    if outcome.value is None:
        failure = _discovery_failure(options, target.label, outcome)
        if not listed.is_set():
            raise failure from None
        stopped = f"Get-ExchangeServer stopped before the end of its list: {failure}"
        return _Org("(unknown organisation)", None, (stopped,))
    org_result, servers_result = outcome.value
    problems = [f"Get-ExchangeServer wrote an error: {line}" for line in servers_result.errors]
    if servers_result.failed and not servers_result.errors:
        problems.append("Get-ExchangeServer failed before the end of its list")
    if (servers_result.failed or servers_result.errors) and not listed.is_set():
        detail = servers_result.errors[0] if servers_result.errors else "the pipeline failed"
        detail = scrub(detail, options.password)
        raise DiscoveryError(f"discovery: Get-ExchangeServer failed on {target.name}: {detail}")
    for line in servers_result.warnings:
        log.warning("Get-ExchangeServer on %s: %s", target.name, scrub(line, options.password))
    if isinstance(org_result, RemoteFailure):
        log.warning("Get-OrganizationConfig failed on %s: %s", target.name, scrub(org_result.reason, options.password))
        return _Org("(unknown organisation)", None, tuple(problems))
    for line in (*org_result.errors, *org_result.warnings):  # non-terminating: the pipeline still Completed
        log.warning("Get-OrganizationConfig on %s: %s", target.name, scrub(line, options.password))
    config = next((o for o in org_result.output if isinstance(o, PSBag)), None)
    if config is None:
        log.warning("Get-OrganizationConfig returned nothing on %s", target.name)
        return _Org("(unknown organisation)", None, tuple(problems))
    enabled = config.get("MitigationsEnabled")
    return _Org(
        text(config.get("Name")) or str(config) or "(unknown organisation)",
        enabled if isinstance(enabled, bool) else None,
        tuple(problems),
    )


@contextlib.contextmanager
def _recorded(writer: CaptureWriter | None) -> Iterator[None]:
    """With a capture: what the two discovery cmdlets answered, object by object as the server wrote them."""
    if writer is None:
        yield
        return
    with recording() as recorder:
        yield
    outputs = pipeline_outputs(recorder.answers)
    if not outputs:
        log.warning("capture: pypsrp logged no answer this release can read; the cmdlets' objects are not captured")
    for name, objects in zip(("GetExchangeServer", "GetOrganizationConfig"), outputs, strict=False):
        writer.cmdlet(name, objects)


def _discovery_failure(options: ScanOptions, where: str, outcome: Outcome[Any]) -> DiscoveryError | DiscoveryAuthError:
    """The error for a discovery that ended without a result (timed out, refused, failed)."""
    if outcome.timed_out:
        return DiscoveryError(
            f"discovery: {where}/PowerShell gave no complete answer within {options.discovery_timeout:g} s "
            "(--discovery-timeout)"
        )
    if isinstance(outcome.error, RemoteFailure):
        reason = scrub(outcome.error.reason, options.password)
        if outcome.error.status is CollectionStatus.AUTH_FAILED:
            return DiscoveryAuthError(
                f"discovery: {reason}. Check --username, the password and --auth; the Exchange endpoint accepts "
                "Kerberos (user@DOMAIN, server FQDN) and the account needs an Exchange role"
            )
        return DiscoveryError(f"discovery: cannot list the organisation: {reason}")
    error = outcome.error
    return DiscoveryError(f"discovery: {type(error).__name__}: {scrub(str(error), options.password)}")


def _filters(options: ScanOptions) -> str:
    given = [
        *(f"--server {s}" for s in options.servers),
        *(f"--site {s}" for s in options.sites),
        *(f"--role {r}" for r in options.roles),
    ]
    return " ".join(given) or "the selection"


class _Selector:
    """Which servers the options ask for, decided one Get-ExchangeServer object at a time; each server once (by
    name or FQDN, case-insensitively); at the end the names given with --server that it did not list, and the
    objects that were not servers at all."""

    def __init__(self, options: ScanOptions) -> None:
        self._options = options
        self._wanted = {s.lower() for s in options.servers}
        self._sites = {s.lower() for s in options.sites}
        self._roles = {r.lower() for r in options.roles}
        self._seen: set[str] = set()
        self.listed = 0
        self.problems: list[str] = []

    def admit(self, item: Any) -> tuple[dict[str, Any] | None, str | None]:
        """The server's facts when the options select it (else None), and why it cannot be collected (if so)."""
        self.listed += 1
        if not isinstance(item, PSBag):
            shown = scrub(repr(item), None)[:80]
            self.problems.append(f"Get-ExchangeServer's object #{self.listed} is not a server object: {shown}")
            return None, None
        facts = exchange_facts(item)
        names = {facts["name"].lower(), (facts["fqdn"] or "").lower()} - {""}
        if names & self._seen:
            log.info("Get-ExchangeServer listed %s twice; collected once", facts["name"])
            return None, None
        if self._wanted and not names & self._wanted:
            return None, None
        if self._sites and (facts["site"] or "").lower() not in self._sites:
            return None, None
        if self._roles and not {r.lower() for r in facts["roles"]} & self._roles:
            return None, None
        self._seen |= names
        problem = host_name_problem(facts["fqdn"] or facts["name"])
        if problem is not None and not facts["is_edge"]:
            return facts, f"Get-ExchangeServer gave {problem}: not contacted, no credentials sent"
        return facts, None

    def unknown(self) -> list[str]:
        return [s for s in dict.fromkeys(self._options.servers) if s.lower() not in self._seen]


def _collect(
    options: ScanOptions, facts: Mapping[str, Any], cancel: Cancel | None = None, writer: CaptureWriter | None = None
) -> ServerRecord:
    """Run the collector on one server (in a worker thread) and build its record; never raises for the server.
    `cancel` closes its connection when the watchdog gives up on it."""
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
        result = run_script(target, creds, collector_script(), params, cancel)
        answers = [o for o in result.output if isinstance(o, str)]
        if writer is not None and answers:
            writer.answer(facts["name"], answers[-1])
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
