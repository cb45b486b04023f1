"""Compare the imported rows with the rules in force and plan the override file.

Categories, by build number (the key builds merge by):

* **added**: a build the rules do not have;
* **changed**: a build the rules have under another label, release date or kind, or marked unverified;
* **conflicting**: a new build whose label the rules (or the source itself) give to a different build. Both are
  kept and flagged, like the 2016 CU8/CU9 Mar21SU cases; a CU or RTM build cannot have two rows, so a
  conflicting CU row is reported but not written;
* **unchanged**: everything else. Rows that cannot be placed on a CU line are left out with a note.

The CU part of an update's label comes from the rules' CU line for the build (or the source's own CU row for a
new line), so `2019 CU15` stays `CU15` whatever the source calls it; a disagreement is flagged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

from packaging.version import Version

from ..builds import BuildEntry, Catalogue, parse_date
from ..ruleset import RuleSet
from .model import SKIP_DUPLICATE, SKIP_LINE, Interpretation, Note, SourceRow

HEAD_KINDS = ("RTM", "CU")


@dataclass(frozen=True)
class OutRow:
    """A `builds:` row of the override file."""

    product: str
    label: str
    build: str
    released: str
    kind: str
    verified: bool = True
    conflict: str | None = None
    comment: str | None = None
    kb: str | None = None
    release_post: str | None = None

    @property
    def version(self) -> Version:
        return Version(self.build)


@dataclass(frozen=True)
class Item:
    """One source row in a category: what the rules say, what changes, and what gets written."""

    row: SourceRow
    label: str
    base: BuildEntry | None = None  # the rules' row for the same build (changed)
    details: tuple[str, ...] = ()  # what differs, or what conflicts
    flags: tuple[str, ...] = ()  # reasons to review
    out: OutRow | None = None  # the row written; None when only reported


@dataclass(frozen=True)
class Comparison:
    added: tuple[Item, ...]
    changed: tuple[Item, ...]
    conflicting: tuple[Item, ...]
    unchanged: tuple[SourceRow, ...]
    only_in_rules: tuple[BuildEntry, ...]
    notes: tuple[Note, ...]
    rewritten: tuple[OutRow, ...]  # rules rows written again to carry a conflict note

    @property
    def items(self) -> tuple[Item, ...]:
        return self.added + self.changed + self.conflicting

    @property
    def out_rows(self) -> tuple[OutRow, ...]:
        rows = [i.out for i in self.items if i.out is not None] + list(self.rewritten)
        return tuple(sorted(rows, key=lambda r: (r.product, r.version)))

    @property
    def flagged(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.flags and i.out is not None)


def compare(interp: Interpretation, base: RuleSet) -> Comparison:
    """Sort the source's rows into added, changed, conflicting and unchanged against `base`."""
    catalogue = base.catalogue
    source = interp.doc.path.name
    known = {e.version: e for b in catalogue.branches for e in b.builds}
    rules_labels: dict[tuple[str, str], list[BuildEntry]] = defaultdict(list)
    for known_entry in known.values():
        rules_labels[(known_entry.product, known_entry.label)].append(known_entry)

    notes: list[Note] = []
    rows = _first_listings(interp.rows, notes)
    heads: dict[tuple[int, int, int], SourceRow] = {}
    for row in rows:
        if row.kind in HEAD_KINDS:
            heads.setdefault(row.line_key, row)
    planned: list[tuple[SourceRow, str, tuple[str, ...]]] = []
    for row in rows:
        placed = _place(row, catalogue, heads)
        if isinstance(placed, Note):
            notes.append(placed)
        else:
            planned.append((row, *placed))
    source_labels: dict[tuple[str, str], list[SourceRow]] = defaultdict(list)
    for row, label, _ in planned:
        if row.version not in known:
            source_labels[(row.product, label)].append(row)

    added: list[Item] = []
    changed: list[Item] = []
    conflicting: list[Item] = []
    unchanged: list[SourceRow] = []
    rewrites: dict[Version, tuple[BuildEntry, list[str]]] = {}
    for row, label, flags in planned:
        entry = known.get(row.version)
        if entry is not None:
            item = _existing(row, label, flags, entry, source)
            if item is None:
                unchanged.append(row)
            else:
                changed.append(item)
            continue
        rivals = [e for e in rules_labels.get((row.product, label), []) if e.version != row.version]
        twins = [r for r in source_labels[(row.product, label)] if r is not row]
        line = catalogue.branch_for(row.line_key)
        if row.kind in HEAD_KINDS and (line is not None or rivals or twins):
            conflicting.append(_head_conflict(row, label, flags, line.rtm if line else None, rivals, twins))
        elif rivals or twins:
            conflicting.append(_conflict(row, label, flags, rivals, twins, source))
            for rival in rivals:
                rewrites.setdefault(rival.version, (rival, []))[1].append(f"{source} lists {row.build}")
        else:
            out = OutRow(
                row.product,
                label,
                row.build,
                row.released,
                row.kind,
                kb=row.kb,
                release_post=row.release_post,
                comment=_review(flags),
            )
            added.append(Item(row, label, flags=flags, out=out))

    added, conflicting = _drop_orphans(added, conflicting, catalogue, notes)
    seen = {r.version for r in interp.rows}
    products = {r.product for r in interp.rows}
    only = tuple(
        sorted(
            (e for e in known.values() if e.version not in seen and e.product in products),
            key=lambda e: (e.released, e.product, e.version),
        )
    )
    rewritten = _fold_rewrites(rewrites, changed)
    return Comparison(tuple(added), tuple(changed), tuple(conflicting), tuple(unchanged), only, tuple(notes), rewritten)


