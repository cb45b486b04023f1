"""Writing reports to disk: explicit paths, or timestamped names in an output folder.

The report is always written before anything is mailed, so nothing is lost when mail fails.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import RunError
from .model import Report
from .render import Format


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


def org_slug(org: str) -> str:
    """The organisation's name as it appears in file names."""
    return re.sub(r"[^A-Za-z0-9]+", "-", org).strip("-") or "org"


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder, so a reader never sees half a report."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except OSError as exc:
        raise RunError(f"{path}: cannot write the report: {exc.strerror or exc}") from exc


def write_reports(report: Report, plan: OutputPlan) -> dict[Format, Path]:
    written: dict[Format, Path] = {}
    for fmt, path in plan.paths.items():
        write_text_atomic(path, fmt.renderer().render(report))
        written[fmt] = path
    return written
