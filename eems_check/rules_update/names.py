"""Microsoft's wording -> the rule set's vocabulary: product, CU, update label, kind, date, short build.

Names look like `Exchange 2019 CU15 Feb26SU` (Get-ExchangeBuildNumber), `Exchange Server SE RTM May26HU` or
`Exchange Server 2019 CU14 (2024H1)` (Learn), `Update Rollup 8 v2 for Exchange Server 2010 SP3` (Learn, legacy).
Dates are `2/10/2026` (CSV), `February 10, 2026` or `December, 2015` (Learn). Nothing here reads files or rules.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from packaging.version import Version

from ..builds import parse_build
from ..errors import BuildParseError

MODERN = {"2013": "2013", "2016": "2016", "2019": "2019", "SE": "SE"}
LEGACY = {"2010", "2007", "2003", "2000", "5.5", "5.0", "4.0"}

_PRODUCT = re.compile(
    r"exchange\s*(?:server\s*)?"
    r"(?:(?P<year>\d{4})\b|(?P<se>se\b|subscription\s+edition(?:\s*\(se\))?)|(?P<old>\d\.\d)\b)"
    r"(?:\s*server\b)?",
    re.IGNORECASE,
)
_CU = re.compile(r"^(?P<cu>rtm|sp\s*\d+|cu\s*\d+)\b\s*(?P<rest>.*)$", re.IGNORECASE)
_PAREN = re.compile(r"\(([^()]*)\)")
_HARMLESS_PAREN = re.compile(r"^(?:\d{4}\s*h[12]|esu)$", re.IGNORECASE)  # "(2023H1)", "(ESU)"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_UPDATE = re.compile(
    r"^(?P<mon>[a-z]+)\.?[\s-]*(?P<year>\d{4}|\d{2})[\s-]*"
    r"(?P<kind>su|hu|security(?:\s+update)?|hotfix(?:\s+update)?)"
    r"(?:[\s-]*(?P<v>v\s*\d+))?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class NameParts:
    """What a source's build name says."""

    product: str | None  # rules product id (2013, 2016, 2019, SE); None: not found
    legacy: str | None  # "Exchange 2010" etc. for a product older than 2013
    unknown_product: str | None  # an Exchange version that is neither modern nor legacy ("Exchange 2031")
    cu: str | None  # RTM, SP1, CU15
    update: str | None  # Feb26SU, or the source's own wording when not derived
    derived: bool
    preview: bool
    extra: tuple[str, ...]  # text that was set aside (a note in parentheses, words before the product)

    @property
    def kind(self) -> str:
        if self.update is None:
            return "RTM" if self.cu == "RTM" else "CU"
        if self.derived:
            return self.update.rstrip("v0123456789")[-2:]
        return "HU" if re.search(r"\bhu\b|hotfix", self.update, re.IGNORECASE) else "SU"

    @property
    def update_token(self) -> str | None:
        """The update as one word for a label: derived names as they are, the source's wording joined by '-'."""
        if self.update is None:
            return None
        return self.update if self.derived else "-".join(self.update.split())


def clean_text(text: str) -> str:
    """Collapse whitespace (including no-break spaces, which the Learn page uses to indent SU rows)."""
    return " ".join(text.replace("\u00a0", " ").split())


def product_in(text: str) -> tuple[str | None, str | None, str | None, re.Match[str] | None]:
    """(modern product id, legacy name, unknown name, match) for the first Exchange version named in `text`."""
    m = _PRODUCT.search(text)
    if m is None:
        return None, None, None, None
    if m.group("se"):
        return "SE", None, None, m
    version = m.group("year") or m.group("old")
    if version in MODERN:
        return MODERN[version], None, None, m
    if version in LEGACY:
        return None, f"Exchange {version}", None, m
    return None, None, f"Exchange {version}", m


def split_name(name: str, heading: str | None = None) -> NameParts:
    """Read product, CU and update from a build name; `heading` supplies the product when the name lacks it."""
    text = clean_text(name)
    product, legacy, unknown, m = product_in(text)
    extra: list[str] = []
    if m is not None:
        prefix, rest = text[: m.start()].strip(), text[m.end() :].strip()
        if prefix and product is not None:
            extra.append(prefix)
    else:
        rest = text
        if heading:
            product, legacy, unknown, _ = product_in(clean_text(heading))
    if product is None:
        return NameParts(None, legacy, unknown, None, None, True, False, ())
    for note in _PAREN.findall(rest):
        if not _HARMLESS_PAREN.match(note.strip()):
            extra.append(f"({note.strip()})")
    rest = clean_text(_PAREN.sub(" ", rest))
    if re.match(r"^(?:preview|beta)\b", rest, re.IGNORECASE):
        return NameParts(product, None, None, None, None, True, True, tuple(extra))
    cu: str | None = None
    cu_match = _CU.match(rest)
    if cu_match:
        cu = re.sub(r"\s+", "", cu_match.group("cu")).upper()
        rest = cu_match.group("rest").strip()
    if not rest:
        return NameParts(product, None, None, cu, None, True, False, tuple(extra))
    update = derive_update(rest)
    if update is not None:
        return NameParts(product, None, None, cu, update, True, False, tuple(extra))
    return NameParts(product, None, None, cu, rest, False, False, tuple(extra))


