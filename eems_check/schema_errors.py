"""JSON Schema validation as one-line errors: the first problem of a document, as `where: message`, for the
inventory (JSON: `servers[0].is_edge`) and the lab's org file (YAML: the same, plus the line it is on).

A schema may word a problem itself: `"x-message"` beside the failing keyword replaces jsonschema's text, with
`{value}` standing for the offending value.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import jsonschema

from .yamlload import LDict, LList


def where(error: jsonschema.ValidationError) -> str:
    """The dotted path of the failing value: `servers[0].eems.enabled`, or `document` for the whole."""
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "document"


def shown(value: Any) -> str:
    text = json.dumps(value[:60] if isinstance(value, str) else value, default=str)  # never dump 10 MB to cut it
    return text if len(text) <= 40 else text[:37] + "..."


def message(error: jsonschema.ValidationError) -> str:
    """jsonschema's problem in our words, at most 200 characters (a file of unknown keys names them all)."""
    text = _message(error)
    return text if len(text) < 200 else text[:197] + "..."


def _message(error: jsonschema.ValidationError) -> str:
    custom = error.schema.get("x-message") if isinstance(error.schema, dict) else None
    if custom and error.validator not in ("type", "required", "additionalProperties"):
        return str(custom).replace("{value}", shown(error.instance))
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown field(s)")
    if error.validator == "type":
        want = error.validator_value
        want_text = " or ".join(want) if isinstance(want, list) else want
        return f"must be {want_text}, not {shown(error.instance)}"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "enum" and isinstance(error.validator_value, list):
        allowed = ", ".join(str(v) for v in error.validator_value if v is not None)  # null: the default
        return f"must be one of {allowed}, not {shown(error.instance)}"
    return error.message


def ordered(errors: Iterable[jsonschema.ValidationError], located: Any = None) -> list[jsonschema.ValidationError]:
    """The problem to name first comes first: shallowest, then by path; in a `located` YAML document, the first in
    the file (then the shallowest)."""
    if located is not None:
        return sorted(errors, key=lambda e: (line(located, e), len(e.absolute_path), where(e)))
    return sorted(errors, key=lambda e: (len(e.absolute_path), where(e)))


def line(doc: Any, error: jsonschema.ValidationError) -> int:
    """The line of the failing value in a document read by `yamlload.load_located`: the line of its key or list
    item; for an unknown or conflicting key, the line of that key."""
    node, at = doc, getattr(doc, "line", 1)
    for part in error.absolute_path:
        if isinstance(node, LDict):
            at = node.line_of(part)
        elif isinstance(node, LList):
            at = node.line_of(int(part))
        node = node[part]
    if isinstance(node, LDict):
        keys: list[Any] = []
        if error.validator == "additionalProperties" and isinstance(error.schema, dict):
            keys = [k for k in node if k not in error.schema.get("properties", {})]
        elif error.validator == "not" and isinstance(error.validator_value, dict):
            keys = list(error.validator_value.get("required", []))[1:]
        lines = [node.line_of(k) for k in keys if k in node]
        if lines:
            at = min(lines)
    return at
