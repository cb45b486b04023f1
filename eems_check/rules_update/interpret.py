"""Map raw rows onto the rule set's vocabulary, and decide which rows are left out and why.

A malformed row (no name, a bad build or date, too few cells, a build that is not the product its name says)
raises SourceRowError naming the row, unless `strict` is False: then it is left out with a REJECTED note.
Rows for Exchange 2010 and older, pre-release builds and products the rules do not know are left out with a
note in either mode; they are not errors in the source.
"""

from __future__ import annotations

from ..builds import Catalogue, parse_build
from .errors import SourceRowError
from .model import (
    REJECTED,
    SKIP_LEGACY,
    SKIP_PREVIEW,
    SKIP_PRODUCT,
    Interpretation,
    Note,
    RawRow,
    SourceDoc,
    SourceRow,
)
from .names import (
    Build,
    clean_text,
    kb_from,
    parse_source_build,
    parse_source_date,
    release_post_from,
    split_name,
)


class _RowProblem(ValueError):
    """A malformed row; the message is the problem without the location."""


def interpret(doc: SourceDoc, catalogue: Catalogue, *, strict: bool = True) -> Interpretation:
    """Interpret every raw row of `doc` against the products of `catalogue`."""
    rows: list[SourceRow] = []
    notes: list[Note] = []
    for raw in doc.rows:
        try:
            outcome = interpret_row(raw, catalogue)
        except _RowProblem as exc:
            if strict:
                raise SourceRowError(f"{raw.where}: {exc}") from None
            notes.append(Note(raw.where, raw.name, str(exc), REJECTED))
            continue
        if isinstance(outcome, Note):
            notes.append(outcome)
        else:
            rows.append(outcome)
    return Interpretation(doc, tuple(rows), tuple(notes))


def interpret_row(raw: RawRow, catalogue: Catalogue) -> SourceRow | Note:
    """One row as a SourceRow, or a Note saying why it is left out; raise _RowProblem when malformed."""
    if raw.problem:
        raise _RowProblem(raw.problem)
    name = clean_text(raw.name)
    if not name:
        raise _RowProblem("no product name")
    parts = split_name(name, raw.heading)
    if parts.legacy:
        return Note(raw.where, name, f"{parts.legacy} is older than Exchange 2013 and not in the rules", SKIP_LEGACY)
    if parts.unknown_product:
        return Note(raw.where, name, f"{parts.unknown_product} is not a product in the rules", SKIP_PRODUCT)
    if parts.product is None:
        raise _RowProblem(f"cannot tell the Exchange version from the name {name!r}")
    if parts.preview:
        return Note(raw.where, name, "a pre-release build; the rules list released builds only", SKIP_PREVIEW)
    build = _build(raw)
    try:
        released = parse_source_date(raw.date) if raw.date.strip() else ""
    except ValueError as exc:
        raise _RowProblem(str(exc)) from None
    if not released:
        raise _RowProblem("no release date")
    product = next((p for p in catalogue.products if p.id == parts.product and not p.legacy), None)
    if product is None:
        return Note(raw.where, name, f"product {parts.product!r} is not in the rules", SKIP_PRODUCT)
    expected = catalogue.product_for(parse_build(build.short))
    if expected is None or expected.id != product.id:
        other = f"; it is {expected.name}" if expected is not None else ""
        raise _RowProblem(f"build {build.short} is not {product.name}{other} (name {name!r})")
    flags = [f"left out {e!r} of the source name" for e in parts.extra]
    if not parts.derived:
        flags.append(f"update name not derived from {name!r}; the source's wording is kept")
    return SourceRow(
        where=raw.where,
        name=name,
        product=product.id,
        cu=parts.cu,
        update=parts.update_token,
        derived=parts.derived,
        kind=parts.kind,
        build=build.short,
        version=build.version,
        released=released,
        long_spelling=build.long_spelling,
        kb=kb_from(raw.kb),
        release_post=release_post_from(raw.release_post),
        flags=tuple(flags),
    )


def _build(raw: RawRow) -> Build:
    """The row's build from the short column, checked against the long column when the source has both."""
    short = long = None
    try:
        if raw.build.strip():
            short = parse_source_build(raw.build)
        if raw.long_build.strip():
            long = parse_source_build(raw.long_build)
    except ValueError as exc:
        raise _RowProblem(str(exc)) from None
    if short is None and long is None:
        raise _RowProblem("no build number")
    if short is not None and long is not None and short.version != long.version:
        raise _RowProblem(f"the short build {raw.build!r} and the long build {raw.long_build!r} differ")
    chosen = short or long
    assert chosen is not None
    return chosen
