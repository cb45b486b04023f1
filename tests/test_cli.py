"""The command line as a user meets it: exit codes, one-line errors, no tracebacks, files where it says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FIXTURES

SAMPLE = Path(__file__).parents[1] / "eems_check" / "data" / "sample-inventory.json"


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "eems_check", *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


CASES = [
    ("findings at the default threshold exit 1", ["evaluate", str(SAMPLE), "--today", "2026-11-27"], 1, None),
    ("never threshold exits 0", ["evaluate", str(SAMPLE), "--fail-on", "never"], 0, None),
    (
        "bad inventory exits 2 naming the field",
        ["evaluate", str(FIXTURES / "inventories" / "wrong-type.json")],
        2,
        "servers[0].is_edge",
    ),
    ("missing inventory exits 2", ["evaluate", "no-such-file.json"], 2, "no-such-file.json: cannot read"),
    (
        "bad rules exit 2 naming the line",
        ["evaluate", str(SAMPLE), "--rules", str(FIXTURES / "rules" / "unknown-key.yaml")],
        2,
        "unknown-key.yaml:6:",
    ),
    ("bad usage exits 2", ["evaluate"], 2, "the following arguments are required"),
    ("bad date exits 2", ["evaluate", str(SAMPLE), "--today", "tomorrow"], 2, "not a date"),
    ("garbage build exits 2", ["build", "garbage"], 2, "not an Exchange build number"),
    ("valid rules file exits 0", ["rules", "validate", str(FIXTURES / "rules" / "good-override.yaml")], 0, None),
    (
        "invalid rules file exits 2",
        ["rules", "validate", str(FIXTURES / "rules" / "bad-build.yaml")],
        2,
        "bad-build.yaml:3:",
    ),
]


@pytest.mark.parametrize(("name", "args", "code", "stderr"), CASES, ids=[c[0] for c in CASES])
def test_exit_codes_and_one_line_errors(
    tmp_path: Path, name: str, args: list[str], code: int, stderr: str | None
) -> None:
    result = run(*args, cwd=tmp_path)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    if stderr:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, result.stderr
        assert stderr in lines[0]


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = run("evaluate", "no-such-file.json", "--debug", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" in result.stderr


def test_unwritable_output_is_a_run_failure(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("evaluate", str(SAMPLE), "--html", str(blocker / "r.html"), cwd=tmp_path)
    assert result.returncode == 3 and "cannot write the report" in result.stderr


def test_evaluate_writes_the_named_files(tmp_path: Path) -> None:
    html, js, cs = tmp_path / "r.html", tmp_path / "r.json", tmp_path / "r.csv"
    result = run(
        "evaluate", str(SAMPLE), "--html", str(html), "--json", str(js), "--csv", str(cs), "--fail-on", "never"
    )
    assert result.returncode == 0, result.stderr
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert json.loads(js.read_text())["schema"] == "eems-check/report"
    assert str(html) in result.stdout


def test_offline_demo_writes_three_reports_into_its_folder(tmp_path: Path) -> None:
    result = run("demo", "--offline", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".csv", ".html", ".json"]


def test_demo_scans_the_simulated_organisation_and_saves_its_inventory(tmp_path: Path) -> None:
    result = run("demo", "-o", str(tmp_path / "out"), "--quiet")
    assert result.returncode == 0, result.stderr
    inventory = json.loads((tmp_path / "out" / "inventory.json").read_text())
    statuses = {s["name"]: s["collection"]["status"] for s in inventory["servers"]}
    assert len(statuses) >= 10
    assert "ok" in statuses.values() and "not_scanned" in statuses.values()
    assert len(list((tmp_path / "out").glob("eems-report-*.html"))) == 1


@pytest.mark.parametrize(
    ("build", "expected", "fix"),
    [
        ("15.02.1118.026", "Exchange 2019 CU12 Mar23SU", ("15.2.2562.43", "KB5094139")),
        ("Version 15.2 (Build 1118.7)", "Exchange 2019 CU12 (SU level unknown)", ("15.2.2562.43", "KB5094139")),
        ("15.2.2562.41", "Exchange SE RTM May26HU", ("15.2.2562.43", "KB5094139")),
        ("15.2.2562.53", "Exchange SE RTM Sep26SUv2", (None, None)),
    ],
)
def test_build_explains_name_date_rule_verdicts_and_the_fix(build: str, expected: str, fix: tuple[str, str]) -> None:
    result = run("build", build, "--json", "--today", "2026-11-27")
    assert result.returncode == 0, result.stderr
    (info,) = json.loads(result.stdout)
    assert info["name"] == expected
    assert {r["id"] for r in info["rules"]} >= {"EEMS-OCS-2023", "EEMS-NEW-2026", "PRODUCT-SUPPORT"}
    assert (info["fix"]["build"], info["fix"]["kb"]) == fix


def test_rules_show_states_the_as_of_date() -> None:
    result = run("rules", "show")
    assert result.returncode == 0 and "as of 2026-11-27" in result.stdout


DIFF = Path(__file__).parent / "diff" / "fixtures" / "reports"


@pytest.mark.parametrize(
    ("old", "new", "code", "expected"),
    [
        ("contoso-2026-10-01.json", "contoso-2026-11-27.json", 1, "8 new findings"),
        ("contoso-2026-11-27.json", "contoso-2026-11-27.json", 0, "No changes since"),
    ],
)
def test_diff_prints_the_changes_and_exits_1_when_something_got_worse(
    old: str, new: str, code: int, expected: str
) -> None:
    result = run("diff", str(DIFF / old), str(DIFF / new))
    assert result.returncode == code, result.stderr
    assert expected in result.stdout


def test_compare_to_adds_the_changes_section_to_html_and_json(tmp_path: Path) -> None:
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    previous = DIFF / "contoso-2026-10-01.json"
    result = run("evaluate", str(SAMPLE), "--compare-to", str(previous), "--html", str(html), "--json", str(js))
    assert result.returncode == 1, result.stderr
    assert "Changes since 2026-10-01 07:00 UTC" in html.read_text()
    assert json.loads(js.read_text())["changes"]["counts"]["new_findings"] == 8


def test_a_bad_previous_report_fails_before_any_work(tmp_path: Path) -> None:
    result = run("evaluate", str(SAMPLE), "--compare-to", str(SAMPLE), "-o", str(tmp_path))
    assert result.returncode == 2 and "not a report" in result.stderr
    assert not list(tmp_path.iterdir())


def test_rules_update_writes_an_override_that_the_scanner_accepts(tmp_path: Path) -> None:
    source = Path(__file__).parent / "rules_update" / "fixtures" / "gebn-sample.csv"
    out = tmp_path / "import.yaml"
    result = run("rules", "update", "--from", str(source), "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "Added: 3" in result.stdout
    explained = run("build", "15.2.2562.57", "--rules", str(out), "--json")
    assert json.loads(explained.stdout)[0]["name"] == "Exchange SE RTM Dec26SU"


LIBRARY_TRACEBACK = """
import logging, sys
from eems_check import cli
args = cli.build_parser().parse_args(sys.argv[1:])
cli._setup_logging(args)
try:
    raise TimeoutError("read timed out")
except TimeoutError:
    logging.getLogger("pypsrp.wsman").exception("ReadTimeout during WSMan request - attempt 0")
logging.getLogger("eems_check.collect.scan").warning("a line of our own")
"""


@pytest.mark.parametrize(("flags", "traceback_shown"), [
    (["-v"], False),
    ([], False),
    (["--debug"], True),
])
def test_library_tracebacks_reach_stderr_only_with_debug(flags: list[str], traceback_shown: bool) -> None:
    argv = ["build", "15.2.1118.26", *flags]
    done = subprocess.run([sys.executable, "-c", LIBRARY_TRACEBACK, *argv], capture_output=True, text=True, check=True)
    assert ("Traceback" in done.stderr) is traceback_shown
    assert "a line of our own" in done.stderr
