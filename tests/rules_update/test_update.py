"""The import end to end: diff categories, the written override (it loads and resolves), overwrite protection,
dry runs, sources that bring nothing new, and the subcommand's arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from eems_check.builds import parse_build
from eems_check.errors import InputError
from eems_check.rules_update import OutputExistsError, add_arguments, format_diff, run, update_rules
from eems_check.ruleset import RuleSet, load_ruleset

from .conftest import BAD, CSV_SAMPLE, HTML_SAMPLE

# fixture, added, changed (label, what), conflicting, unchanged, as_of
DIFFS = [
    (
        CSV_SAMPLE,
        ["2019 CU14 Interim-Update-2", "2019 CU15 Dec26SU", "SE RTM Dec26SU"],
        [("2013 CU23 Jul19SU", "released 2019-07 -> 2019-07-09"), ("SE RTM Sep26SU", "verified: unverified")],
        ["2016 CU23 Aug26SU"],
        5,
        "2026-12-08",
    ),
    (
        HTML_SAMPLE,
        ["SE RTM Dec26SU"],
        [("SE RTM Sep26SUv2", "verified: unverified")],
        ["2019 CU14 Jun26SU"],
        8,
        "2026-12-10",
    ),
]


@pytest.mark.parametrize(("path", "added", "changed", "conflicting", "unchanged", "as_of"), DIFFS, ids=["csv", "html"])
def test_the_diff_sorts_builds_into_added_changed_conflicting_and_unchanged(
    bundled: RuleSet,
    path: Path,
    added: list[str],
    changed: list[tuple[str, str]],
    conflicting: list[str],
    unchanged: int,
    as_of: str,
) -> None:
    result = update_rules(path, base=bundled, write=False)
    c = result.comparison
    assert sorted(f"{i.row.product} {i.label}" for i in c.added) == added
    assert [f"{i.row.product} {i.label}" for i in c.changed] == [label for label, _ in changed]
    for item, (_, what) in zip(c.changed, changed, strict=True):
        assert item.details[0].startswith(what), item.details
    assert [f"{i.row.product} {i.label}" for i in c.conflicting] == conflicting
    assert len(c.unchanged) == unchanged
    assert str(result.as_of) == as_of
    assert result.rules_version == f"import-{as_of.replace('-', '')}"
    assert not result.written and result.text is not None


@pytest.mark.parametrize(
    ("path", "new_build", "name"),
    [
        (CSV_SAMPLE, "15.2.2562.57", "Exchange SE RTM Dec26SU"),
        (CSV_SAMPLE, "15.02.1748.055", "Exchange 2019 CU15 Dec26SU"),
        (HTML_SAMPLE, "15.2.2562.57", "Exchange SE RTM Dec26SU"),
    ],
    ids=["csv-se", "csv-2019-long-spelling", "html-se"],
)
def test_the_written_file_loads_over_the_bundled_rules_and_resolves_the_new_build(
    bundled: RuleSet, tmp_path: Path, path: Path, new_build: str, name: str
) -> None:
    output = tmp_path / "import.yaml"
    result = update_rules(path, base=bundled, output=output)
    assert result.written and output.read_text(encoding="utf-8") == result.text
    merged = load_ruleset([output])
    resolved = merged.catalogue.resolve(parse_build(new_build))
    assert resolved.name == name
    assert resolved.entry is not None and resolved.entry.verified
    assert merged.build_count == bundled.build_count + len(result.comparison.added) + sum(
        1 for i in result.comparison.conflicting if i.out is not None
    )
    assert merged.as_of == result.as_of


def test_the_written_file_names_its_source_and_flags_conflicts_and_reviews(bundled: RuleSet, tmp_path: Path) -> None:
    output = tmp_path / "import.yaml"
    result = update_rules(CSV_SAMPLE, base=bundled, output=output)
    text = output.read_text(encoding="utf-8")
    assert f"# Source: {CSV_SAMPLE} (ExchangeBuildNumbers.csv of microsoft/Get-ExchangeBuildNumber)" in text
    assert f"# SHA-256: {result.source.sha256}" in text
    assert 'rules_version: "import-20261208"' in text
    merged = load_ruleset([output])
    entries = {str(e.version): e for b in merged.catalogue.branches for e in b.builds}
    # both builds of the conflicting label are kept and flagged
    assert entries["15.1.2507.70"].conflict and entries["15.1.2507.72"].conflict
    assert entries["15.1.2507.70"].label == entries["15.1.2507.72"].label == "CU23 Aug26SU"
    # the changed rows: a date made exact, an unverified build confirmed
    assert entries["15.0.1497.3"].released_text == "2019-07-09"
    assert entries["15.2.2562.49"].verified
    # the label that could not be derived keeps the source's wording and is marked for review
    assert entries["15.2.1544.50"].label == "CU14 Interim-Update-2"
    assert "# REVIEW: update name not derived from 'Exchange 2019 CU14 Interim Update 2'" in text
    # unchanged builds are not repeated
    assert "15.2.1258.12" not in text


def test_an_existing_output_is_replaced_only_with_force(bundled: RuleSet, tmp_path: Path) -> None:
    output = tmp_path / "import.yaml"
    output.write_text("keep me\n", encoding="utf-8")
    with pytest.raises(OutputExistsError, match="use --force") as err:
        update_rules(CSV_SAMPLE, base=bundled, output=output)
    assert err.value.exit_code == 2
    assert output.read_text(encoding="utf-8") == "keep me\n"
    update_rules(CSV_SAMPLE, base=bundled, output=output, force=True)
    load_ruleset([output])
    assert [p.name for p in tmp_path.iterdir()] == ["import.yaml"]  # no temporary file left behind


def test_an_override_already_in_force_makes_the_same_source_up_to_date(bundled: RuleSet, tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    update_rules(CSV_SAMPLE, base=bundled, output=first)
    again = update_rules(CSV_SAMPLE, base=load_ruleset([first]), output=tmp_path / "second.yaml")
    c = again.comparison
    assert (len(c.added), len(c.changed)) == (0, 0)
    assert again.up_to_date and not again.written and not (tmp_path / "second.yaml").exists()
    assert "Nothing written: the rules already have every build the source lists." in format_diff(again)


def test_a_source_the_rules_already_cover_writes_nothing(bundled: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "ExchangeBuildNumbers.csv"
    source.write_text(
        "Product Name,Build Number,Date,KB,Blog\r\n"
        "Exchange SE RTM Aug26SU,15.2.2562.46,8/11/2026,KB5121573,\r\n"
        "Exchange 2019 CU15,15.02.1748.010,2/10/2025,KB5042461,\r\n",
        encoding="utf-8",
    )
    result = update_rules(source, base=bundled, output=tmp_path / "out.yaml")
    assert result.up_to_date and len(result.comparison.unchanged) == 2
    assert not (tmp_path / "out.yaml").exists()


def test_bad_rows_left_out_are_reported_in_the_diff(bundled: RuleSet, tmp_path: Path) -> None:
    result = update_rules(BAD / "bad-build.html", base=bundled, output=tmp_path / "o.yaml", strict=False)
    text = format_diff(result)
    assert "table 2 (Exchange Server 2019), row 2 (line 22): rejected, 'Exchange Server 2019 CU15 Dec26SU'" in text
    assert result.up_to_date


def test_the_diff_text_lists_every_category(bundled: RuleSet) -> None:
    text = format_diff(update_rules(CSV_SAMPLE, base=bundled, write=False))
    for line in (
        "Added: 3",
        "  + Exchange SE RTM Dec26SU",
        "Changed: 2",
        "  ~ Exchange 2013 CU23 Jul19SU",
        "Conflicting: 1",
        "  ! Exchange 2016 CU23 Aug26SU",
        "To review: 1",
        "Unchanged: 5",
        "  - 1 row: Exchange 2010 and older (not in the rules)",
        "  - 1 row: pre-release builds",
        "Long spelling: 2 builds",
        "Dry run: would write rules-import-20261208.yaml: 7 rows",
    ):
        assert line in text, line


def test_a_new_cu_line_needs_its_cu_row(bundled: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "ExchangeBuildNumbers.csv"
    source.write_text(
        "Product Name,Build Number,Date,KB,Blog\r\n"
        "Exchange SE CU1,15.2.2600.10,11/10/2026,,\r\n"
        "Exchange SE CU1 Dec26SU,15.2.2600.15,12/8/2026,,\r\n"
        "Exchange SE CU2 Jan27SU,15.2.2650.12,1/12/2027,,\r\n",
        encoding="utf-8",
    )
    output = tmp_path / "out.yaml"
    result = update_rules(source, base=bundled, output=output)
    assert sorted(i.label for i in result.comparison.added) == ["CU1", "CU1 Dec26SU"]
    [note] = result.comparison.notes
    assert "CU line 15.2.2650 is in neither the rules nor the source" in note.reason
    merged = load_ruleset([output])
    assert merged.catalogue.resolve(parse_build("15.2.2600.15")).name == "Exchange SE CU1 Dec26SU"


def test_a_conflicting_cu_build_is_reported_but_not_written(bundled: RuleSet, tmp_path: Path) -> None:
    source = tmp_path / "ExchangeBuildNumbers.csv"
    source.write_text(
        "Product Name,Build Number,Date,KB,Blog\r\nExchange 2019 CU15,15.2.1748.11,2/10/2025,,\r\n", encoding="utf-8"
    )
    result = update_rules(source, base=bundled, output=tmp_path / "out.yaml")
    [item] = result.comparison.conflicting
    assert item.out is None and "not written" in item.details[0]
    assert result.up_to_date


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="eems-check rules update")
    add_arguments(parser)
    parser.add_argument("--rules", type=Path, action="append", default=[])
    parser.add_argument("-q", "--quiet", action="store_true")
    return parser.parse_args(argv)


def test_the_subcommand_prints_the_diff_and_writes_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert run(_parse(["--from", str(HTML_SAMPLE)])) == 0
    out = capsys.readouterr().out
    assert "Added: 1" in out and "Wrote rules-import-20261210.yaml" in out
    load_ruleset([tmp_path / "rules-import-20261210.yaml"])
    with pytest.raises(InputError, match="exists; use --force"):
        run(_parse(["--from", str(HTML_SAMPLE)]))
    assert run(_parse(["--from", str(HTML_SAMPLE), "--force", "-q"])) == 0
    assert capsys.readouterr().out == ""


def test_the_subcommand_compares_with_the_rules_overrides_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.yaml"
    assert run(_parse(["--from", str(CSV_SAMPLE), "-o", str(first)])) == 0
    capsys.readouterr()
    assert run(_parse(["--from", str(CSV_SAMPLE), "--rules", str(first), "--dry-run"])) == 0
    assert "Added: 0" in capsys.readouterr().out


def test_the_subcommand_can_skip_bad_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match=r"bad-date\.csv: row 4: not a date"):
        run(_parse(["--from", str(BAD / "bad-date.csv"), "--dry-run"]))
    assert run(_parse(["--from", str(BAD / "bad-date.csv"), "--dry-run", "--skip-bad-rows"])) == 0
    assert "row 4: rejected" in capsys.readouterr().out


def _csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "ExchangeBuildNumbers.csv"
    path.write_text("\r\n".join(["Product Name,Build Number,Date,KB,Blog", *rows, ""]), encoding="utf-8")
    return path


def test_a_rules_row_both_changed_and_rivalled_is_written_once(bundled: RuleSet, tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "Exchange 2016 CU23 Aug26SU,15.1.2507.72,8/12/2026,,",
        "Exchange 2016 CU23 Aug26SU,15.1.2507.70,8/11/2026,,",
    )
    output = tmp_path / "out.yaml"
    result = update_rules(source, base=bundled, output=output)
    assert [i.row.build for i in result.comparison.changed] == ["15.1.2507.72"]
    assert [i.row.build for i in result.comparison.conflicting] == ["15.1.2507.70"]
    assert result.comparison.rewritten == ()
    merged = load_ruleset([output])
    entries = {str(e.version): e for b in merged.catalogue.branches for e in b.builds}
    assert entries["15.1.2507.72"].released_text == "2026-08-12"
    assert entries["15.1.2507.72"].conflict == "ExchangeBuildNumbers.csv lists 15.1.2507.70"


def test_two_new_builds_with_one_label_are_both_kept_and_flagged(bundled: RuleSet, tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "Exchange SE RTM Dec26SU,15.2.2562.57,12/8/2026,,",
        "Exchange SE RTM Dec26SU,15.2.2562.58,12/8/2026,,",
        "Exchange SE RTM Dec26SU,15.2.2562.57,12/8/2026,,",
    )
    output = tmp_path / "out.yaml"
    result = update_rules(source, base=bundled, output=output)
    assert [i.row.build for i in result.comparison.conflicting] == ["15.2.2562.57", "15.2.2562.58"]
    [duplicate] = result.comparison.notes
    assert duplicate.where is not None and duplicate.where.short == "row 4"
    assert "listed again (as at row 2)" in duplicate.reason
    merged = load_ruleset([output])
    assert all(merged.catalogue.resolve(parse_build(b)).entry.conflict for b in ("15.2.2562.57", "15.2.2562.58"))  # type: ignore[union-attr]


def test_an_old_source_that_changes_rows_gets_a_caution(bundled: RuleSet, tmp_path: Path) -> None:
    source = _csv(tmp_path, "Exchange 2013 RTM,15.0.516.32,12/2/2012,,")  # an old copy with another date
    text = format_diff(update_rules(source, base=bundled, write=False))
    assert "~ Exchange 2013 RTM" in text and "released 2012-12-03 -> 2012-12-02" in text
    assert "Caution: the source's newest date is 2012-12-02, older than the rules (as of 2026-11-27)" in text


def test_updates_of_a_new_line_whose_cu_row_conflicts_are_left_out(bundled: RuleSet, tmp_path: Path) -> None:
    source = _csv(
        tmp_path,
        "Exchange SE CU1,15.2.2600.10,11/10/2026,,",
        "Exchange SE CU1,15.2.2601.3,11/12/2026,,",
        "Exchange SE CU1 Dec26SU,15.2.2600.15,12/8/2026,,",
    )
    result = update_rules(source, base=bundled, output=tmp_path / "out.yaml")
    c = result.comparison
    assert [i.out for i in c.conflicting] == [None, None] and c.added == ()
    assert [n.reason for n in c.notes] == ["its CU row (CU1) is not written"]
    assert result.up_to_date


IMPORTED_REFERENCES = [
    pytest.param(
        "15.2.2562.57",
        "KB5140000",
        "https://techcommunity.microsoft.com/blog/exchange/released-december-2026-exchange-server-security-updates/4600000",
        id="added-with-kb-and-post",
    ),
    pytest.param("15.2.1748.55", "KB5140001", None, id="added-with-kb-only"),
    pytest.param("15.2.2562.49", "KB5121608", None, id="changed-gains-its-kb"),
]


@pytest.mark.parametrize(("build", "kb", "post"), IMPORTED_REFERENCES)
def test_the_import_carries_each_builds_kb_and_release_post_into_the_rules(
    bundled: RuleSet, tmp_path: Path, build: str, kb: str, post: str | None
) -> None:
    output = tmp_path / "import.yaml"
    update_rules(CSV_SAMPLE, base=bundled, output=output)
    entry = load_ruleset([output]).catalogue.resolve(parse_build(build)).entry
    assert entry is not None
    assert (entry.kb, entry.release_post) == (kb, post)
