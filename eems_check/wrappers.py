"""Where the PowerShell wrappers are, and copying them out for an admin: `eems-check scripts --path | --copy DIR`.

What it does: finds the three wrapper scripts (package data `eems_check/scripts`, or `scripts/` beside the package in
a source tree) and copies them, with the collector script Export-EemsInventory.ps1 runs on each server, into a folder.

What it must not do: run PowerShell, or change execution policy or zone marks (the README says how to unblock a
downloaded copy; copies made here are local files and carry no mark).
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from .errors import InputError

WRAPPERS = ("Invoke-EemsCheck.ps1", "Export-EemsInventory.ps1", "Register-EemsCheckTask.ps1", "README.md")


def scripts_dir() -> Path:
    """The folder holding the wrappers: inside the installed package, or `scripts/` of a source tree."""
    packaged = Path(str(resources.files("eems_check"))) / "scripts"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[1] / "scripts"


def collector_path() -> Path:
    return Path(str(resources.files("eems_check.collect"))) / "collector.ps1"


def copy_scripts(destination: Path) -> list[Path]:
    """Copy the wrappers and collector.ps1 into `destination` (created if needed); the copied files, in order.
    Export-EemsInventory.ps1 finds collector.ps1 next to itself, so the folder works on its own."""
    if destination.exists() and not destination.is_dir():
        raise InputError(f"{destination}: not a folder")
    destination.mkdir(parents=True, exist_ok=True)
    sources = [scripts_dir() / name for name in WRAPPERS] + [collector_path()]
    copied = []
    for source in sources:
        target = destination / source.name
        shutil.copyfile(source, target)
        copied.append(target)
    return copied