def derive_update(text: str) -> str | None:
    """Microsoft's short update name from its wording: `Feb26SU`, `Nov24SUv2`, `May26HU`; None if not derivable.

    Accepts `Feb26SU`, `Feb26 SU`, `Feb 2026 SU`, `February 2026 Security Update`, `Aug23SU v2`.
    """
    m = _UPDATE.match(clean_text(text))
    if m is None:
        return None
    month = _month(m.group("mon"))
    if month is None:
        return None
    kind = "HU" if m.group("kind").lower().startswith(("hu", "hotfix")) else "SU"
    version = re.sub(r"\s+", "", m.group("v") or "").lower()
    return f"{_MONTHS[month - 1].title()}{m.group('year')[-2:]}{kind}{version}"


def _month(word: str) -> int | None:
    """1-12 for a month name or its abbreviation (`Sep`, `Sept`, `September`), None otherwise."""
    word = word.lower().rstrip(".")
    if len(word) < 3:
        return None
    for index, full in enumerate(_MONTH_NAMES):
        if full.startswith(word):
            return index + 1
    return None


_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})(?:-(?P<d>\d{1,2}))?$")
_US = re.compile(r"^(?P<m>\d{1,2})/(?:(?P<d>\d{1,2})/)?(?P<y>\d{4})$")
_WORDS = re.compile(r"^(?P<mon>[a-z]+)\.?\s*(?:(?P<d>\d{1,2})(?:st|nd|rd|th)?)?\s*,?\s*(?P<y>\d{4})$", re.IGNORECASE)
_WORDS_DMY = re.compile(r"^(?P<d>\d{1,2})\.?\s+(?P<mon>[a-z]+)\.?,?\s+(?P<y>\d{4})$", re.IGNORECASE)


def parse_source_date(text: str) -> str:
    """`YYYY-MM-DD`, or `YYYY-MM` when only the month is given; raise ValueError naming the text.

    Accepts `2/10/2026` and `2/2026` (US order, as in Microsoft's CSV), `February 10, 2026`, `Feb 10 2026`,
    `December, 2015`, `10 February 2026`, `2026-02-10` and `2026-02`.
    """
    value = clean_text(text)
    month: int | None
    m = _ISO.match(value) or _US.match(value)
    if m:
        year, month, day = int(m.group("y")), int(m.group("m")), m.group("d")
    else:
        m = _WORDS.match(value) or _WORDS_DMY.match(value)
        if m is None:
            raise ValueError(f"not a date: {text!r} (expected e.g. 2/10/2026, February 10, 2026 or 2026-02-10)")
        year, month, day = int(m.group("y")), _month(m.group("mon")), m.group("d")
        if month is None:
            raise ValueError(f"not a date: {text!r} ({m.group('mon')!r} is not a month)")
    try:
        if day is None:
            return dt.date(year, month, 1).strftime("%Y-%m")
        return dt.date(year, month, int(day)).isoformat()
    except ValueError:
        raise ValueError(f"not a date: {text!r} (no such day)") from None


@dataclass(frozen=True)
class Build:
    short: str
    version: Version
    long_spelling: bool


def parse_source_build(text: str) -> Build:
    """A four-part build in the short or the zero-padded long spelling; raise ValueError naming the text."""
    value = clean_text(text)
    if not value:
        raise ValueError("no build number")
    try:
        parsed = parse_build(value)
    except BuildParseError:
        raise ValueError(f"not a build number: {text!r} (expected e.g. 15.2.1748.43 or 15.02.1748.043)") from None
    if len(parsed.parts) != 4 or parsed.spelling not in ("short", "long"):
        raise ValueError(f"not a four-part build number: {text!r} (expected e.g. 15.2.1748.43)")
    return Build(".".join(str(p) for p in parsed.parts), parsed.version, parsed.spelling == "long")


def kb_from(text: str | None) -> str | None:
    """`KB5074992` from `KB5074992`, `5074992` or a support.microsoft.com link; None otherwise."""
    if not text:
        return None
    m = re.search(r"(?:\bkb|support\.microsoft\.com/(?:[a-z-]+/)?(?:help|kb)/)(\d{6,7})\b", text, re.IGNORECASE)
    if m is None:
        m = re.fullmatch(r"\s*(\d{6,7})\s*", text)
    return f"KB{m.group(1)}" if m else None


def release_post_from(text: str | None) -> str | None:
    """The release post's address when it is a plain https:// URL (what the rules accept); None otherwise."""
    if not text:
        return None
    text = text.strip()
    return text if re.fullmatch(r"https://[^\s\"'<>]+", text) else None
