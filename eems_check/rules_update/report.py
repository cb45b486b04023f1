"""`format_diff`: what an import found, as text for the terminal.

Sections: the source and the rules compared; added (+), changed (~), conflicting (!), to review (?); counts of
unchanged builds and of builds only the rules have; rows left out with the reason; and what was written.
"""

from __future__ import annotations

from collections import Counter

from ..builds import BuildEntry
from .compare import Item
from .model import REJECTED, SKIP_LEGACY, SKIP_PREVIEW, SKIP_PRODUCT, Note
from .update import UpdateResult

_GROUPED = {
    SKIP_LEGACY: "Exchange 2010 and older (not in the rules)",
    SKIP_PREVIEW: "pre-release builds",
    SKIP_PRODUCT: "products the rules do not know",
}
_EXAMPLES = 6


def format_diff(result: UpdateResult, *, verbose: bool = False) -> str:
    """The import's findings as text; `verbose` lists every build only the rules have."""
    doc, c, base = result.source, result.comparison, result.base
    names = {p.id: p.short_name for p in base.catalogue.products}
    rows = result.interpretation.rows
    stated = f"; page last updated {doc.stated_date}" if doc.stated_date else ""
    lines = [
        f"Source: {doc.path} ({doc.description})",
        f"  SHA-256 {doc.sha256}; {len(doc.rows)} rows, {len(rows)} of Exchange 2013/2016/2019/SE{stated}",
        f"Rules: version {base.rules_version}, as of {base.as_of}, {base.build_count} builds",
        "",
    ]

    def show(item: Item) -> str:
        return f"{names.get(item.row.product, item.row.product)} {item.label}"

    width = max((len(show(i)) for i in c.items), default=0)
    sections = (("+", "Added", c.added), ("~", "Changed", c.changed), ("!", "Conflicting", c.conflicting))
    for mark, title, items in sections:
        lines.append(f"{title}: {len(items)}")
        for item in items:
            lines.append(f"  {mark} {show(item):{width}}  {item.row.build:14} {_item_text(item)}")
    review = [i for i in c.items if i.flags]
    if review:
        lines.append(f"To review: {len(review)}")
        for item in review:
            lines.append(f"  ? {show(item):{width}}  {item.row.where.short}: {'; '.join(item.flags)}")
    lines.append(f"Unchanged: {len(c.unchanged)}")
    lines.extend(_only_in_rules(c.only_in_rules, names, verbose))
    lines.extend(_left_out([*result.interpretation.notes, *c.notes]))
    long_rows = sum(r.long_spelling for r in rows)
    if long_rows:
        lines.append(f"Long spelling: {_n(long_rows, 'build')} written like 15.02.1748.043, read as 15.2.1748.43")
    if c.changed and result.as_of is not None and result.as_of < base.as_of:
        lines.append(
            f"Caution: the source's newest date is {result.as_of}, older than the rules (as of {base.as_of}); "
            "changed rows would replace what the rules say, so check that the source is current"
        )
    lines.append("")
    lines.append(_outcome(result))
    return "\n".join(lines)


def _item_text(item: Item) -> str:
    if item.base is None and not item.details:
        return f"{item.row.released}  {item.row.kind}" + (f"  {item.row.kb}" if item.row.kb else "")
    return "; ".join(item.details)


def _only_in_rules(entries: tuple[BuildEntry, ...], names: dict[str, str], verbose: bool) -> list[str]:
    if not entries:
        return []
    shown = entries if verbose else entries[-_EXAMPLES:]
    listed = ", ".join(f"{names.get(e.product, e.product)} {e.label} {e.version}" for e in shown)
    more = "" if verbose or len(entries) <= _EXAMPLES else f" (the newest {_EXAMPLES}; -v lists all)"
    return [f"Only in the rules: {len(entries)} builds the source does not list{more}: {listed}"]


def _left_out(notes: list[Note]) -> list[str]:
    if not notes:
        return []
    lines = [f"Left out: {_n(len(notes), 'row')}"]
    grouped = Counter(n.category for n in notes if n.category in _GROUPED)
    for category, count in sorted(grouped.items()):
        lines.append(f"  - {_n(count, 'row')}: {_GROUPED[category]}")
    for note in notes:
        if note.category in _GROUPED:
            continue
        where = note.where.short if note.where else "?"
        label = "rejected, " if note.category == REJECTED else ""
        lines.append(f"  - {where}: {label}{note.name!r}: {note.reason}")
    return lines


def _outcome(result: UpdateResult) -> str:
    c = result.comparison
    if result.text is None:
        if c.items:
            return "Nothing written: no row could be written (see above)."
        return "Nothing written: the rules already have every build the source lists."
    flagged = f", {_n(len(c.rewritten), 'rules row')} flagged" if c.rewritten else ""
    counts = (
        f"{_n(len(c.out_rows), 'row')} ({len(c.added)} added, {len(c.changed)} changed, "
        f"{len(c.conflicting)} conflicting{flagged})"
    )
    if not result.written:
        return f"Dry run: would write {result.output}: {counts}."
    return (
        f"Wrote {result.output}: {counts}; rules version {result.rules_version}, as of {result.as_of}. "
        f"Use it with --rules {result.output}"
    )


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
