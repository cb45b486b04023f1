"""The history file as SQLite sees it: real files, a second process writing at the same time, a process killed
while writing, files that are not ours or come from a newer eems-check."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from eems_check.diff import compare
from eems_check.history import APPLICATION_ID, SCHEMA_VERSION, History, HistoryError, open_history
from eems_check.history.store import MIGRATIONS
from eems_check.model import Report

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def writer(path: Path, first: int, count: int, *kill_at: int) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "tests.history.writer", str(path), str(first), str(count), *map(str, kill_at)]
    return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def counts(path: Path) -> tuple[int, int, int]:
    """(runs, server rows, sum of the runs' server counts)."""
    db = sqlite3.connect(path)
    try:
        runs, servers = db.execute("SELECT count(*), coalesce(sum(servers), 0) FROM run").fetchone()
        rows = db.execute("SELECT count(*) FROM server_run").fetchone()[0]
        return runs, rows, servers
    finally:
        db.close()


def local(tmp_path: Path) -> Path:
    return tmp_path / "history.sqlite"


def unc_style(tmp_path: Path) -> Path:
    """The same kind of local file named the way a share is (//host/share/...): Linux reads a leading // as /, so
    this runs the rollback-journal mode a network share gets, on a real file."""
    return Path("//" + str(tmp_path / "history.sqlite").lstrip("/"))


PATHS = pytest.mark.parametrize(("where", "journal"), [(local, "wal"), (unc_style, "delete")], ids=["local", "share"])


def journal_of(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])
    finally:
        db.close()


@PATHS
def test_two_processes_writing_at_once_both_succeed_and_nothing_is_lost(
    tmp_path: Path, where: Callable[[Path], Path], journal: str
) -> None:
    path = where(tmp_path)
    a, b = writer(path, 0, 15), writer(path, 100, 15)
    out_a, err_a = a.communicate(timeout=120)
    out_b, err_b = b.communicate(timeout=120)
    assert (a.returncode, err_a, b.returncode, err_b) == (0, "", 0, "")
    assert len(out_a.split()) == len(out_b.split()) == 15
    assert counts(path) == (30, 30 * 12, 30 * 12)
    assert integrity(path) == "ok"
    assert journal_of(path) == journal


@PATHS
def test_a_process_killed_while_writing_leaves_the_earlier_runs_and_no_half_run(
    tmp_path: Path, where: Callable[[Path], Path], journal: str
) -> None:
    path = where(tmp_path)
    done = writer(path, 0, 2)
    assert done.wait(timeout=60) == 0
    killed = writer(path, 10, 1, 6)  # dies holding the write lock, at the 7th of the run's 12 servers
    out, _ = killed.communicate(timeout=60)
    assert killed.returncode == -signal.SIGKILL
    assert out == "killed mid-transaction\n"  # and never got to say the run was recorded
    assert integrity(path) == "ok"
    assert counts(path) == (2, 24, 24)
    again = writer(path, 20, 1)
    assert again.wait(timeout=60) == 0
    assert counts(path) == (3, 36, 36)
    assert journal_of(path) == journal


