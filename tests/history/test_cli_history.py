"""The history as a user meets it on the command line: recorded beside the reports, "Changes since" without
--compare-to, a bad file that never stops the reports, and `eems-check history` show / prune / import."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from eems_check.cli import main
from eems_check.model import Report
from eems_check.outputs import write_text_atomic
from eems_check.render import Format

from .halfyear import SAMPLE

HERE = Path(__file__).parent


def evaluate(out: Path, *extra: str) -> int:
    return main(["evaluate", str(SAMPLE), "-o", str(out), "--fail-on", "never", *extra])


def next_second() -> None:
    """Runs are keyed by their generation time, to the second."""
    time.sleep(1.05 - time.time() % 1)


def html_reports(folder: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.html"))]


def test_runs_are_recorded_beside_the_reports_and_the_second_shows_changes_since_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert evaluate(tmp_path) == 0
    next_second()
    assert evaluate(tmp_path) == 0
    out = capsys.readouterr().out
    history = tmp_path / "eems-history-Contoso.sqlite"
    assert f"History: {history.resolve()} (1 run of Contoso)" in out
    assert f"History: {history.resolve()} (2 runs of Contoso)" in out
    first, second = html_reports(tmp_path)
    assert 'id="trend"' in first and 'id="trend"' in second
    assert 'id="changes"' not in first
    assert 'id="changes"' in second and "No changes: the same servers, builds and findings as then." in second
    newest = json.loads(sorted(tmp_path.glob("*.json"))[-1].read_text(encoding="utf-8"))
    assert newest["changes"]["old"]["label"].startswith(f"{history} (run of ")


def test_compare_to_still_chooses_what_changes_are_shown_against(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert main(["evaluate", str(SAMPLE), "--json", str(old), "--no-history", "--fail-on", "never"]) == 0
    next_second()
    assert evaluate(tmp_path / "out") == 0
    next_second()
    assert evaluate(tmp_path / "out", "--compare-to", str(old)) == 0
    newest = json.loads(sorted((tmp_path / "out").glob("*.json"))[-1].read_text(encoding="utf-8"))
    assert newest["changes"]["old"]["label"] == str(old)  # not the history's previous run
    assert (tmp_path / "out" / "eems-history-Contoso.sqlite").is_file()


def test_no_history_records_nothing_and_shows_no_trend(tmp_path: Path) -> None:
    assert evaluate(tmp_path, "--no-history") == 0
    assert not list(tmp_path.glob("*.sqlite"))
    assert 'id="trend"' not in html_reports(tmp_path)[0]


def test_an_unusable_history_is_one_line_and_the_reports_are_written_all_the_same(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes((HERE / "fixtures" / "not-sqlite.sqlite").read_bytes())
    assert main(["evaluate", str(SAMPLE), "-o", str(tmp_path), "--history", str(bad), "--today", "2026-11-27"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"eems-check: error: {bad}: not an eems-check history (not an SQLite database); "
        "the reports are written without the history"
    )
    assert len(list(tmp_path.glob("eems-report-*"))) == 3
    assert bad.read_bytes() == (HERE / "fixtures" / "not-sqlite.sqlite").read_bytes()


def test_history_show_prune_and_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], half_year_reports: list[Report]
) -> None:
    saved = []
    for week in (0, 5, 25):
        path = tmp_path / "reports" / f"week{week:02}.json"
        write_text_atomic(path, Format.JSON.renderer().render(half_year_reports[week]))
        saved.append(str(path))
    assert main(["history", "import", *saved]) == 0
    history = tmp_path / "reports" / "eems-history-Contoso.sqlite"
    assert main(["history", "import", saved[0]]) == 0
    out = capsys.readouterr().out
    assert out.count(": recorded as the run of Contoso") == 3 and out.count(": already recorded as") == 1

    assert main(["history", str(history)]) == 0
    text = capsys.readouterr().out
    assert "Contoso: 3 run(s) recorded; servers that cannot receive mitigations: 7 of 12 on 2026-05-25, 2 of 12" in text
    assert "EX16-22A: fails EEMS Mar 2023 since 2026-05-25 or earlier (3 runs)" in text

    assert main(["history", str(history), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    org = doc["organisations"][0]
    assert (doc["schema"], org["name"], [r["cannot_receive"] for r in org["runs"]]) == (
        "eems-check/history",
        "Contoso",
        [7, 6, 2],
    )
    assert [r["origin"] for r in org["runs"]] == ["import"] * 3

    assert main(["history", "prune", str(history), "--keep", "1"]) == 0
    assert "deleted 2 run(s), 1 left" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["history", "missing.sqlite"], "missing.sqlite: no such history file"),
        (["history", "prune", "missing.sqlite", "--keep", "0"], "--keep: must be 1 or more, not 0"),
        (["history", "prune", "missing.sqlite"], "one of the arguments --keep --older-than is required"),
        (["history", "import", str(SAMPLE)], "this is an inventory, not a report"),
    ],
    ids=["missing file", "keep zero", "prune without a limit", "import an inventory"],
)
def test_history_command_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err, err
