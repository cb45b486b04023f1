"""One fix per server, computed from the rules: what to do first, and which build to install.

What it does: `FixPlanner.build_part` finds the lowest catalogue build, at or above the server's own, that clears
every build rule that must pass (both EEMS rules, EEMS present, support, CU line serviced; a support failure the
rules downgrade, i.e. a paid ESU period, is accepted with a caveat), names it with its KB and release post, and
adds the newest update of that line (the latest-update rule) when it is newer, marking builds that only third
parties report. When the server's CU line cannot get there, it says why ("Exchange 2019 CU12 has no update that
meets the June 2026 SU rule") and how the move is made. `FixPlanner.fix` puts the non-build actions first (the
scan failed, the service is stopped, EEMS is switched off, mitigations are blocked).

What it must not do: guess a build the rules do not list, or read the clock (the evaluation day comes in).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Mapping

from .builds import Branch, BuildEntry, Catalogue, Precision, Resolution, ResolvedBuild, parse_build
from .conditions import Context, EsuPeriod
from .model import BuildSource, CollectionStatus, Finding, Fix, FixBuild, OrgInfo, ServerRecord, Severity, Verdict
from .ruleset import Rule

# Rule kinds a build must clear; `latest_update` is the one more that says how far to go within a CU line.
MUST_KINDS = ("eems_min_update", "eems_available", "product_support", "branch_serviced")
LATEST_KIND = "latest_update"


def _fix_build(entry: BuildEntry, short_name: str) -> FixBuild:
    return FixBuild(
        name=f"{short_name} {entry.label}",
        number=str(entry.version),
        kb=entry.kb,
        release_post=entry.release_post,
        third_party_only=not entry.verified,
    )


def _why_not(rule: Rule, branch: Branch, outcome_facts: Mapping[str, str]) -> str:
    """Why the newest update of `branch` does not clear `rule`, in words."""
    if rule.kind == "eems_min_update":
        name = rule.params.get("update_name") or f"update of {rule.params['since']}"
        return f"{branch.name} has no update that meets the {name} rule"
    if rule.kind == "eems_available":
        return f"{branch.name} has no Emergency Mitigation Service"
    if rule.kind == "product_support":
        return f"{branch.product.name} {outcome_facts.get('support_state', 'is out of support')}"
    return f"{branch.name} receives no more updates"


def _move(current: Branch, target: Branch) -> str | None:
    """How a server gets from `current`'s product to `target`'s (Microsoft's upgrade paths to Exchange SE)."""
    if current.product.id == target.product.id:
        return None
    if current.product.id == "2019" and target.product.id == "SE":
        if current.cu in ("CU14", "CU15"):
            return f"{target.product.short_name} RTM installs in place over {current.name}"
        return f"first Exchange 2019 CU14 or CU15, then {target.product.short_name} RTM in place"
    if current.product.id == "2016":
        return f"new {target.product.short_name} servers, mailboxes moved to them (no in-place upgrade from 2016)"
    if current.product.id == "2013":
        return (
            f"new {target.product.short_name} servers; {target.product.short_name} setup refuses an organisation "
            "that still has Exchange 2013, so 2013 must be removed first"
        )
    return f"a move to {target.product.name}"


class FixPlanner:
    """Works out fixes for the servers of one evaluation; the build part is worked out once per distinct build."""

    def __init__(
        self,
        rules: Iterable[Rule],
        catalogue: Catalogue,
        esu_periods: tuple[EsuPeriod, ...],
        as_of: dt.date,
        today: dt.date,
    ) -> None:
        from .conditions import KINDS

        self._kinds = KINDS
        rules = tuple(rules)
        self.must = tuple(r for r in rules if r.kind in MUST_KINDS)
        self.latest = tuple(r for r in rules if r.kind == LATEST_KIND)
        self.by_kind = {r.id: r.kind for r in rules}
        self.catalogue = catalogue
        self.esu_periods = esu_periods
        self.as_of = as_of
        self.today = today
        self._entries = sorted(
            ((e, b) for b in catalogue.branches if not b.product.legacy for e in b.builds),
            key=lambda p: p[0].version,
        )
        self._parts: dict[tuple[str | None, str | None, bool], Fix] = {}
        self._fixes: dict[tuple[int, tuple[str, ...]], Fix] = {}
        self._clears: dict[tuple[object, bool], tuple[bool, str | None, tuple[Rule, Mapping[str, str]] | None]] = {}

    # --- the build to install ----------------------------------------------------------------------------------

    def _context(self, server: ServerRecord, build: ResolvedBuild | None) -> Context:
        return Context(
            server=server,
            org=OrgInfo(name=""),
            build=build,
            build_error=None,
            catalogue=self.catalogue,
            esu_periods=self.esu_periods,
            as_of=self.as_of,
            today=self.today,
        )

    def _judge(
        self, ctx: Context, rules: tuple[Rule, ...]
    ) -> tuple[bool, str | None, tuple[Rule, Mapping[str, str]] | None]:
        """(clears every rule, ESU caveat, first rule failed with its facts)."""
        caveat = None
        for rule in rules:
            outcome = self._kinds[rule.kind].judge(ctx, rule.params)
            if outcome.verdict in (Verdict.PASS, Verdict.NOT_APPLICABLE):
                continue
            downgraded = outcome.severity is not None and outcome.severity.rank < Severity.ERROR.rank
            if outcome.verdict is Verdict.FAIL and rule.kind == "product_support" and downgraded:
                esu = ctx.esu_for(ctx.branch) if ctx.branch else None
                if esu is not None:
                    caveat = f"{ctx.branch.name if ctx.branch else ''} updates need a paid {esu.name} (until {esu.end})"
                continue
            return False, None, (rule, outcome.facts)
        return True, caveat, None

    def _entry_clears(
        self, entry: BuildEntry, server: ServerRecord
    ) -> tuple[bool, str | None, tuple[Rule, Mapping[str, str]] | None]:
        key = (entry.version, server.is_edge)
        found = self._clears.get(key)
        if found is None:
            record = ServerRecord(name=server.name, is_edge=server.is_edge, exsetup_version=str(entry.version),
                                  build_source=BuildSource.EXSETUP)  # fmt: skip
            resolved = self.catalogue.resolve(parse_build(str(entry.version)))
            found = self._clears[key] = self._judge(self._context(record, resolved), self.must)
        return found

    def build_part(self, server: ServerRecord, build: ResolvedBuild | None) -> Fix:
        key = (server.build_string, server.build_source.value if server.build_source else None, server.is_edge)
        part = self._parts.get(key)
        if part is None:
            part = self._parts[key] = self._build_part(server, build)
        return part

    def _build_part(self, server: ServerRecord, build: ResolvedBuild | None) -> Fix:
        if build is None or build.resolution is Resolution.UNKNOWN_PRODUCT:
            return Fix(note="the build is not known, so no update can be named: read it from ExSetup.exe")
        cu_only = build.parsed.precision is Precision.CU
        if not cu_only:
            ok, caveat, _ = self._judge(self._context(server, build), self.must)
            if ok:
                return self._latest_part(server, build, caveat)
        own = build.branch
        if cu_only and own is not None:
            ok, caveat, _ = self._entry_clears(own.rtm, server)
            if ok:  # every update of the CU clears the must rules: only the newest update is left to name
                newest, confirmed = self._newest(own, own.rtm.version)
                note = f"only the CU is known ({build.name}): the server may already run it"
                return Fix(build=newest, confirmed=confirmed, caveat=caveat, note=note if newest else None)
        floor = own.rtm.version if cu_only and own is not None else build.parsed.version
        home = build.product.id if build.product else None
        for entry, branch in self._entries:
            if entry.version < floor:
                continue
            ok, caveat, _ = self._entry_clears(entry, server)
            if not ok or (caveat is not None and branch.product.id != home):
                continue  # nobody moves to a product that is out of support, paid ESU or not
            chosen = _fix_build(entry, branch.product.short_name)
            newest, confirmed = self._newest(branch, entry.version)
            cu_note = f"only the CU is known ({build.name}): the server may already run {chosen.name} or newer"
            return Fix(
                build=chosen,
                newest=newest,
                confirmed=confirmed,
                path=self._path(build, branch, server),
                caveat=caveat,
                note=cu_note if cu_only and branch is build.branch else None,
            )
        return Fix(note=f"no build in the rules (as of {self.as_of}) clears every build rule")

    def _latest_part(self, server: ServerRecord, build: ResolvedBuild, caveat: str | None) -> Fix:
        """The server clears every must rule: only the latest-update rule may still want a newer update."""
        branch = build.branch
        if branch is None or not self.latest or build.parsed.version >= branch.latest.version:
            return Fix(caveat=caveat)
        latest_ok, _, _ = self._judge(self._context(server, build), self.latest)
        if latest_ok:
            return Fix(caveat=caveat)
        newest, confirmed = self._newest(branch, build.parsed.version)
        if newest is None:
            return Fix(caveat=caveat)
        return Fix(build=newest, confirmed=confirmed, caveat=caveat)

    def _newest(self, branch: Branch, above: object) -> tuple[FixBuild | None, FixBuild | None]:
        """The newest update of `branch` when it is above `above`, and, when only third parties report it, the
        newest one Microsoft confirmed (also above `above`)."""
        latest = branch.latest
        if latest.version <= above:  # type: ignore[operator]
            return None, None
        confirmed = None
        if not latest.verified:
            known = [e for e in branch.builds if e.verified and e.version > above]  # type: ignore[operator]
            if known and known[-1] is not latest:
                confirmed = _fix_build(known[-1], branch.product.short_name)
        return _fix_build(latest, branch.product.short_name), confirmed

    def _path(self, build: ResolvedBuild, target: Branch, server: ServerRecord) -> str | None:
        current = build.branch
        if current is None or current is target:
            return None
        record = dataclasses.replace(server, exsetup_version=str(current.latest.version),
                                     build_source=BuildSource.EXSETUP)  # fmt: skip
        resolved = self.catalogue.resolve(parse_build(str(current.latest.version)))
        _, _, failed = self._judge(self._context(record, resolved), self.must)
        why = _why_not(failed[0], current, failed[1]) if failed else f"{current.name} is not enough"
        move = _move(current, target)
        return f"{why}; {move}" if move else why

    # --- the whole fix --------------------------------------------------------------------------------------------

    def fix(self, server: ServerRecord, build: ResolvedBuild | None, findings: Iterable[Finding]) -> Fix:
        actions = self.actions(server, findings)
        part = self.build_part(server, build)
        if not actions:
            return part
        key = (id(part), actions)
        fix = self._fixes.get(key)
        if fix is None:  # interned: servers with the same build and actions share one Fix (renderers reuse it)
            fix = self._fixes[key] = dataclasses.replace(part, actions=actions)
        return fix

    def actions(self, server: ServerRecord, findings: Iterable[Finding]) -> tuple[str, ...]:
        """What to do besides installing a build, most urgent first."""
        failed = {self.by_kind.get(f.rule_id): f for f in findings if f.verdict is Verdict.FAIL}
        out = []
        status = server.collection.status
        if "collection" in failed and status not in (CollectionStatus.OK, CollectionStatus.PARTIAL):
            reason = _cut(server.collection.reason or "no reason recorded")
            out.append(f"make the server reachable for the scan ({status.value.replace('_', ' ')}: {reason})")
        if "eems_service" in failed:
            if server.service_collected and server.service is None:
                out.append("repair the Exchange installation: the MSExchangeMitigation service is not installed")
            else:
                out.append("start MSExchangeMitigation and set it to Automatic")
        if "eems_enabled" in failed:
            if server.eems.enabled is False:
                out.append(f"switch EEMS on for the server (Set-ExchangeServer -Identity {server.name} "
                           "-MitigationsEnabled $true)")  # fmt: skip
            else:
                out.append("switch EEMS on for the organisation (Set-OrganizationConfig -MitigationsEnabled $true)")
        if "mitigations_blocked" in failed and server.eems.blocked:
            out.append(f"unblock {', '.join(server.eems.blocked)} unless it was blocked on purpose")
        if "ocs_probe" in failed:
            out.append("let the server reach officeclient.microsoft.com on TCP 443 through its proxy")
        if status is CollectionStatus.PARTIAL and "collection" in failed:
            out.append(f"scan it again: only part was collected ({_cut(server.collection.reason or 'no reason')})")
        return tuple(out)



def _cut(text: str, limit: int = 120) -> str:
    """A collected reason, folded to one line and cut: a fix names the problem, the section quotes it whole."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
