"""Write the override rules file: a comment header naming the source and its SHA-256, then only the builds to add
or change. The file is checked before it is put in place: merged over the rules in force it must load, and every
written build must resolve to its new label. An existing file is replaced only with `force`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

from ..builds import parse_build
from ..errors import RulesError, RunError
from ..ruleset import RuleSet, load_ruleset
from .compare import Comparison, OutRow
from .errors import OutputExistsError, SourceError
from .model import CSV, SourceDoc

SOURCE_URLS = {
    CSV: "https://github.com/microsoft/Get-ExchangeBuildNumber",
    "html": "https://learn.microsoft.com/exchange/new-features/build-numbers-and-release-dates",
}


def _q(text: str) -> str:
    """A YAML double-quoted scalar (JSON string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _one_line(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", text).strip()


def render(doc: SourceDoc, comparison: Comparison, *, base: RuleSet, as_of: dt.date, rules_version: str) -> str:
    """The override file's text."""
    c = comparison
    stamp = as_of.strftime("%Y%m%d")
    lines = [
        "# eems-check rules override written by `eems-check rules update`.",
        f"# Source: {_one_line(str(doc.path))} ({doc.description})",
        f"# SHA-256: {doc.sha256}",
        f"# Compared with rules {_one_line(base.rules_version)} (as of {base.as_of}): {len(c.added)} added, "
        f"{len(c.changed)} changed, {len(c.conflicting)} conflicting, {len(c.unchanged)} unchanged.",
        "# Only new and changed builds are listed. Review rows marked REVIEW or carrying `conflict:` before use.",
        "# Use with `--rules THIS_FILE`; check with `eems-check rules validate THIS_FILE`.",
        "schema_version: 1",
        f"rules_version: {_q(rules_version)}",
        f"as_of: {_q(as_of.isoformat())}",
        "sources:",
        f"  - {{key: {_q('IMPORT-' + stamp)}, title: {_q(_source_title(doc))}, url: {_q(SOURCE_URLS[doc.format])}}}",
        "builds:",
    ]
    groups = (
        ("Added", [i.out for i in c.added if i.out is not None]),
        ("Changed", [i.out for i in c.changed if i.out is not None]),
        ("Conflicting", [i.out for i in c.conflicting if i.out is not None] + list(c.rewritten)),
    )
    for title, rows in groups:
        if rows:
            lines.append(f"  # {title}")
            lines.extend(_row_lines(sorted(rows, key=lambda r: (r.product, r.version))))
    return "\n".join(lines) + "\n"


def _source_title(doc: SourceDoc) -> str:
    return _one_line(f"Imported from {doc.path.name} ({doc.description}), SHA-256 {doc.sha256[:16]}")


def _row_lines(rows: Iterable[OutRow]) -> list[str]:
    lines: list[str] = []
    for row in rows:
        if row.comment:
            lines.append(f"  # {_one_line(row.comment)}")
        fields = [
            f"product: {_q(row.product)}",
            f"label: {_q(row.label)}",
            f"build: {_q(row.build)}",
            f"released: {_q(row.released)}",
            f"kind: {row.kind}",
        ]
        if not row.verified:
            fields.append("verified: false")
        if row.conflict:
            fields.append(f"conflict: {_q(_one_line(row.conflict))}")
        if row.kb:
            fields.append(f"kb: {row.kb}")
        if row.release_post:
            fields.append(f"release_post: {_q(row.release_post)}")
        lines.append("  - {" + ", ".join(fields) + "}")
    return lines


def write_override(text: str, output: Path, *, base: RuleSet, rows: Iterable[OutRow], force: bool) -> None:
    """Check `text` merged over `base`, then put it at `output` (replacing a file only with `force`)."""
    if output.exists() and not force:
        raise OutputExistsError(f"{output}: the file exists; use --force to replace it")
    directory = output.parent if str(output.parent) else Path(".")
    tmp = directory / f".{output.name}.{os.getpid()}.tmp"
    try:
        tmp.write_text(text, encoding="utf-8")
        check_override(tmp, base=base, rows=rows, shown=output)
        if output.exists() and not force:
            raise OutputExistsError(f"{output}: the file exists; use --force to replace it")
        os.replace(tmp, output)
    except OSError as exc:
        raise RunError(f"{output}: cannot write: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


def check_override(path: Path, *, base: RuleSet, rows: Iterable[OutRow], shown: Path | None = None) -> RuleSet:
    """Load `path` over the files of `base`; every row must resolve to its label. Raise SourceError otherwise."""
    name = str(shown or path)
    bundled, extra = Path(base.files[0]), [Path(f) for f in base.files[1:]]
    try:
        merged = load_ruleset([*extra, path], bundled=bundled)
    except RulesError as exc:
        problem = str(exc).replace(str(path), name)
        raise SourceError(
            f"{name}: the imported builds do not form a valid rule set ({problem}); nothing written"
        ) from None
    for row in rows:
        resolved = merged.catalogue.resolve(parse_build(row.build))
        entry = resolved.entry
        if entry is None or entry.label != row.label or entry.product != row.product:
            raise SourceError(f"{name}: build {row.build} does not resolve to {row.label} after the import")
    return merged


def check_text(text: str, *, base: RuleSet, rows: Iterable[OutRow], shown: Path) -> RuleSet:
    """`check_override` for text not written anywhere yet (a dry run): checked in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="eems-rules-") as tmpdir:
        path = Path(tmpdir) / shown.name
        path.write_text(text, encoding="utf-8")
        return check_override(path, base=base, rows=rows, shown=shown)
