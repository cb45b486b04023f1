"""Report targets: only an absent name or a regular file is replaced; anything else is one line, exit 2.

Real /dev/null is never used: the special targets are made in tmp_path (a FIFO, a symbolic link to one, a folder).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from eems_check.cli import main

SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"


def _fifo(p: Path) -> None:
    os.mkfifo(p)


def _link_to_fifo(p: Path) -> None:
    os.mkfifo(p.with_name("real-fifo"))
    p.symlink_to("real-fifo")


def _folder(p: Path) -> None:
    p.mkdir()


def _link_to_file(p: Path) -> None:
    p.with_name("kept.json").write_text("keep me")
    p.symlink_to("kept.json")


def _dangling_link(p: Path) -> None:
    p.symlink_to("nowhere/at/all")


REFUSED: list[tuple[str, Callable[[Path], None], str]] = [
    ("fifo", _fifo, "is a FIFO"),
    ("symlink to a fifo", _link_to_fifo, "is a symbolic link"),
    ("folder", _folder, "is a folder"),
    ("symlink to a regular file", _link_to_file, "is a symbolic link"),
    ("dangling symlink", _dangling_link, "is a symbolic link"),
]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".eems-check-"))


@pytest.mark.parametrize("flag", ["--json", "--html", "--csv"])
@pytest.mark.parametrize(("name", "make", "problem"), REFUSED, ids=[r[0] for r in REFUSED])
def test_a_target_that_is_not_a_regular_file_is_refused_and_left_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flag: str, name: str, make: Callable[[Path], None], problem: str
) -> None:
    target = tmp_path / "report.out"
    make(target)
    before = os.lstat(target)
    assert main(["evaluate", str(SAMPLE), flag, str(target), "--fail-on", "never"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0] and str(target) in err[0], err
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert _leftovers(tmp_path) == []


def test_a_scan_refuses_a_bad_target_before_it_connects_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.mkfifo(tmp_path / "inv.json")
    # 127.0.0.1 port 9 (discard) is never dialled: the check comes first
    code = main(
        [
            "scan",
            "--discovery-server",
            "127.0.0.1",
            "--exchange-port",
            "9",
            "--username",
            "u",
            "--save-inventory",
            str(tmp_path / "inv.json"),
            "--quiet",
        ]
    )
    assert code == 2 and "is a FIFO" in capsys.readouterr().err


CLASHES = [
    ("two formats, one file", ["--html", "{d}/r.out", "--json", "{d}/r.out"], "--html and --json both name"),
    ("same file spelled twice", ["--csv", "{d}/r.csv", "--json", "{d}/./r.csv"], "--json and --csv both name"),
    ("two formats to stdout", ["--csv", "-", "--json", "-"], "both name standard output"),
    ("report over its own inventory", ["--json", "{inv}"], "would replace the inventory"),
]


@pytest.mark.parametrize(("name", "args", "problem"), CLASHES, ids=[c[0] for c in CLASHES])
def test_outputs_that_would_overwrite_each_other_or_the_input_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, args: list[str], problem: str
) -> None:
    inventory = tmp_path / "inventory.json"
    inventory.write_bytes(SAMPLE.read_bytes())
    argv = [a.format(d=tmp_path, inv=inventory) for a in args]
    assert main(["evaluate", str(inventory), *argv, "--fail-on", "never"]) == 2
    assert problem in capsys.readouterr().err
    assert inventory.read_bytes() == SAMPLE.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inventory.json"]


def test_dash_writes_the_report_to_stdout_and_the_summary_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # with no report file, the run's history goes to the current folder
    assert main(["evaluate", str(SAMPLE), "--json", "-", "--fail-on", "never"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["schema"] == "eems-check/report"
    assert "Contoso: 12 server(s)" in err


@pytest.mark.parametrize("size", [246, 250, 255])
def test_names_that_fit_the_file_system_are_accepted(tmp_path: Path, size: int) -> None:
    stem = "é" * ((size - 5) // 2) + "x" * ((size - 5) % 2)  # two bytes a letter in UTF-8
    target = tmp_path / f"{stem}.json"
    assert len(target.name.encode()) == size
    assert main(["evaluate", str(SAMPLE), "--json", str(target), "--fail-on", "never", "--quiet"]) == 0
    assert json.loads(target.read_text(encoding="utf-8"))["schema"] == "eems-check/report"


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """The file-size limit makes the write itself fail half-way (EFBIG), as a full disk would."""

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)

    result = subprocess.run(
        [sys.executable, "-m", "eems_check", "evaluate", str(SAMPLE), "--html", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert result.returncode == 3 and "cannot write the report" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert _leftovers(tmp_path) == [] and not (tmp_path / "r.html").exists()


def test_an_output_folder_that_is_not_a_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    os.mkfifo(tmp_path / "fifo")
    assert main(["evaluate", str(SAMPLE), "-o", str(tmp_path / "fifo")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
