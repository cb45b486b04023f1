"""Rows of a saved copy of the Learn page "Exchange Server build numbers and release dates".

The page has one section per product (`<h2>Exchange Server SE</h2>`, `Exchange Server 2019`, ... `Exchange Server
2010` with `<h3>` subsections), each with a table whose header row is `Product name | Release date | Build
number<br>(short format) | Build number<br>(long format)`. Rows are `<tr><td>&nbsp;&nbsp;&nbsp;<a href=
"https://support.microsoft.com/help/5081755">Exchange Server SE RTM May26HU</a></td><td>May 7, 2026</td>
<td>15.2.2562.41</td><td>15.02.2562.041</td></tr>`; SU rows are indented with no-break spaces, old tables have
empty separator rows. The page states its date as `<meta name="ms.date" content="05/29/2026">` and
"Last updated on 05/29/2026". Parsed with the standard library's `html.parser`; tables without a Product name
and a Build number column are not build tables and are ignored.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from .errors import SourceColumnError, SourceFormatError
from .model import Location, RawRow
from .names import clean_text, kb_from

_HEADINGS = ("h1", "h2", "h3", "h4")


@dataclass
class _Cell:
    header: bool
    text: list[str] = field(default_factory=list)
    href: str | None = None

    @property
    def value(self) -> str:
        return clean_text(" ".join(self.text))


@dataclass
class _Row:
    line: int
    in_head: bool
    cells: list[_Cell] = field(default_factory=list)


@dataclass
class _Table:
    number: int
    line: int
    title: str | None
    rows: list[_Row] = field(default_factory=list)
    row: _Row | None = None
    cell: _Cell | None = None
    in_head: bool = False

    def close_cell(self) -> None:
        self.cell = None

    def close_row(self) -> None:
        self.close_cell()
        if self.row is not None:
            self.rows.append(self.row)
        self.row = None


class _PageParser(HTMLParser):
    """Collects tables (with the heading above each), headings, the page's stated dates and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[_Table] = []
        self._open: list[_Table] = []
        self._heading: list[str] | None = None
        self._heading_tag = ""
        self.section: str | None = None  # the last <h2>
        self.subsection: str | None = None  # the last <h3>/<h4> under it
        self.page_title: str | None = None
        self.meta: dict[str, str] = {}
        self.article_dates: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k.lower(): v or "" for k, v in attrs}
        table = self._open[-1] if self._open else None
        if tag in _HEADINGS and table is None:
            self._heading, self._heading_tag = [], tag
        elif tag == "table":
            title = self.subsection or self.section or self.page_title
            self._open.append(_Table(len(self.tables) + 1, self.getpos()[0], title))
            self.tables.append(self._open[-1])
        elif table is None:
            self._page_tag(tag, a)
        elif tag == "thead":
            table.in_head = True
        elif tag in ("tbody", "tfoot"):
            table.in_head = False
        elif tag == "tr":
            table.close_row()
            table.row = _Row(self.getpos()[0], table.in_head)
        elif tag in ("td", "th"):
            table.close_cell()
            if table.row is None:
                table.row = _Row(self.getpos()[0], table.in_head)
            table.cell = _Cell(header=tag == "th")
            table.row.cells.append(table.cell)
        elif tag == "br" and table.cell is not None:
            table.cell.text.append(" ")
        elif tag == "a" and table.cell is not None and table.cell.href is None:
            table.cell.href = a.get("href")

    def _page_tag(self, tag: str, a: dict[str, str]) -> None:
        if tag == "meta" and a.get("name") and a.get("content"):
            self.meta[a["name"].lower()] = a["content"]
        elif tag == "time" and "data-article-date" in a and a.get("datetime"):
            self.article_dates.append(a["datetime"])

    def handle_endtag(self, tag: str) -> None:
        table = self._open[-1] if self._open else None
        if tag in _HEADINGS and self._heading is not None and tag == self._heading_tag:
            self._end_heading(clean_text(" ".join(self._heading)))
        elif table is None:
            return
        elif tag == "table":
            table.close_row()
            self._open.pop()
        elif tag == "thead":
            table.in_head = False
        elif tag in ("td", "th"):
            table.close_cell()
        elif tag == "tr":
            table.close_row()

    def _end_heading(self, text: str) -> None:
        tag, self._heading = self._heading_tag, None
        if not text:
            return
        if tag == "h1":
            self.page_title = self.page_title or text
        elif tag == "h2":
            self.section, self.subsection = text, None
        else:
            self.subsection = text

    def handle_data(self, data: str) -> None:
        table = self._open[-1] if self._open else None
        if table is not None and table.cell is not None:
            table.cell.text.append(data)
        elif self._heading is not None:
            self._heading.append(data)
        self.text.append(data)


