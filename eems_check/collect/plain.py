"""Plain Python shapes for what remote PowerShell returns, free of any remoting library.

`PSBag` is a deserialized PowerShell object reduced to its properties (adapted and extended merged, looked up
case-insensitively, as PowerShell does), its ToString text and its type names. The remoting module produces these;
everything else reads them. This module must not import pypsrp or do any I/O.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class PSBag(Mapping[str, Any]):
    """A read-only, case-insensitive property bag with the object's ToString text and type names."""

    __slots__ = ("_lower", "_props", "to_string", "type_names")

    def __init__(
        self, props: Mapping[str, Any], to_string: str | None = None, type_names: tuple[str, ...] = ()
    ) -> None:
        self._props = dict(props)
        self._lower = {k.lower(): k for k in self._props}
        self.to_string = to_string
        self.type_names = type_names

    def __getitem__(self, key: str) -> Any:
        return self._props[self._lower[key.lower()]]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

    def __iter__(self) -> Iterator[str]:
        return iter(self._props)

    def __len__(self) -> int:
        return len(self._props)

    def __str__(self) -> str:
        return self.to_string if self.to_string is not None else ""

    def __repr__(self) -> str:
        return f"PSBag({self._props!r}, to_string={self.to_string!r})"


def text(value: Any) -> str | None:
    """A value as PowerShell would print it in a table cell: None stays None, a bag gives its ToString."""
    if value is None:
        return None
    if isinstance(value, PSBag):
        return value.to_string
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def strings(value: Any) -> list[str]:
    """A multi-valued property as a list of non-empty strings (None, one value or a list)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = [text(v) for v in items]
    return [v for v in out if v]
