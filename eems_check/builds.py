"""The build normaliser: every spelling of an Exchange build, resolved against the build catalogue.

It accepts what a user meets: AdminDisplayVersion (`Version 15.2 (Build 1118.7)`), the short build
(`15.2.1118.7`), ExSetup.exe's zero-padded file version (`15.02.1118.007`), a three-part CU-level build, with
surrounding noise. It resolves a build to product, CU line, SU/HU label and release date, and it never guesses:
a build between two known ones, or newer than every known one, says so.

This module holds no build data; the catalogue comes from the rule set. It does no I/O and reads no clock.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import Enum
from functools import cached_property, lru_cache

from packaging.version import InvalidVersion, Version

from .errors import BuildParseError


class Precision(str, Enum):
    """How much of the build a spelling carries."""

    SU = "su"  # four parts from ExSetup.exe or a header: the SU/HU level is known
    CU = "cu"  # AdminDisplayVersion or three parts: only the CU is known


_ADMIN_DISPLAY = re.compile(r"^version\s+(\d{1,2})\.(\d{1,2})\s*\(\s*build\s+(\d{1,5})\.(\d{1,5})\s*\)$", re.ASCII)
_DOTTED = re.compile(r"^v?(\d{1,2})\.(\d{1,2})\.(\d{1,5})(?:\.(\d{1,5}))?$", re.ASCII)
_LEGACY_DOTTED = re.compile(r"^v?(\d{1,2})\.(\d{1,2})(?:\.(\d{1,5}))?(?:\.(\d{1,5}))?$", re.ASCII)
_NOISE = "\ufeff\u200b\u00a0\t\r\n \"'"


@dataclass(frozen=True)
class ParsedBuild:
    """A build string reduced to numbers, before any catalogue look-up."""

    text: str
    version: Version
    precision: Precision
    spelling: str  # admin_display_version | short | long | cu

    @property
    def parts(self) -> tuple[int, ...]:
        return self.version.release

    @property
    def long(self) -> str | None:
        """ExSetup.exe's zero-padded spelling (15.02.1118.026), for four-part builds."""
        if len(self.parts) != 4:
            return None
        major, minor, build, rev = self.parts
        return f"{major}.{minor:02d}.{build:04d}.{rev:03d}"

    @property
    def line_key(self) -> tuple[int, int, int]:
        """(major, minor, build): every update of one CU line shares it."""
        p = (*self.parts, 0, 0, 0)
        return (p[0], p[1], p[2])


def parse_build(text: str) -> ParsedBuild:
    """Parse one build string in any spelling; raise BuildParseError naming the input otherwise."""
    if not isinstance(text, str):
        raise BuildParseError(f"not an Exchange build number: {text!r} is not text")
    cleaned = text.strip(_NOISE).lower()
    cleaned = re.sub(r"\s+", " ", cleaned)
    match = _ADMIN_DISPLAY.match(cleaned)
    if match:
        major, minor, build, rev = (int(g) for g in match.groups())
        return ParsedBuild(text, Version(f"{major}.{minor}.{build}.{rev}"), Precision.CU, "admin_display_version")
    match = _DOTTED.match(cleaned) or _LEGACY_DOTTED.match(cleaned)
    if match:
        groups = [g for g in match.groups() if g is not None]
        try:
            version = Version(".".join(str(int(g)) for g in groups))
        except InvalidVersion as exc:  # pragma: no cover - the regex admits only digits
            raise BuildParseError(f"not an Exchange build number: {text!r}") from exc
        padded = any(len(g) > 1 and g.startswith("0") for g in groups)
        if len(groups) == 4:
            return ParsedBuild(text, version, Precision.SU, "long" if padded else "short")
        return ParsedBuild(text, version, Precision.CU, "cu")
    shown = text if len(text) <= 60 else text[:57] + "..."
    raise BuildParseError(
        f"not an Exchange build number: {shown!r} "
        "(expected e.g. 15.2.1118.26, 15.02.1118.026 or 'Version 15.2 (Build 1118.7)')"
    )


