"""Mutation of a document: every leaf value replaced in turn by each of a list of hostile values."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

from eems_check.evaluate import evaluate
from eems_check.model import Inventory
from eems_check.render import Format
from eems_check.ruleset import RuleSet

GENERATED = dt.datetime(2026, 12, 11, 7, 0, tzinfo=dt.timezone.utc)


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every scalar (and every empty list) in a JSON/YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list) and node:
        for i, value in enumerate(node):
            yield from leaves(value, (*path, i))
    else:
        yield path


def mutations(base: Any, values: list[Any]) -> Iterator[tuple[str, Any]]:
    """(where, document) for every leaf of `base` set to every value; `where` reads `servers.0.name = 'x'`."""
    for path in leaves(base):
        for value in values:
            doc = copy.deepcopy(base)
            node = doc
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
            yield f"{'.'.join(map(str, path))} = {value!r}", doc


def evaluation_problem(inventory: Inventory, ruleset: RuleSet) -> str | None:
    """None when `inventory` evaluates under `ruleset` and renders in every format; otherwise what was raised."""
    try:
        report = evaluate(inventory, ruleset, today=GENERATED.date(), generated_at=GENERATED)
        for fmt in Format:
            fmt.renderer().render(report)
    except Exception as exc:  # the bug these tests exist for: anything raised after validation passed
        return f"evaluation raised {type(exc).__name__}: {str(exc)[:200]}"
    return None
