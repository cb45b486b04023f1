"""The build normaliser: every catalogue row in every spelling, and the inputs it must refuse or flag."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from eems_check.builds import Precision, Resolution, parse_build
from eems_check.errors import BuildParseError
from eems_check.ruleset import RuleSet

ROWS = list(csv.DictReader((Path(__file__).parent / "fixtures" / "catalogue.tsv").open(), delimiter="\t"))
SHORT = {"2013": "Exchange 2013", "2016": "Exchange 2016", "2019": "Exchange 2019", "SE": "Exchange SE"}


def long_form(build: str) -> str:
    a, b, c, d = (int(x) for x in build.split("."))
    return f"{a}.{b:02d}.{c:04d}.{d:03d}"  # written out here so the test does not trust ParsedBuild.long


def test_catalogue_fixture_covers_enough_rows() -> None:
    assert len(ROWS) >= 150


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r['product']}-{r['label']}-{r['build']}")
@pytest.mark.parametrize("spelling", ["short", "long", "noisy"])
def test_every_catalogue_build_resolves_exactly_in_every_spelling(
    ruleset: RuleSet, row: dict[str, str], spelling: str
) -> None:
    text = {"short": row["build"], "long": long_form(row["build"]), "noisy": f"\ufeff  V{row['build']}\r\n"}[spelling]
    resolved = ruleset.catalogue.resolve(parse_build(text))
    assert resolved.resolution is Resolution.EXACT
    assert resolved.name == f"{SHORT[row['product']]} {row['label']}"
    assert resolved.entry is not None and resolved.entry.released_text == row["released"]


@pytest.mark.parametrize(
    "row", [r for r in ROWS if r["kind"] in ("CU", "RTM")], ids=lambda r: f"{r['product']}-{r['label']}"
)
def test_admin_display_version_resolves_to_the_cu_without_su_level(ruleset: RuleSet, row: dict[str, str]) -> None:
    major, minor, build, rev = row["build"].split(".")
    resolved = ruleset.catalogue.resolve(parse_build(f"Version {major}.{minor} (Build {build}.{rev})"))
    assert resolved.resolution is Resolution.CU_ONLY
    assert resolved.parsed.precision is Precision.CU
    assert resolved.branch is not None and resolved.branch.cu == row["label"]
    assert resolved.name == f"{SHORT[row['product']]} {row['label']} (SU level unknown)"


@pytest.mark.parametrize(
    ("text", "resolution", "name"),
    [
        ("15.2.1118", Resolution.CU_ONLY, "Exchange 2019 CU12 (SU level unknown)"),
        ("  version 15.1 (build 2507.6) ", Resolution.CU_ONLY, "Exchange 2016 CU23 (SU level unknown)"),
        ("15.2.1118.27", Resolution.BETWEEN, "Exchange 2019 CU12 (unknown update)"),
        ("15.2.2562.99", Resolution.NEWER_THAN_LINE, "Exchange SE RTM (update newer than the rules)"),
        ("15.02.1900.001", Resolution.NEWER_THAN_RULES, "Exchange 2019 (CU newer than the rules)"),
        ("15.2.3000.5", Resolution.NEWER_THAN_RULES, "Exchange SE (CU newer than the rules)"),
        ("15.2.1000.1", Resolution.UNKNOWN_CU, "Exchange 2019 (unknown CU)"),
        ("15.2.196.0", Resolution.OLDER_THAN_PRODUCT, "Exchange 2019 (pre-release build)"),
        ("14.3.513.0", Resolution.LEGACY, "Exchange Server 2010"),
        ("8.3.485.1", Resolution.LEGACY, "Exchange Server 2007"),
        ("16.0.1.1", Resolution.UNKNOWN_PRODUCT, "Unknown Exchange build 16.0.1.1"),
    ],
)
def test_builds_outside_the_catalogue_are_named_without_guessing(
    ruleset: RuleSet, text: str, resolution: Resolution, name: str
) -> None:
    resolved = ruleset.catalogue.resolve(parse_build(text))
    assert resolved.resolution is resolution
    assert resolved.name == name


@pytest.mark.parametrize(
    "text",
    ["", "garbage", "15", "15.2.x.1", "Version 15.2", "15.2.1118.26.1", "1.2.3.4.5", "<script>", "15.2.1118.26; DROP"],
)
def test_garbage_is_a_clear_error_naming_the_input(text: str) -> None:
    with pytest.raises(BuildParseError, match="not an Exchange build number"):
        parse_build(text)


def test_numbers_compare_numerically_not_as_text(ruleset: RuleSet) -> None:
    cu12_rtm = parse_build("15.2.1118.7").version
    cu11_mar23 = parse_build("15.2.986.42").version
    assert cu12_rtm > cu11_mar23
    assert parse_build("15.02.0986.042").version == cu11_mar23


@pytest.mark.parametrize(
    ("text", "long"), [("15.2.986.5", "15.02.0986.005"), ("15.02.1118.026", "15.02.1118.026"), ("15.2.1118", None)]
)
def test_long_spelling_is_zero_padded_like_exsetup(text: str, long: str | None) -> None:
    assert parse_build(text).long == long