def parse_date(value: str) -> tuple[dt.date, bool]:
    """A catalogue date: `YYYY-MM-DD`, or `YYYY-MM` (returned as the 1st, flagged approximate)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value, re.ASCII):
        return dt.date.fromisoformat(value), False
    if re.fullmatch(r"\d{4}-\d{2}", value, re.ASCII):
        return dt.date.fromisoformat(value + "-01"), True
    raise ValueError(f"not a date (YYYY-MM-DD or YYYY-MM): {value!r}")


@dataclass(frozen=True)
class Product:
    id: str
    name: str
    short_name: str
    version: tuple[int, ...]  # (15, 2) or (14,) for a legacy product
    lifecycle: str  # fixed | modern
    mainstream_end: dt.date | None
    extended_support_end: dt.date | None
    eems_from: str | None  # CU label that introduced EEMS, None: never
    legacy: bool


@dataclass(frozen=True)
class BuildEntry:
    product: str
    label: str
    version: Version
    released: dt.date
    released_approx: bool
    kind: str  # RTM | CU | SU | HU
    verified: bool = True
    conflict: str | None = None
    kb: str | None = None  # Microsoft's KB article, e.g. KB5094139
    release_post: str | None = None  # the Exchange Team blog post that released the build

    @property
    def cu(self) -> str:
        return self.label.split(" ", 1)[0]

    @property
    def update(self) -> str | None:
        parts = self.label.split(" ", 1)
        return parts[1] if len(parts) == 2 else None

    @property
    def line_key(self) -> tuple[int, int, int]:
        r = self.version.release
        return (r[0], r[1], r[2])

    @property
    def released_text(self) -> str:
        return self.released.strftime("%Y-%m") if self.released_approx else self.released.isoformat()


@dataclass(frozen=True)
class Branch:
    """A CU line: the CU (or RTM) build and every SU/HU released for it, oldest first."""

    product: Product
    cu: str
    builds: tuple[BuildEntry, ...]
    serviced_until: dt.date | None
    serviced_open: bool  # True: still serviced (no end date)

    @property
    def name(self) -> str:
        return f"{self.product.short_name} {self.cu}"

    @property
    def rtm(self) -> BuildEntry:
        return self.builds[0]

    @property
    def latest(self) -> BuildEntry:
        return self.builds[-1]

    @property
    def line_key(self) -> tuple[int, int, int]:
        return self.rtm.line_key

    def first_released_on_or_after(self, day: dt.date) -> BuildEntry | None:
        return next((b for b in self.builds if b.released >= day), None)

    @cached_property
    def has_eems(self) -> bool:
        """True when this CU line includes the Emergency Mitigation Service."""
        if self.product.eems_from is None:
            return False
        return _cu_ordinal(self.cu) >= _cu_ordinal(self.product.eems_from)


@lru_cache(maxsize=256)
def _cu_ordinal(label: str) -> int:
    """RTM < CU1 < ... ; 2013's SP1 is CU4."""
    if label == "RTM":
        return 0
    if label == "SP1":
        return 4
    match = re.fullmatch(r"CU(\d+)", label)
    return int(match.group(1)) if match else -1


class Resolution(str, Enum):
    """How a build matched the catalogue."""

    EXACT = "exact"
    CU_ONLY = "cu_only"  # a CU-level spelling: CU known, SU level unknown
    BETWEEN = "between"  # SU-level build of a known CU, between two known builds
    NEWER_THAN_LINE = "newer_than_line"  # newer than every known build of its CU line
    UNKNOWN_CU = "unknown_cu"  # a CU number not in the catalogue, between known CUs
    NEWER_THAN_RULES = "newer_than_rules"  # a CU newer than every known CU of the product
    OLDER_THAN_PRODUCT = "older_than_product"  # below the product's RTM (a preview or beta)
    LEGACY = "legacy"  # Exchange 2010 or older: recognised, not analysed
    UNKNOWN_PRODUCT = "unknown_product"


@dataclass(frozen=True)
class ResolvedBuild:
    parsed: ParsedBuild
    resolution: Resolution
    product: Product | None
    branch: Branch | None
    entry: BuildEntry | None  # the exact catalogue row; for CU_ONLY the CU row
    before: BuildEntry | None = None  # the nearest known build below, when not exact
    after: BuildEntry | None = None  # the nearest known build above, when not exact

    @cached_property
    def number(self) -> str:
        return ".".join(str(p) for p in self.parsed.parts)

    @property
    def su_known(self) -> bool:
        return self.parsed.precision is Precision.SU

    @cached_property
    def name(self) -> str:
        """A friendly name such as `Exchange 2019 CU12 Mar23SU`, never a guessed label."""
        if self.product is None:
            return f"Unknown Exchange build {self.number}"
        if self.resolution is Resolution.LEGACY:
            return self.product.name
        if self.branch is None:
            if self.resolution is Resolution.NEWER_THAN_RULES:
                return f"{self.product.short_name} (CU newer than the rules)"
            if self.resolution is Resolution.OLDER_THAN_PRODUCT:
                return f"{self.product.short_name} (pre-release build)"
            return f"{self.product.short_name} (unknown CU)"
        if self.resolution is Resolution.EXACT and self.entry is not None:
            return f"{self.product.short_name} {self.entry.label}"
        if self.resolution is Resolution.CU_ONLY:
            return f"{self.branch.name} (SU level unknown)"
        if self.resolution is Resolution.NEWER_THAN_LINE:
            return f"{self.branch.name} (update newer than the rules)"
        return f"{self.branch.name} (unknown update)"

    @property
    def released(self) -> BuildEntry | None:
        """The entry whose release date is the build's own (exact matches and CU-level builds)."""
        if self.resolution in (Resolution.EXACT, Resolution.CU_ONLY):
            return self.entry
        return None

    def age_days(self, today: dt.date) -> int | None:
        entry = self.released
        return None if entry is None else (today - entry.released).days


