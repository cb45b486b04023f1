"""Read a downloaded build list: decode it, tell the format from the content, split it into raw rows.

The format is decided by the content (a CSV header line vs HTML markup); the file name's extension decides only
when the content is ambiguous. No network access: the admin downloads the file, this reads it.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from pathlib import Path

from ..inputfile import MIB, read_regular
from .csv_source import read_csv_rows
from .errors import SourceFormatError
from .html_source import read_html_rows
from .model import CSV, HTML, SourceDoc

CSV_DESCRIPTION = "ExchangeBuildNumbers.csv of microsoft/Get-ExchangeBuildNumber"
HTML_DESCRIPTION = "saved Learn page 'Exchange Server build numbers and release dates'"
SOURCE_LIMIT = 64 * MIB  # the saved Learn page is about 1 MB
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_source(path: Path) -> SourceDoc:
    """Read `path` (Microsoft's CSV or a saved Learn page) into raw rows; raise a SourceError naming the file."""
    file = str(path)
    raw = read_regular(path, limit=SOURCE_LIMIT, error=SourceFormatError)
    text = _decode(raw, file)
    if not text.strip():
        raise SourceFormatError(f"{file}: the file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    kind = detect_format(text, path)
    if kind == CSV:
        return SourceDoc(path, CSV, CSV_DESCRIPTION, digest, read_csv_rows(text, file))
    page = read_html_rows(text, file)
    description = HTML_DESCRIPTION if not page.title else f"saved Learn page '{page.title}'"
    return SourceDoc(path, HTML, description, digest, page.rows, page.stated_date, page.ignored_tables)


def _decode(raw: bytes, file: str) -> str:
    for bom, encoding in _BOMS:
        if raw.startswith(bom):
            try:
                return raw.decode(encoding)
            except UnicodeDecodeError as exc:
                raise SourceFormatError(f"{file}: not valid {encoding} text (byte {exc.start})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourceFormatError(
            f"{file}: not UTF-8 text (byte {exc.start}); expected Microsoft's ExchangeBuildNumbers.csv or a saved "
            "copy of the Learn page (HTML)"
        ) from None


_HTML_MARK = re.compile(r"<\s*(?:!doctype\s+html|html|head|body|table|meta|div|h[1-6])\b", re.IGNORECASE)


def detect_format(text: str, path: Path) -> str:
    """CSV or HTML from the content; the extension only breaks a tie. Raise SourceFormatError otherwise."""
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    first_line = head.splitlines()[0] if head else ""
    if re.match(r"(?i)^(mime-version|from:|content-type:)", first_line):
        raise SourceFormatError(
            f"{path}: looks like a page saved as a single-file web archive (MHTML); save it as 'Web page, HTML only'"
        )
    looks_html = head.startswith("<") or bool(_HTML_MARK.search(head))
    looks_csv = "," in first_line and "<" not in first_line and "build" in first_line.lower()
    if looks_html and not looks_csv:
        return HTML
    if looks_csv and not looks_html:
        return CSV
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return CSV
    if suffix in (".htm", ".html", ".xhtml"):
        return HTML
    if "," in first_line and "<" not in first_line:
        return CSV
    raise SourceFormatError(
        f"{path}: neither Microsoft's ExchangeBuildNumbers.csv (a header line 'Product Name,Build Number,Date,...') "
        "nor a saved copy of the Learn page 'Exchange Server build numbers and release dates' (HTML)"
    )