def _newer(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.execute("CREATE TABLE run (id INTEGER PRIMARY KEY, something_new TEXT)")
    db.commit()
    db.close()


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE inventory (id INTEGER PRIMARY KEY, asset TEXT)")
    db.commit()
    db.close()


def _foreign_app(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA application_id = 1234")
    db.commit()
    db.close()


def _text(path: Path) -> None:
    path.write_bytes((HERE / "fixtures" / "not-sqlite.sqlite").read_bytes())


def _folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_text, "not an eems-check history (not an SQLite database)"),
        (_foreign, "an SQLite database of another program, not an eems-check history"),
        (_foreign_app, "an SQLite database of another program, not an eems-check history"),
        (_newer, f"history schema {SCHEMA_VERSION + 1} is newer than this eems-check reads ({SCHEMA_VERSION})"),
        (_folder, "is a folder, not a history file"),
    ],
    ids=["text file", "another program's database", "another program's application id", "newer schema", "folder"],
)
def test_a_file_that_is_not_a_usable_history_is_one_line_naming_it_and_is_left_alone(
    tmp_path: Path, make: Callable[[Path], None], message: str
) -> None:
    path = tmp_path / "eems-history-Contoso.sqlite"
    make(path)
    before = path.read_bytes() if path.is_file() else None
    with pytest.raises(HistoryError) as caught:
        open_history(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text
    assert (path.read_bytes() if path.is_file() else None) == before


def test_an_empty_file_becomes_a_history_with_the_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.sqlite"
    path.write_bytes(b"")
    open_history(path).close()
    db = sqlite3.connect(path)
    got = [db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("application_id", "user_version", "journal_mode")]
    db.close()
    assert got == [APPLICATION_ID, len(MIGRATIONS), "wal"]


def test_a_recorded_run_compares_with_its_report_as_no_change(fresh: History, half_year_reports: list[Report]) -> None:
    """The run document keeps everything "Changes since" reads: compared with the report it came from, nothing
    differs; compared with the run before, the patched build shows."""
    with fresh as history:
        first = history.append(half_year_reports[4], origin="evaluate")
        second = history.append(half_year_reports[5], origin="evaluate")
        assert first is not None and second is not None
        same = compare(history.run_report(second), half_year_reports[5])
        moved = compare(history.run_report(first), half_year_reports[5])
    assert same.is_empty and same.unchanged_servers == 12
    assert [(b.server, b.new_number) for b in moved.build_changes] == [("EXSE02", "15.2.2562.43")]


def test_the_same_run_twice_is_recorded_once(fresh: History, half_year_reports: list[Report]) -> None:
    with fresh as history:
        assert history.append(half_year_reports[0], origin="import") is not None
        assert history.append(half_year_reports[0], origin="import") is None
        assert len(history.runs()) == 1


def test_each_server_row_keeps_the_reports_computed_fix(
    fresh: History, half_year_reports: list[Report], tmp_path: Path
) -> None:
    report = half_year_reports[0]
    with fresh as history:
        history.append(report, origin="import")
    with sqlite3.connect(tmp_path / "history.sqlite") as db:
        stored = dict(db.execute("SELECT s.name, sr.fix FROM server_run sr JOIN server s ON s.id = sr.server_id"))
    expected = {s.server.name: (s.fix.summary if s.fix.needed else None) for s in report.servers}
    assert stored == expected and any(stored.values()) and None in stored.values()


@pytest.mark.parametrize(
    ("keep", "older_than_week", "left"),
    [(3, None, [23, 24, 25]), (None, 20, [20, 21, 22, 23, 24, 25]), (26, None, list(range(26)))],
    ids=["--keep 3", "--older-than", "keep all"],
)
def test_prune_deletes_old_runs_and_what_only_they_used(
    half_year_reports: list[Report], tmp_path: Path, keep: int | None, older_than_week: int | None, left: list[int]
) -> None:
    from .halfyear import run_time

    path = tmp_path / "history.sqlite"
    with open_history(path) as history:
        for report in half_year_reports:
            history.append(report, origin="evaluate")
        cutoff = run_time(older_than_week) - dt.timedelta(hours=1) if older_than_week is not None else None
        history.prune(keep=keep, older_than=cutoff)
        assert [r.generated_at for r in history.runs()] == [run_time(w) for w in left]
    db = sqlite3.connect(path)
    orphans = db.execute(
        "SELECT (SELECT count(*) FROM build WHERE id NOT IN (SELECT build_id FROM server_run)) + "
        "(SELECT count(*) FROM finding_set WHERE id NOT IN (SELECT findings FROM server_run))"
    ).fetchone()[0]
    db.close()
    assert orphans == 0
    assert counts(path) == (len(left), 12 * len(left), 12 * len(left))
