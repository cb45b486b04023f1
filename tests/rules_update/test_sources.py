"""Reading both formats: rows, locations, formats told from the content, malformed files as one-line errors."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from eems_check.errors import InputError
from eems_check.rules_update import SourceColumnError, SourceFormatError, SourceRowError, read_source
from eems_check.rules_update.interpret import interpret
from eems_check.rules_update.model import REJECTED, SKIP_LEGACY, SKIP_PREVIEW
from eems_check.ruleset import RuleSet

from .conftest import BAD, CSV_SAMPLE, HTML_SAMPLE

# fixture, row name, product, label parts (cu, update), kind, build, released, long spelling, location
EXPECTED_ROWS = [
    (
        CSV_SAMPLE,
        "Exchange 2013 CU21 Aug18SU",
        "2013",
        ("CU21", "Aug18SU"),
        "SU",
        "15.0.1395.7",
        "2018-08",
        False,
        "row 3",
    ),
    (CSV_SAMPLE, "Exchange 2013 CU23", "2013", ("CU23", None), "CU", "15.0.1497.2", "2019-06-18", True, "row 4"),
    (
        CSV_SAMPLE,
        "Exchange 2019 CU13 (2023H1)",
        "2019",
        ("CU13", None),
        "CU",
        "15.2.1258.12",
        "2023-05-03",
        False,
        "row 9",
    ),
    (
        CSV_SAMPLE,
        "Exchange 2019 CU15 Aug26SU",
        "2019",
        ("CU15", "Aug26SU"),
        "SU",
        "15.2.1748.49",
        "2026-08-11",
        True,
        "row 11",
    ),
    (
        CSV_SAMPLE,
        "Exchange SE RTM Dec26SU",
        "SE",
        ("RTM", "Dec26SU"),
        "SU",
        "15.2.2562.57",
        "2026-12-08",
        False,
        "row 14",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server SE RTM Dec26SU",
        "SE",
        ("RTM", "Dec26SU"),
        "SU",
        "15.2.2562.57",
        "2026-12-08",
        False,
        "table 2 (Exchange Server SE), row 1 (line 46)",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server SE RTM",
        "SE",
        ("RTM", None),
        "RTM",
        "15.2.2562.17",
        "2025-07-01",
        False,
        "table 2 (Exchange Server SE), row 4 (line 64)",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server 2019 CU15 (2025H1)",
        "2019",
        ("CU15", None),
        "CU",
        "15.2.1748.10",
        "2025-02-10",
        False,
        "table 3 (Exchange Server 2019), row 2 (line 90)",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server 2016 CU23 Feb26SU",
        "2016",
        ("CU23", "Feb26SU"),
        "SU",
        "15.1.2507.66",
        "2026-02-10",
        True,
        "table 4 (Exchange Server 2016), row 1 (line 122)",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server 2013 CU23 Jul19SU",
        "2013",
        ("CU23", "Jul19SU"),
        "SU",
        "15.0.1497.3",
        "2019-07",
        False,
        "table 5 (Exchange Server 2013), row 1 (line 148)",
    ),
    (
        HTML_SAMPLE,
        "Exchange Server 2013 CU23",
        "2013",
        ("CU23", None),
        "CU",
        "15.0.1497.2",
        "2019-06-18",
        False,
        "table 5 (Exchange Server 2013), row 3 (line 160)",
    ),
]


@pytest.mark.parametrize(
    ("path", "name", "product", "label", "kind", "build", "released", "long", "where"),
    EXPECTED_ROWS,
    ids=[f"{r[0].suffix[1:]}:{r[1]}" for r in EXPECTED_ROWS],
)
def test_rows_are_read_with_product_label_build_date_and_location(
    bundled: RuleSet,
    path: Path,
    name: str,
    product: str,
    label: tuple[str, str | None],
    kind: str,
    build: str,
    released: str,
    long: bool,
    where: str,
) -> None:
    rows = {r.name: r for r in interpret(read_source(path), bundled.catalogue).rows}
    row = rows[name]
    assert (row.product, (row.cu, row.update), row.kind, row.build, row.released, row.long_spelling) == (
        product,
        label,
        kind,
        build,
        released,
        long,
    )
    assert row.where.short == where


@pytest.mark.parametrize(
    ("path", "fmt", "rows", "modern", "legacy", "preview", "stated"),
    [
        (CSV_SAMPLE, "csv", 13, 11, 1, 1, None),
        (HTML_SAMPLE, "html", 14, 11, 2, 1, dt.date(2026, 12, 10)),
    ],
    ids=["csv", "html"],
)
def test_sources_count_rows_and_say_what_they_leave_out(
    bundled: RuleSet, path: Path, fmt: str, rows: int, modern: int, legacy: int, preview: int, stated: dt.date | None
) -> None:
    doc = read_source(path)
    assert (doc.format, len(doc.rows), doc.stated_date) == (fmt, rows, stated)
    assert len(doc.sha256) == 64
    result = interpret(doc, bundled.catalogue)
    assert len(result.rows) == modern
    categories = [n.category for n in result.notes]
    assert (categories.count(SKIP_LEGACY), categories.count(SKIP_PREVIEW)) == (legacy, preview)
    assert len(result.rows) + len(result.notes) == rows


def test_the_learn_page_links_give_kb_numbers_and_layout_tables_are_ignored(bundled: RuleSet) -> None:
    doc = read_source(HTML_SAMPLE)
    assert doc.ignored_tables == 1
    rows = {r.name: r for r in interpret(doc, bundled.catalogue).rows}
    assert rows["Exchange Server SE RTM May26HU"].kb == "KB5081755"
    assert rows["Exchange Server 2013 CU23 Jul19SU"].kb is None


@pytest.mark.parametrize(
    ("text", "suffix", "fmt"),
    [
        ("Product Name,Build Number,Date,KB,Blog\nExchange SE RTM,15.2.2562.17,7/1/2025,,\n", ".html", "csv"),
        ("\ufeffProduct Name,Build Number,Date,KB,Blog\nExchange SE RTM,15.2.2562.17,7/1/2025,,\n", ".txt", "csv"),
        (HTML_SAMPLE.read_text(), ".csv", "html"),
        (HTML_SAMPLE.read_text(), "", "html"),
    ],
    ids=["csv-named-html", "csv-with-bom", "html-named-csv", "html-no-extension"],
)
def test_the_format_comes_from_the_content_not_the_name(tmp_path: Path, text: str, suffix: str, fmt: str) -> None:
    path = tmp_path / f"download{suffix}"
    path.write_text(text, encoding="utf-8")
    assert read_source(path).format == fmt


def test_utf16_files_from_powershell_are_read(tmp_path: Path) -> None:
    path = tmp_path / "ExchangeBuildNumbers.csv"
    path.write_text(CSV_SAMPLE.read_text(encoding="utf-8"), encoding="utf-16")
    assert len(read_source(path).rows) == 13


# fixture, error class, where (after the file name), problem
MALFORMED = [
    (
        "missing-column.csv",
        SourceColumnError,
        "row 1",
        "missing column 'Date' (found: Product Name, Build Number, KB, Blog)",
    ),
    ("bad-build.csv", SourceRowError, "row 3", "not a build number: '15.2.17x8.55'"),
    ("bad-date.csv", SourceRowError, "row 4", "not a date: '2/30/2026' (no such day)"),
    ("short-row.csv", SourceRowError, "row 2", "only 2 fields, the header has 3 or more"),
    (
        "wrong-product.csv",
        SourceRowError,
        "row 2",
        "build 15.2.1748.55 is not Exchange Server 2016; it is Exchange Server 2019",
    ),
    ("no-version.csv", SourceRowError, "row 2", "cannot tell the Exchange version from the name"),
    ("empty.csv", SourceFormatError, "", "the file is empty"),
    ("blank.html", SourceFormatError, "", "the file is empty"),
    ("notes.txt", SourceFormatError, "", "neither Microsoft's ExchangeBuildNumbers.csv"),
    ("no-tables.html", SourceFormatError, "", "no build table found"),
    ("missing-column.html", SourceColumnError, "table 1 (Exchange Server SE), line 9", "missing column 'Release date'"),
    (
        "bad-build.html",
        SourceRowError,
        "table 2 (Exchange Server 2019), row 2 (line 22)",
        "not a build number: '15.2.1748.5S'",
    ),
    ("bad-date.html", SourceRowError, "table 2 (Exchange Server 2019), row 2 (line 22)", "'Decembr' is not a month"),
    (
        "builds-differ.html",
        SourceRowError,
        "table 2 (Exchange Server 2019), row 1 (line 21)",
        "short build '15.2.1748.55' and the long",
    ),
    (
        "short-row.html",
        SourceRowError,
        "table 2 (Exchange Server 2019), row 2 (line 22)",
        "only 2 cells, the table has 4",
    ),
]


@pytest.mark.parametrize(("name", "error", "where", "problem"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_source_is_one_line_naming_file_and_row(
    bundled: RuleSet, name: str, error: type[InputError], where: str, problem: str
) -> None:
    path = BAD / name
    with pytest.raises(error) as err:
        interpret(read_source(path), bundled.catalogue)
    text = str(err.value)
    assert "\n" not in text
    assert text.startswith(f"{path}: {where}{': ' if where else ''}"), text
    assert problem in text
    assert err.value.exit_code == 2


def test_bad_rows_can_be_left_out_and_reported_instead(bundled: RuleSet) -> None:
    result = interpret(read_source(BAD / "bad-date.csv"), bundled.catalogue, strict=False)
    assert [r.build for r in result.rows] == ["15.2.2562.46", "15.2.1748.49"]
    [note] = result.rejected
    assert note.category == REJECTED and note.where is not None and note.where.short == "row 4"
    assert "no such day" in note.reason


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceFormatError, match=r"nope\.csv: cannot read"):
        read_source(tmp_path / "nope.csv")
    binary = tmp_path / "page.html"
    shutil.copy(HTML_SAMPLE, binary)
    binary.write_bytes(b"<html>\xff\xfe\xfa</html>")
    with pytest.raises(SourceFormatError, match="not UTF-8 text"):
        read_source(binary)
