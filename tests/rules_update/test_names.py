"""Microsoft's wording -> the rule set's vocabulary: products, labels, kinds, dates, builds."""

from __future__ import annotations

import pytest

from eems_check.rules_update.names import derive_update, kb_from, parse_source_build, parse_source_date, split_name

# name, product, CU, update (None: a CU/RTM row), derived, kind, dropped text
NAMES = [
    ("Exchange 2019 CU15 Feb26SU", "2019", "CU15", "Feb26SU", True, "SU", ()),
    ("Exchange SE RTM Aug25SU", "SE", "RTM", "Aug25SU", True, "SU", ()),
    ("Exchange Server SE RTM May26HU", "SE", "RTM", "May26HU", True, "HU", ()),
    ("Exchange Server Subscription Edition (SE) RTM", "SE", "RTM", None, True, "RTM", ()),
    ("Exchange Server 2019 CU14 (2024H1)", "2019", "CU14", None, True, "CU", ()),
    ("Exchange 2019 CU13 (2023H1)", "2019", "CU13", None, True, "CU", ()),
    ("\u00a0\u00a0\u00a0Exchange Server 2019 CU14 Nov24SUv2", "2019", "CU14", "Nov24SUv2", True, "SU", ()),
    ("Exchange 2013 SP1 Mar21SU", "2013", "SP1", "Mar21SU", True, "SU", ()),
    ("Exchange 2013 SP1", "2013", "SP1", None, True, "CU", ()),
    ("Exchange 2016 RTM", "2016", "RTM", None, True, "RTM", ()),
    ("Exchange Server 2019 CU15 Feb26SU (ESU)", "2019", "CU15", "Feb26SU", True, "SU", ()),
    ("Exchange Server 2019 CU15 February 2026 Security Update v2", "2019", "CU15", "Feb26SUv2", True, "SU", ()),
    ("Exchange Server 2019 CU 15 Feb 26 SU", "2019", "CU15", "Feb26SU", True, "SU", ()),
    ("Exchange Server 2019 CU15 Feb26SU (recalled)", "2019", "CU15", "Feb26SU", True, "SU", ("(recalled)",)),
    ("Exchange 2019 CU14 Interim Update 2", "2019", "CU14", "Interim-Update-2", False, "SU", ()),
    ("Exchange 2019 CU14 Interim hotfix", "2019", "CU14", "Interim-hotfix", False, "HU", ()),
]


@pytest.mark.parametrize(
    ("name", "product", "cu", "update", "derived", "kind", "extra"), NAMES, ids=[n[0] for n in NAMES]
)
def test_names_map_to_product_cu_update_and_kind(
    name: str, product: str, cu: str, update: str | None, derived: bool, kind: str, extra: tuple[str, ...]
) -> None:
    parts = split_name(name)
    assert (parts.product, parts.cu, parts.update_token, parts.derived, parts.kind, parts.extra) == (
        product,
        cu,
        update,
        derived,
        kind,
        extra,
    )


# name, legacy product (None: not legacy), preview, unknown product
OTHER_NAMES = [
    ("Update Rollup 8 v2 for Exchange Server 2010 SP3", "Exchange 2010", False, None),
    ("Update Rollup 19 forExchange Server 2007 SP3", "Exchange 2007", False, None),
    ("Exchange 2010 SP3 RU32", "Exchange 2010", False, None),
    ("Exchange 2000 Server post-SP3", "Exchange 2000", False, None),
    ("Exchange Server 5.5 SP4", "Exchange 5.5", False, None),
    ("Exchange 2016 Preview", None, True, None),
    ("Exchange Server 2031 CU1", None, False, "Exchange 2031"),
]


@pytest.mark.parametrize(("name", "legacy", "preview", "unknown"), OTHER_NAMES, ids=[n[0] for n in OTHER_NAMES])
def test_legacy_preview_and_unknown_products_are_recognised(
    name: str, legacy: str | None, preview: bool, unknown: str | None
) -> None:
    parts = split_name(name)
    assert (parts.legacy, parts.preview, parts.unknown_product) == (legacy, preview, unknown)


def test_a_name_without_product_takes_it_from_the_heading() -> None:
    parts = split_name("CU15 Feb26SU", heading="Exchange Server 2019")
    assert (parts.product, parts.cu, parts.update) == ("2019", "CU15", "Feb26SU")
    assert split_name("Update Rollup 5", heading="Exchange Server 2010 SP3 build numbers").legacy == "Exchange 2010"
    assert split_name("CU15 Feb26SU").product is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Feb26SU", "Feb26SU"),
        ("feb26su", "Feb26SU"),
        ("Sept 2025 HU", "Sep25HU"),
        ("Aug23 SU v2", "Aug23SUv2"),
        ("Hotfix", None),
        ("Febuary 2026 SU", None),
        ("Ju26SU", None),
    ],
)
def test_update_names(text: str, expected: str | None) -> None:
    assert derive_update(text) == expected


DATES = [
    ("2/10/2026", "2026-02-10"),
    ("02/14/2023", "2023-02-14"),
    ("February 10, 2026", "2026-02-10"),
    ("Sep 8, 2025", "2025-09-08"),
    ("May25, 2025", "2025-05-25"),
    ("10 February 2026", "2026-02-10"),
    ("2026-02-10", "2026-02-10"),
    ("December, 2015", "2015-12"),
    ("March 2018", "2018-03"),
    ("8/2018", "2018-08"),
    ("2018-08", "2018-08"),
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[d[0] for d in DATES])
def test_dates_become_iso_or_month_only(text: str, expected: str) -> None:
    assert parse_source_date(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2/30/2026", "no such day"),
        ("13/1/2026", "no such day"),
        ("Decembr 8, 2026", "is not a month"),
        ("soon", "not a date"),
        ("", "not a date"),
    ],
)
def test_bad_dates_are_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_source_date(text)


@pytest.mark.parametrize(
    ("text", "short", "long"),
    [
        ("15.2.1748.43", "15.2.1748.43", False),
        ("15.02.1748.043", "15.2.1748.43", True),
        ("15.00.1497.002", "15.0.1497.2", True),
        (" 15.1.2507.6 ", "15.1.2507.6", False),
    ],
)
def test_builds_are_normalised_to_the_short_form(text: str, short: str, long: bool) -> None:
    build = parse_source_build(text)
    assert (build.short, build.long_spelling) == (short, long)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("15.2.17x8.43", "not a build number"),
        ("15.2.1748", "not a four-part"),
        ("Version 15.2 (Build 1748.10)", "not a four-part"),
        ("", "no build number"),
    ],
)
def test_bad_builds_are_named(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_source_build(text)


def test_kb_numbers_come_from_the_column_or_the_link() -> None:
    assert kb_from("KB5074992") == "KB5074992"
    assert kb_from("https://support.microsoft.com/help/5081755") == "KB5081755"
    assert kb_from("https://support.microsoft.com/kb/4489622") == "KB4489622"
    assert kb_from("https://www.microsoft.com/download/details.aspx?id=106402") is None
    assert kb_from(None) is None