@dataclass(frozen=True)
class HtmlPage:
    rows: tuple[RawRow, ...]
    title: str | None
    stated_date: dt.date | None
    ignored_tables: int


def read_html_rows(text: str, file: str) -> HtmlPage:
    """Split the page's build tables into raw rows; raise when there are none or one lacks a required column."""
    parser = _PageParser()
    parser.feed(text)
    parser.close()
    rows: list[RawRow] = []
    build_tables = 0
    for table in parser.tables:
        table_rows = _table_rows(table, file)
        if table_rows is None:
            continue
        build_tables += 1
        rows.extend(table_rows)
    if not build_tables:
        raise SourceFormatError(
            f"{file}: no build table found (expected the Learn page 'Exchange Server build numbers and release "
            "dates' with tables of Product name, Release date and Build number)"
        )
    return HtmlPage(tuple(rows), parser.page_title, _stated_date(parser), len(parser.tables) - build_tables)


def _columns(header: list[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for index, text in enumerate(header):
        h = text.lower()
        if "product" in h or h == "name":
            columns.setdefault("name", index)
        elif "date" in h:
            columns.setdefault("date", index)
        elif "build" in h and "long" in h:
            columns.setdefault("long", index)
        elif "build" in h:
            columns.setdefault("build", index)
    return columns


def _table_rows(table: _Table, file: str) -> list[RawRow] | None:
    """The table's data rows, or None when it is not a build table."""
    head_index = next(
        (i for i, r in enumerate(table.rows) if r.in_head or (r.cells and all(c.header for c in r.cells))), None
    )
    if head_index is None:
        return None
    header = [c.value for c in table.rows[head_index].cells]
    columns = _columns(header)
    if "name" not in columns or not ({"build", "long"} & columns.keys()):
        return None
    if "date" not in columns:
        raise SourceColumnError(
            f"{file}: table {table.number} ({table.title or 'untitled'}), line {table.rows[head_index].line}: "
            f"missing column 'Release date' (found: {', '.join(h for h in header if h) or 'nothing'})"
        )
    needed = max(columns.values()) + 1
    rows: list[RawRow] = []
    number = 0
    for row in table.rows[head_index + 1 :]:
        if row.in_head or (row.cells and all(c.header for c in row.cells)):
            continue
        number += 1
        if not any(c.value for c in row.cells):
            continue  # the empty separator rows of the older tables
        where = Location(file, number, row.line, table.number, table.title)

        def cell(role: str, row: _Row = row) -> _Cell | None:
            index = columns.get(role)
            return row.cells[index] if index is not None and index < len(row.cells) else None

        name, date, short, long = (cell(r) for r in ("name", "date", "build", "long"))
        problem = None
        if len(row.cells) < needed:
            problem = f"only {len(row.cells)} cell{'s' if len(row.cells) != 1 else ''}, the table has {needed}"
        rows.append(
            RawRow(
                where,
                name.value if name else "",
                short.value if short else "",
                date.value if date else "",
                long_build=long.value if long else "",
                kb=kb_from(name.href) if name else None,
                heading=table.title,
                problem=problem,
            )
        )
    return rows


_LAST_UPDATED = re.compile(r"last\s+updated\s*(?:on)?\s*:?\s*(\d{1,2}/\d{1,2}/\d{4}|\d{4}-\d{2}-\d{2})", re.IGNORECASE)


def _stated_date(parser: _PageParser) -> dt.date | None:
    """The date the page says it was last updated: ms.date, the article date, "Last updated on", updated_at."""
    candidates = [parser.meta.get("ms.date", ""), *parser.article_dates]
    m = _LAST_UPDATED.search(clean_text(" ".join(parser.text)))
    if m:
        candidates.append(m.group(1))
    candidates.append(parser.meta.get("updated_at", ""))
    for value in candidates:
        day = _day(value)
        if day is not None:
            return day
    return None


def _day(value: str) -> dt.date | None:
    value = value.strip()
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", value)
    try:
        if m:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", value)
        if m:
            return dt.date(int(m.group(3)), int(m.group(1)), int(m.group(2)))
    except ValueError:
        return None
    return None