def _drop_orphans(
    added: list[Item], conflicting: list[Item], catalogue: Catalogue, notes: list[Note]
) -> tuple[list[Item], list[Item]]:
    """Leave out updates of a new CU line whose CU row is not written (it conflicts): they would have no line."""
    heads = {i.row.line_key for i in added if i.row.kind in HEAD_KINDS}

    def keep(item: Item) -> bool:
        row = item.row
        if row.kind in HEAD_KINDS or catalogue.branch_for(row.line_key) is not None or row.line_key in heads:
            return True
        notes.append(Note(row.where, row.name, f"its CU row ({item.label.split()[0]}) is not written", SKIP_LINE))
        return False

    return [i for i in added if keep(i)], [i for i in conflicting if keep(i)]


def _first_listings(rows: tuple[SourceRow, ...], notes: list[Note]) -> list[SourceRow]:
    """The first listing of every build; later listings of the same build are left out with a note."""
    first: dict[Version, SourceRow] = {}
    kept: list[SourceRow] = []
    for row in rows:
        earlier = first.get(row.version)
        if earlier is None:
            first[row.version] = row
            kept.append(row)
            continue
        same = (earlier.cu, earlier.update, earlier.released) == (row.cu, row.update, row.released)
        reason = (
            f"build {row.build} is listed again (as at {earlier.where.short})"
            if same
            else f"build {row.build} is listed again with other facts; the first listing ({earlier.where.short}: "
            f"{earlier.name}, {earlier.released}) is used"
        )
        notes.append(Note(row.where, row.name, reason, SKIP_DUPLICATE))
    return kept


def _place(
    row: SourceRow, catalogue: Catalogue, heads: dict[tuple[int, int, int], SourceRow]
) -> tuple[str, tuple[str, ...]] | Note:
    """The row's label in the rules' terms and its review flags, or a Note when it has no CU line."""
    line = ".".join(str(p) for p in row.line_key)
    if row.kind in HEAD_KINDS:
        if row.cu is None:
            return Note(row.where, row.name, "the name has neither a CU nor an update", SKIP_LINE)
        return row.cu, row.flags
    branch = catalogue.branch_for(row.line_key)
    if branch is not None:
        cu, head, owner = branch.cu, branch.rtm.version, "the rules"
    elif row.line_key in heads:
        cu, head, owner = heads[row.line_key].cu or "", heads[row.line_key].version, "the source"
    else:
        reason = f"its CU line {line} is in neither the rules nor the source (no CU row for it)"
        return Note(row.where, row.name, reason, SKIP_LINE)
    if row.version <= head:
        return Note(row.where, row.name, f"build {row.build} is not above its CU build {head}", SKIP_LINE)
    flags = row.flags
    if row.cu is not None and row.cu != cu:
        flags += (f"the source says {row.cu}, but CU line {line} is {cu} in {owner}",)
    elif row.cu is None:
        flags += (f"the name has no CU; CU line {line} is {cu} in {owner}",)
    return f"{cu} {row.update}", flags


