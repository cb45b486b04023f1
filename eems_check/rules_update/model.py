"""The data passed between the stages of an import: raw rows, interpreted rows, notes, the source document."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from packaging.version import Version

CSV = "csv"
HTML = "html"


@dataclass(frozen=True)
class Location:
    """Where a row is in the source, for one-line messages."""

    file: str
    row: int  # CSV: the file's row number, header = row 1. HTML: the data row within its table, from 1.
    line: int | None = None  # HTML: the line of the <tr> in the saved page
    table: int | None = None  # HTML: the table's number on the page, from 1
    title: str | None = None  # HTML: the heading above the table ("Exchange Server 2019")

    def __str__(self) -> str:
        if self.table is None:
            return f"{self.file}: row {self.row}"
        title = f" ({self.title})" if self.title else ""
        line = f" (line {self.line})" if self.line is not None else ""
        return f"{self.file}: table {self.table}{title}, row {self.row}{line}"

    @property
    def short(self) -> str:
        """The location without the file name."""
        return str(self).split(": ", 1)[1]


@dataclass(frozen=True)
class RawRow:
    """One data row as the source wrote it, before any interpretation."""

    where: Location
    name: str
    build: str
    date: str
    long_build: str = ""  # the Learn page's "long format" column, when there is one
    kb: str | None = None
    release_post: str | None = None  # the CSV's Blog column: the post that released the build
    heading: str | None = None  # HTML: the heading above the table, used when a name lacks the product
    problem: str | None = None  # a structural problem found while reading (too few cells)


@dataclass(frozen=True)
class SourceDoc:
    """A source file read and split into rows; nothing is interpreted yet."""

    path: Path
    format: str  # CSV | HTML
    description: str  # e.g. "Get-ExchangeBuildNumber CSV"
    sha256: str
    rows: tuple[RawRow, ...]
    stated_date: dt.date | None = None  # the page's own "last updated" date, when it states one
    ignored_tables: int = 0  # HTML tables that are not build tables


@dataclass(frozen=True)
class SourceRow:
    """A row mapped onto the rule set's vocabulary (product id, CU, update, kind, short build, ISO date)."""

    where: Location
    name: str  # the source's own name for the build
    product: str  # rules product id: 2013, 2016, 2019, SE
    cu: str | None  # RTM, SP1, CU15, as the source names it (None: the name has no CU)
    update: str | None  # Feb26SU; the source's own wording when `derived` is False; None for RTM/CU rows
    derived: bool  # False: the update could not be turned into Microsoft's short name
    kind: str  # RTM | CU | SU | HU
    build: str  # short spelling, 15.2.1748.43
    version: Version
    released: str  # YYYY-MM-DD, or YYYY-MM when the source gives only the month
    long_spelling: bool = False  # the source wrote the zero-padded long spelling
    kb: str | None = None
    release_post: str | None = None  # an https:// address, or None
    flags: tuple[str, ...] = ()  # reasons to review the row

    @property
    def line_key(self) -> tuple[int, int, int]:
        r = self.version.release
        return (r[0], r[1], r[2])


SKIP_LEGACY = "legacy"
SKIP_PREVIEW = "preview"
SKIP_PRODUCT = "product"
SKIP_DUPLICATE = "duplicate"
SKIP_LINE = "cu-line"
REJECTED = "rejected"


@dataclass(frozen=True)
class Note:
    """A source row that is not imported, and why. Nothing is dropped without one."""

    where: Location | None
    name: str
    reason: str
    category: str  # one of the SKIP_* / REJECTED constants


@dataclass(frozen=True)
class Interpretation:
    """The rows of a source mapped onto the rule set, plus the rows left out."""

    doc: SourceDoc
    rows: tuple[SourceRow, ...]
    notes: tuple[Note, ...] = field(default=())

    @property
    def rejected(self) -> tuple[Note, ...]:
        return tuple(n for n in self.notes if n.category == REJECTED)
