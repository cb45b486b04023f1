"""Inventories as a clumsy script or an attacker writes them: every value of a two-server inventory is replaced
in turn by each of corpus/inventory-values.json, written to a file and read back. Each result is refused as one
InventoryError line naming the file, or it evaluates and renders all three formats: never anything else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eems_check.errors import InventoryError
from eems_check.inventory import read_inventory
from eems_check.ruleset import RuleSet

from .mutate import evaluation_problem, mutations

CORPUS = Path(__file__).parent / "corpus"
SAMPLE = Path(__file__).parents[2] / "eems_check" / "data" / "sample-inventory.json"


def _base() -> dict[str, Any]:
    doc = json.loads(SAMPLE.read_text(encoding="utf-8"))
    named = {s["name"]: s for s in doc["servers"]}
    doc["servers"] = [named["EX19-12A"], named["EX19-12B"]]  # one with every section filled, one unreachable
    return doc


def _outcome(file: Path, doc: dict[str, Any], ruleset: RuleSet) -> str | None:
    file.write_text(json.dumps(doc), encoding="utf-8")  # ASCII: a lone surrogate is written as \ud800
    try:
        inventory = read_inventory(file)
    except InventoryError as exc:
        text = str(exc)
        if "\n" in text or len(text) > 400 + len(str(file)) or not text.startswith(str(file)):
            return f"error not one short line naming the file: {text[:200]!r}"
        return None
    except Exception as exc:  # the bug this test exists for
        return f"reading raised {type(exc).__name__}: {str(exc)[:200]}"
    return evaluation_problem(inventory, ruleset)


def test_every_mutated_inventory_is_refused_in_one_line_or_evaluates(tmp_path: Path, ruleset: RuleSet) -> None:
    values = json.loads((CORPUS / "inventory-values.json").read_text(encoding="utf-8"))
    file = tmp_path / "inventory.json"
    outcomes = [(where, _outcome(file, doc, ruleset)) for where, doc in mutations(_base(), values)]
    assert len(outcomes) > 2000
    assert [f"{where}: {problem}" for where, problem in outcomes if problem] == []
