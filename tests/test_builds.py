"""The build normaliser: builds outside the catalogue, the inputs it must refuse or flag, numeric order and
spelling (the catalogue itself: tests/test_catalogue.py)."""

from __future__ import annotations

import pytest

from eems_check.builds import Resolution, parse_build
from eems_check.errors import BuildParseError
from eems_check.ruleset import RuleSet


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