def _existing(row: SourceRow, label: str, flags: tuple[str, ...], entry: BuildEntry, source: str) -> Item | None:
    """A changed Item for a build the rules have, or None when nothing differs."""
    details: list[str] = []
    new_label, new_kind, new_released = entry.label, entry.kind, entry.released_text
    write = True
    if label != entry.label and row.derived:
        if row.kind in HEAD_KINDS or entry.kind in HEAD_KINDS:
            details.append(f"label {entry.label} -> {label} (not written: renaming a CU line would orphan its updates)")
            write = False
        else:
            details.append(f"label {entry.label} -> {label}")
            new_label, new_kind = label, row.kind
    elif row.kind != entry.kind and row.derived and entry.kind not in HEAD_KINDS:
        details.append(f"kind {entry.kind} -> {row.kind}")
        new_kind = row.kind
    date_change = _date_change(row.released, entry)
    if date_change:
        details.append(date_change)
        new_released = row.released
    if not entry.verified:
        details.append(f"verified: unverified in the rules, listed by {source}")
    for what, old, new in (("kb", entry.kb, row.kb), ("release post", entry.release_post, row.release_post)):
        if new and new != old:
            details.append(f"{what} {old or 'none'} -> {new}")
    if not details:
        return None
    out = None
    if write:
        comment = f"changed: {'; '.join(details)} (rules: {entry.label}, {entry.released_text})"
        out = OutRow(
            entry.product,
            new_label,
            row.build,
            new_released,
            new_kind,
            True,
            entry.conflict,
            comment,
            row.kb or entry.kb,
            row.release_post or entry.release_post,
        )
    return Item(row, new_label if write else label, entry, tuple(details), flags, out)


def _date_change(released: str, entry: BuildEntry) -> str | None:
    """A description of a different release date; a month-only date within the rules' month is no change."""
    if released == entry.released_text:
        return None
    day, approx = parse_date(released)
    if approx and (day.year, day.month) == (entry.released.year, entry.released.month):
        return None
    return f"released {entry.released_text} -> {released}"


def _conflict(
    row: SourceRow,
    label: str,
    flags: tuple[str, ...],
    rivals: list[BuildEntry],
    twins: list[SourceRow],
    source: str,
) -> Item:
    others = [f"{e.version} (rules)" for e in rivals] + [f"{r.build} ({r.where.short})" for r in twins]
    details = (f"{label}: {source} lists {row.build}; also listed as {', '.join(others)}; both kept, flagged",)
    text = f"{source} lists {row.build}; other listing(s): {', '.join(others)}"
    out = OutRow(
        row.product, label, row.build, row.released, row.kind, True, text, _review(flags), row.kb, row.release_post
    )
    return Item(row, label, None, details, flags, out)


def _head_conflict(
    row: SourceRow,
    label: str,
    flags: tuple[str, ...],
    line_head: BuildEntry | None,
    rivals: list[BuildEntry],
    twins: list[SourceRow],
) -> Item:
    others = [f"{e.label} {e.version} (rules)" for e in rivals] + [f"{r.build} ({r.where.short})" for r in twins]
    if line_head is not None:
        others.insert(0, f"{line_head.label} {line_head.version} (rules)")
    detail = f"{label} {row.build}: the rules have {', '.join(dict.fromkeys(others))} for this CU line or label"
    return Item(row, label, None, (detail + "; not written: a CU line has one CU build",), flags, None)


def _fold_rewrites(rewrites: dict[Version, tuple[BuildEntry, list[str]]], changed: list[Item]) -> tuple[OutRow, ...]:
    """Rules rows to write again with a conflict note; a row already written as changed gets the note instead."""
    rows: list[OutRow] = []
    by_version = {item.row.version: index for index, item in enumerate(changed) if item.out is not None}
    for version, (entry, texts) in rewrites.items():
        index = by_version.get(version)
        out = changed[index].out if index is not None else None
        if index is None or out is None:
            rows.append(_rewrite(entry, texts))
            continue
        conflict = "; ".join([*([out.conflict] if out.conflict else []), *texts])
        changed[index] = replace(changed[index], out=replace(out, conflict=conflict))
    return tuple(rows)


def _rewrite(entry: BuildEntry, texts: list[str]) -> OutRow:
    """The rules' own row, written again with a conflict note so both rows are flagged."""
    conflict = "; ".join([*([entry.conflict] if entry.conflict else []), *texts])
    return OutRow(
        entry.product,
        entry.label,
        str(entry.version),
        entry.released_text,
        entry.kind,
        entry.verified,
        conflict,
        "kept from the rules; flagged because the source lists another build for this label",
        entry.kb,
        entry.release_post,
    )


def _review(flags: tuple[str, ...]) -> str | None:
    return f"REVIEW: {'; '.join(flags)}" if flags else None
