"""The bundled build catalogue: a hand-verified sample resolves exactly as its sources say, and properties that
must hold for every row (builds rise with dates within a CU line and across CUs, each EEMS rule's bar in every CU
line is that line's first update on or after the rule's cut-off)."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
from pathlib import Path

import pytest

from eems_check.builds import BuildEntry, Precision, Resolution, parse_build
from eems_check.model import ServerRecord, Verdict
from eems_check.ruleset import RuleSet

from .test_rules_evaluation import judge

VERIFIED_TSV = Path(__file__).parent / "fixtures" / "catalogue-verified.tsv"
VERIFIED = list(
    csv.DictReader((r for r in VERIFIED_TSV.open(encoding="utf-8") if not r.startswith("#")), delimiter="\t")
)
SHORT = {"2013": "Exchange 2013", "2016": "Exchange 2016", "2019": "Exchange 2019", "SE": "Exchange SE"}
# The EEMS cut-offs (Microsoft, January 2025: the March 2023 SU; June 2026: the June 2026 SU), release days.
CUT_OFFS = {"EEMS-OCS-2023": dt.date(2023, 3, 14), "EEMS-NEW-2026": dt.date(2026, 6, 9)}


def long_form(build: str) -> str:
    a, b, c, d = (int(x) for x in build.split("."))
    return f"{a}.{b:02d}.{c:04d}.{d:03d}"  # written out here so the test does not trust ParsedBuild.long


def row_id(row: dict[str, str]) -> str:
    return f"{row['product']}-{row['label']}-{row['build']}"


def spellings(build: str) -> list[str]:
    return [build, long_form(build), f"\ufeff  V{build}\r\n"]


@pytest.mark.parametrize("row", VERIFIED, ids=row_id)
def test_each_verified_build_resolves_to_its_published_name_date_and_standing(
    ruleset: RuleSet, row: dict[str, str]
) -> None:
    for text in spellings(row["build"]):
        resolved = ruleset.catalogue.resolve(parse_build(text))
        assert resolved.resolution is Resolution.EXACT, text
        assert resolved.name == f"{SHORT[row['product']]} {row['label']}"
        assert resolved.entry is not None
        assert (resolved.entry.released_text, resolved.entry.kind) == (row["released"], row["kind"])
        assert resolved.entry.verified is (row["verified"] == "yes")


@pytest.mark.parametrize("row", [r for r in VERIFIED if r["kind"] in ("CU", "RTM")], ids=row_id)
def test_admin_display_version_resolves_to_the_cu_without_su_level(ruleset: RuleSet, row: dict[str, str]) -> None:
    major, minor, build, rev = row["build"].split(".")
    resolved = ruleset.catalogue.resolve(parse_build(f"Version {major}.{minor} (Build {build}.{rev})"))
    assert resolved.resolution is Resolution.CU_ONLY
    assert resolved.parsed.precision is Precision.CU
    assert resolved.branch is not None and resolved.branch.cu == row["label"]
    assert resolved.name == f"{SHORT[row['product']]} {row['label']} (SU level unknown)"


def test_the_verified_sample_spans_every_product_and_kind() -> None:
    assert {r["product"] for r in VERIFIED} == set(SHORT)
    assert {r["kind"] for r in VERIFIED} == {"RTM", "CU", "SU", "HU"}


def _all(ruleset: RuleSet) -> list[BuildEntry]:
    entries = [e for b in ruleset.catalogue.branches for e in b.builds]
    assert len(entries) >= 300  # the whole catalogue, not a sample
    return entries


def test_every_build_resolves_to_its_own_row_in_every_spelling(ruleset: RuleSet) -> None:
    wrong = []
    for entry in _all(ruleset):
        for text in spellings(str(entry.version)):
            resolved = ruleset.catalogue.resolve(parse_build(text))
            if resolved.resolution is not Resolution.EXACT or resolved.entry != entry:
                wrong.append((text, resolved.resolution, resolved.name))
    assert wrong == []


def test_within_each_cu_line_builds_rise_with_their_release_dates(ruleset: RuleSet) -> None:
    wrong = []
    for branch in ruleset.catalogue.branches:
        by_build = sorted(branch.builds, key=lambda e: e.version)
        if by_build[0].kind not in ("RTM", "CU") or by_build[0].label != branch.cu:
            wrong.append((branch.name, "lowest build is not the CU itself", by_build[0].label))
        for older, newer in itertools.pairwise(by_build):
            if newer.released < older.released:
                wrong.append((branch.name, older.label, str(older.version), newer.label, str(newer.version)))
    assert wrong == []


def test_within_each_product_cus_rise_with_their_release_dates(ruleset: RuleSet) -> None:
    wrong = []
    for product in ruleset.catalogue.products:
        cus = sorted((b.rtm for b in ruleset.catalogue.product_branches(product)), key=lambda e: e.version)
        wrong += [(a.label, b.label) for a, b in itertools.pairwise(cus) if not a.released < b.released]
    assert wrong == []


@pytest.mark.parametrize("rule", list(CUT_OFFS))
def test_each_eems_rule_needs_exactly_the_first_update_of_the_line_on_or_after_its_cut_off(
    ruleset: RuleSet, rule: str
) -> None:
    cut_off = CUT_OFFS[rule]
    wrong = []
    for branch in ruleset.catalogue.branches:
        if not branch.has_eems:
            continue
        bar = min((e.version for e in branch.builds if e.released >= cut_off), default=None)
        for entry in branch.builds:
            build = str(entry.version)
            server = ServerRecord(name="EX01", exsetup_version=build)
            verdict = judge(ruleset, server, rule).verdict
            expected = Verdict.PASS if bar is not None and entry.version >= bar else Verdict.FAIL
            if verdict is not expected:
                wrong.append((branch.name, entry.label, build, verdict.value))
    assert wrong == []
