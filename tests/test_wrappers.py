"""The PowerShell wrappers ship with the package: `eems-check scripts --path` shows them, `--copy DIR` puts them and
the collector in a folder an admin can run them from, and the wheel's configuration includes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from eems_check.cli import main

from .conftest import missing_in_ci

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("Invoke-EemsCheck.ps1", "Export-EemsInventory.ps1", "Register-EemsCheckTask.ps1")


def test_scripts_path_prints_the_folder_holding_the_three_wrappers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scripts", "--path"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert all((folder / name).is_file() for name in SCRIPTS)


def test_scripts_copy_puts_the_wrappers_and_the_collector_in_one_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "eems-scripts"
    assert main(["scripts", "--copy", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == sorted([*SCRIPTS, "README.md", "collector.ps1"])
    assert (target / "collector.ps1").read_bytes() == (ROOT / "eems_check" / "collect" / "collector.ps1").read_bytes()
    export = "Export-EemsInventory.ps1"
    assert (target / export).read_bytes() == (ROOT / "scripts" / export).read_bytes()
    assert len(capsys.readouterr().out.splitlines()) == 5


def test_scripts_copy_onto_a_file_is_a_one_line_input_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    assert main(["scripts", "--copy", str(blocker)]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_the_wheel_takes_the_scripts_folder_as_package_data() -> None:
    try:
        import tomllib
    except ImportError:  # Python 3.10; .ci/run's Python has it
        missing_in_ci("reading pyproject.toml needs tomllib (Python 3.11+)")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "eems_check.scripts" in config["packages"]
    assert config["package-dir"]["eems_check.scripts"] == "scripts"
    assert "*.ps1" in config["package-data"]["eems_check.scripts"]
