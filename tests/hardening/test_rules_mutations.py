"""`rules validate` accepts exactly what evaluation can use: every value of a full override (rules-base.yaml)
is replaced in turn by each hostile value (rules-values.yaml); each result is either refused as one RulesError
line naming the file and line, or evaluates the sample inventory and renders all three formats."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

from eems_check.errors import RulesError
from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.ruleset import bundled_path, load_ruleset

from .mutate import GENERATED, evaluation_problem, mutations

CORPUS = Path(__file__).parent / "corpus"
SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"
# three servers that fail the overridden rules (EX16-22A: older than March 2023; EX19-12A: event 1008, out of
# support; EX19-12B: unreachable), so every message is formatted: the whole sample would only cost time
_SAMPLE = read_inventory(SAMPLE)
INVENTORY = dataclasses.replace(
    _SAMPLE, servers=tuple(s for s in _SAMPLE.servers if s.name in ("EX16-22A", "EX19-12A", "EX19-12B"))
)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: writing is not under test
BASE = yaml.safe_load((CORPUS / "rules-base.yaml").read_text(encoding="utf-8"))


def test_the_unmutated_override_is_valid_and_evaluates() -> None:
    ruleset = load_ruleset([CORPUS / "rules-base.yaml"])
    report = evaluate(INVENTORY, ruleset, today=GENERATED.date(), generated_at=GENERATED)
    assert len(report.servers) == 3


def _outcome(file: Path, doc: Any) -> str | None:
    """None when the mutation is refused properly or evaluates; otherwise what went wrong."""
    file.write_text(yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True), encoding="utf-8")
    try:
        ruleset = load_ruleset([file])
    except RulesError as exc:
        text = str(exc)
        if "\n" in text or len(text) > 400 + len(str(file)):
            return f"error not one short line: {text[:200]!r}"
        if not text.startswith((f"{file}:", f"{bundled_path()}:", "rules:")):
            return f"error names no file: {text[:200]!r}"
        return None
    except Exception as exc:  # the bug this test exists for: anything but a RulesError
        return f"validation raised {type(exc).__name__}: {str(exc)[:200]}"
    return evaluation_problem(INVENTORY, ruleset)


def test_every_mutated_override_is_refused_in_one_line_or_evaluates(tmp_path: Path) -> None:
    """One test over all mutations (about 1,800): the failures are listed together, each with its path."""
    values = yaml.safe_load((CORPUS / "rules-values.yaml").read_text(encoding="utf-8"))
    file = tmp_path / "override.yaml"
    outcomes = [(where, _outcome(file, doc)) for where, doc in mutations(BASE, values)]
    assert len(outcomes) > 1000
    assert [f"{where}: {problem}" for where, problem in outcomes if problem] == []