@dataclass(frozen=True)
class Catalogue:
    """Products and CU lines, indexed for resolution."""

    products: tuple[Product, ...]
    branches: tuple[Branch, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_line", {b.line_key: b for b in self.branches})
        per_product: dict[str, list[Branch]] = {}
        for branch in sorted(self.branches, key=lambda b: b.line_key):
            per_product.setdefault(branch.product.id, []).append(branch)
        object.__setattr__(self, "_per_product", per_product)

    def branch_for(self, key: tuple[int, int, int]) -> Branch | None:
        by_line: dict[tuple[int, int, int], Branch] = self._by_line  # type: ignore[attr-defined]
        return by_line.get(key)

    def product_branches(self, product: Product) -> list[Branch]:
        per_product: dict[str, list[Branch]] = self._per_product  # type: ignore[attr-defined]
        return per_product.get(product.id, [])

    def product_for(self, parsed: ParsedBuild) -> Product | None:
        """The product of a build: same major.minor, the newest product whose first build is at or below it
        (15.2 builds from 2562 on are Exchange SE)."""
        parts = parsed.parts
        candidates: list[tuple[tuple[int, int, int], Product]] = []
        for product in self.products:
            if product.legacy:
                continue
            if parts[: len(product.version)] != product.version:
                continue
            lines = self.product_branches(product)
            start = lines[0].line_key if lines else (0, 0, 0)
            candidates.append((start, product))
        if candidates:
            candidates.sort(key=lambda c: c[0])
            chosen = candidates[0][1]
            for start, product in candidates:
                if parsed.line_key >= start:
                    chosen = product
            return chosen
        for product in self.products:
            if product.legacy and parts[: len(product.version)] == product.version:
                return product
        return None

    def resolve(self, parsed: ParsedBuild) -> ResolvedBuild:
        product = self.product_for(parsed)
        if product is None:
            return ResolvedBuild(parsed, Resolution.UNKNOWN_PRODUCT, None, None, None)
        if product.legacy:
            return ResolvedBuild(parsed, Resolution.LEGACY, product, None, None)
        branch = self.branch_for(parsed.line_key)
        lines = self.product_branches(product)
        if branch is None:
            below = [b for b in lines if b.line_key < parsed.line_key]
            above = [b for b in lines if b.line_key > parsed.line_key]
            if not below:
                return ResolvedBuild(
                    parsed, Resolution.OLDER_THAN_PRODUCT, product, None, None, after=above[0].rtm if above else None
                )
            if not above:
                return ResolvedBuild(parsed, Resolution.NEWER_THAN_RULES, product, None, None, before=below[-1].latest)
            return ResolvedBuild(
                parsed, Resolution.UNKNOWN_CU, product, None, None, before=below[-1].latest, after=above[0].rtm
            )
        if parsed.precision is Precision.CU:
            return ResolvedBuild(parsed, Resolution.CU_ONLY, product, branch, branch.rtm)
        exact = next((b for b in branch.builds if b.version == parsed.version), None)
        if exact is not None:
            return ResolvedBuild(parsed, Resolution.EXACT, product, branch, exact)
        before = [b for b in branch.builds if b.version < parsed.version]
        after = [b for b in branch.builds if b.version > parsed.version]
        if not after:
            return ResolvedBuild(parsed, Resolution.NEWER_THAN_LINE, product, branch, None, before=before[-1])
        return ResolvedBuild(
            parsed, Resolution.BETWEEN, product, branch, None, before=before[-1] if before else None, after=after[0]
        )
