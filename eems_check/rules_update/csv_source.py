"""Rows of `ExchangeBuildNumbers.csv` from microsoft/Get-ExchangeBuildNumber.

The header is `Product Name,Build Number,Date,KB,Blog`; rows look like
`Exchange 2019 CU15 Feb26SU,15.2.1748.43,2/10/2026,KB5074993,https://techcommunity...`. Some builds use the long
zero-padded spelling (`15.00.1497.002`), dates are US order (`M/D/YYYY`), the file has CRLF line ends. Column
names are matched without regard to case, spaces or underscores; extra columns are ignored.
"""

from __future__ import annotations

import csv
import io

from .errors import SourceColumnError
from .model import Location, RawRow

_COLUMNS = {
    "name": ("productname", "product", "name"),
    "build": ("buildnumber", "build"),
    "date": ("date", "releasedate", "released"),
    "kb": ("kb",),
    "post": ("blog", "releasepost"),
}
_SHOWN = {"name": "Product Name", "build": "Build Number", "date": "Date"}


def _key(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum())


def read_csv_rows(text: str, file: str) -> tuple[RawRow, ...]:
    """Split the CSV into raw rows; raise SourceColumnError when a required column is missing."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str] | None = None
    columns: dict[str, int] = {}
    rows: list[RawRow] = []
    last_line = 0
    for record in reader:
        row, last_line = last_line + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if header is None:
            if record[0].startswith("#TYPE"):  # PowerShell's Export-Csv type line
                continue
            header = record
            columns = _map_columns(header, file, row)
            continue
        rows.append(_raw_row(record, columns, Location(file, row)))
    if header is None:
        raise SourceColumnError(f"{file}: row 1: no header row (expected {', '.join(_SHOWN.values())}, KB, Blog)")
    return tuple(rows)


def _map_columns(header: list[str], file: str, row: int) -> dict[str, int]:
    keys = [_key(h) for h in header]
    columns: dict[str, int] = {}
    for role, names in _COLUMNS.items():
        for name in names:
            if name in keys:
                columns[role] = keys.index(name)
                break
    missing = [_SHOWN[r] for r in _SHOWN if r not in columns]
    if missing:
        found = ", ".join(h.strip() for h in header if h.strip()) or "nothing"
        plural = "s" if len(missing) > 1 else ""
        raise SourceColumnError(
            f"{file}: row {row}: missing column{plural} {', '.join(repr(m) for m in missing)} (found: {found}); "
            "expected Microsoft's ExchangeBuildNumbers.csv"
        )
    return columns


def _raw_row(record: list[str], columns: dict[str, int], where: Location) -> RawRow:
    def cell(role: str) -> str:
        index = columns.get(role)
        return record[index].strip() if index is not None and index < len(record) else ""

    needed = max(columns[r] for r in _SHOWN) + 1
    problem = None
    if len(record) < needed:
        problem = f"only {len(record)} field{'s' if len(record) != 1 else ''}, the header has {needed} or more"
    return RawRow(
        where,
        cell("name"),
        cell("build"),
        cell("date"),
        kb=cell("kb") or None,
        release_post=cell("post") or None,
        problem=problem,
    )
