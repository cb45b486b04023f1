"""Writing reports to disk: explicit paths, or timestamped names in an output folder.

The report is always written before anything is mailed, so nothing is lost when mail fails. Only an absent name or
a regular file is ever replaced: a device, a FIFO, a folder or a symbolic link at the target is refused (as root,
renaming a report over `/dev/null` would turn the device into a file). `-` writes to standard output.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import stat
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError, RunError
from .model import Report
from .render import Format

STDOUT = "-"
_TEMP_PREFIX = ".eems-check-"  # short, so a name that fits the file system still fits with the temp suffix


def is_stdout(path: Path | str) -> bool:
    return str(path) == STDOUT


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISLNK, "a symbolic link"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_target(path: Path) -> None:
    """Raise InputError unless `path` is absent or a regular file (or `-`): the only things a report replaces."""
    if is_stdout(path):
        return
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return  # absent, or its folder is unusable: the write itself then fails with the reason (exit 3)
    if stat.S_ISREG(mode):
        return
    hint = "; name a file, or - for standard output" if not stat.S_ISDIR(mode) else "; name a file in it, or use -o"
    raise InputError(f"{path}: is {_kind(mode)}, not a regular file: refusing to replace it{hint}")


def _identity(path: Path) -> str:
    return STDOUT if is_stdout(path) else os.path.normcase(os.path.realpath(path))


def check_outputs(outputs: Mapping[str, Path | None], inputs: Mapping[str, Path | None] | None = None) -> None:
    """Refuse, before any work, output targets that are not absent-or-regular, two outputs naming one file, and an
    output that would replace an input file. Keys are what the user typed (`--html`, `--save-inventory`, ...)."""
    seen: dict[str, str] = {}
    for flag, path in outputs.items():
        if path is None:
            continue
        check_target(path)
        key = _identity(path)
        if key in seen:
            where = "standard output" if key == STDOUT else str(path)
            raise InputError(f"{seen[key]} and {flag} both name {where}: give each output its own file")
        seen[key] = flag
    for what, path in (inputs or {}).items():
        if path is not None and not is_stdout(path) and _identity(path) in seen:
            raise InputError(f"{seen[_identity(path)]} {path}: would replace the {what} it is made from")


@dataclass(frozen=True)
class OutputPlan:
    """Where each format goes; a format without a path is not written."""

    paths: dict[Format, Path]

    @classmethod
    def build(
        cls,
        *,
        html: Path | None,
        json: Path | None,
        csv: Path | None,
        output_dir: Path | None,
        org: str,
        stamp: dt.datetime,
    ) -> OutputPlan:
        explicit = {f: p for f, p in ((Format.HTML, html), (Format.JSON, json), (Format.CSV, csv)) if p}
        if explicit and output_dir is None:
            return cls(explicit)
        folder = output_dir or Path(".")
        base = f"eems-report-{org_slug(org)}-{stamp.strftime('%Y%m%d-%H%M%S')}"
        paths = {f: folder / f"{base}.{f.value}" for f in Format}
        paths.update(explicit)
        return cls(paths)

    @property
    def uses_stdout(self) -> bool:
        return any(is_stdout(p) for p in self.paths.values())


def org_slug(org: str) -> str:
    """The organisation's name as it appears in file names: short and portable (a long name must still leave
    room in the file system's 255 bytes for the prefix, the time and the suffix)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", org).strip("-")[:64].strip("-") or "org"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a reader never sees half a report; `-` is stdout.

    The target is checked again just before the rename (a scan takes minutes); the temporary file is removed
    whatever goes wrong, Ctrl+C included. Text that cannot be encoded (a lone surrogate) is written escaped.
    """
    if is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    data = text.encode("utf-8", errors="backslashreplace")
    tmp: str | None = None
    try:
        check_target(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, suffix=".tmp", dir=str(path.parent))
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        check_target(path)
        os.replace(tmp, path)
        tmp = None
    except InputError as exc:
        raise RunError(f"cannot write the report: {exc}") from exc
    except OSError as exc:
        raise RunError(f"{path}: cannot write the report: {exc.strerror or exc}") from exc
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_reports(report: Report, plan: OutputPlan) -> dict[Format, Path]:
    """Write every planned format; returns the files written (standard output is not a file and is left out)."""
    written: dict[Format, Path] = {}
    for fmt, path in plan.paths.items():
        write_text_atomic(path, fmt.renderer().render(report))
        if not is_stdout(path):
            written[fmt] = path
    return written
