"""`update_rules`: read a downloaded build list, compare it with the rules in force, write the override file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from ..builds import parse_date
from ..ruleset import RuleSet
from .compare import Comparison, compare
from .errors import OutputExistsError
from .interpret import interpret
from .model import Interpretation, SourceDoc, SourceRow
from .reader import read_source
from .writer import check_text, render, write_override


@dataclass(frozen=True)
class UpdateResult:
    """Everything an import found, and what it wrote."""

    source: SourceDoc
    interpretation: Interpretation
    comparison: Comparison
    base: RuleSet
    as_of: dt.date | None  # of the override: the source's stated date, at least its newest release date
    rules_version: str | None  # import-YYYYMMDD
    output: Path | None  # where the override goes (or would go: dry run)
    text: str | None  # the override's text; None when there is nothing to write
    written: bool

    @property
    def up_to_date(self) -> bool:
        return self.text is None


def default_output(as_of: dt.date) -> Path:
    """`rules-import-YYYYMMDD.yaml` in the current directory."""
    return Path(f"rules-import-{as_of:%Y%m%d}.yaml")


def newest_release(rows: tuple[SourceRow, ...]) -> dt.date | None:
    return max((parse_date(r.released)[0] for r in rows), default=None)


def update_rules(
    source: Path,
    *,
    base: RuleSet,
    output: Path | None = None,
    force: bool = False,
    write: bool = True,
    strict: bool = True,
) -> UpdateResult:
    """Import `source` (Microsoft's ExchangeBuildNumbers.csv or a saved Learn page) against `base`.

    Writes an override with the added, changed and conflicting builds to `output` (default
    `rules-import-YYYYMMDD.yaml`) unless `write` is False or nothing differs. `strict=False` leaves malformed
    rows out (reported in the result) instead of raising. Raises InputError subclasses (exit code 2) for bad
    input or an existing output without `force`, RunError when the file cannot be written.
    """
    if write and output is not None and output.exists() and not force:
        raise OutputExistsError(f"{output}: the file exists; use --force to replace it")
    doc = read_source(source)
    interp = interpret(doc, base.catalogue, strict=strict)
    comparison = compare(interp, base)
    newest = newest_release(interp.rows)
    dates = [d for d in (doc.stated_date, newest) if d is not None]
    as_of = max(dates) if dates else None
    rules_version = f"import-{as_of:%Y%m%d}" if as_of else None
    text = target = None
    written = False
    if comparison.out_rows and as_of is not None and rules_version is not None:
        text = render(doc, comparison, base=base, as_of=as_of, rules_version=rules_version)
        target = output or default_output(as_of)
        if write:
            write_override(text, target, base=base, rows=comparison.out_rows, force=force)
            written = True
        else:
            check_text(text, base=base, rows=comparison.out_rows, shown=target)
    return UpdateResult(doc, interp, comparison, base, as_of, rules_version, target, text, written)
