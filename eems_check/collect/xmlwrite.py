"""Write a small ElementTree tree as the very bytes ``ElementTree.tostring(element, encoding="utf-8")`` gives.

Why: every WS-Management request is an envelope of a dozen or so elements, and the standard library writes it in
pure Python in two passes (collect the namespaces, then write), at about 150 microseconds an envelope on the
scan's hot path. `XMLWriter` does it in one pass with the qualified names remembered, for trees whose namespaces
all have a known prefix (pypsrp's, for envelopes). It answers None for anything it does not write the standard
library's way (a namespace without a known prefix, a comment, a value that is not text), and the caller then
uses ``ElementTree.tostring``. Tests hold the two equal, byte for byte.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

_CACHE_LIMIT = 1024


class _Unwritable(Exception):
    """Something the standard library would write differently (or refuse)."""


class XMLWriter:
    """Writes trees whose namespace URIs all appear in `prefixes` (URI -> prefix; the "xml" prefix is never
    declared, as in the standard library)."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        self._prefixes = dict(prefixes)
        # tag or attribute name -> (qualified name, namespace URI or None)
        self._names: dict[str, tuple[str, str | None]] = {}

    def tostring(self, element: ET.Element) -> bytes | None:
        out: list[str] = []
        used: dict[str, str] = {}  # URI -> prefix, of the namespaces the tree uses
        try:
            declarations = self._write(element, out, used, root=True)
        except _Unwritable:
            return None
        # Like the standard library, the root declares every namespace of the tree, sorted by prefix.
        out[declarations] = "".join(
            f' xmlns:{prefix}="{escape_attribute(uri)}"' for uri, prefix in sorted(used.items(), key=lambda x: x[1])
        )
        return "".join(out).encode("utf-8", "xmlcharrefreplace")

    def fragment(self, element: ET.Element, used: dict[str, str]) -> str | None:
        """`element` written as it appears inside a larger tree: the same text as in ``tostring`` of a tree that
        holds it, without namespace declarations; the namespaces it uses are added to `used` (URI -> prefix) for
        the root to declare. None when `tostring` would answer None."""
        out: list[str] = []
        try:
            self._write(element, out, used)
        except _Unwritable:
            return None
        return "".join(out)

    def _write(self, element: ET.Element, out: list[str], used: dict[str, str], *, root: bool = False) -> int:
        tag = element.tag
        if not isinstance(tag, str):
            raise _Unwritable("a comment, processing instruction or QName")
        name = self._name(tag, used)
        out.append("<" + name)
        declarations = len(out)
        if root:
            out.append("")  # filled in once the whole tree is known
        for key, value in element.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise _Unwritable("an attribute that is not text")
            out.append(f' {self._name(key, used)}="{escape_attribute(value)}"')
        text = element.text
        if text is not None and not isinstance(text, str):
            raise _Unwritable("text that is not a string")
        if text or len(element):
            out.append(">")
            if text:
                out.append(escape_text(text))
            for child in element:
                self._write(child, out, used)
            out.append("</" + name + ">")
        else:
            out.append(" />")
        tail = element.tail
        if tail:
            if not isinstance(tail, str):
                raise _Unwritable("a tail that is not a string")
            out.append(escape_text(tail))
        return declarations

    def _name(self, name: str, used: dict[str, str]) -> str:
        known = self._names.get(name)
        if known is None:
            known = self._qualify(name)
        qualified, uri = known
        if uri is not None and uri not in used:
            used[uri] = qualified.split(":", 1)[0]
        return qualified

    def _qualify(self, name: str) -> tuple[str, str | None]:
        if name[:1] != "{":
            found: tuple[str, str | None] = (name, None)
        else:
            uri, _, local = name[1:].rpartition("}")
            prefix = self._prefixes.get(uri)
            if not prefix or not uri:
                raise _Unwritable(f"no prefix known for namespace {uri!r}")
            found = (f"{prefix}:{local}", None if prefix == "xml" else uri)
        if len(self._names) >= _CACHE_LIMIT:
            self._names.clear()
        self._names[name] = found
        return found


def escape_text(text: str) -> str:
    """Character data as ElementTree writes it."""
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    return text


_ATTRIBUTE_ESCAPES = (('"', "&quot;"), ("\r", "&#13;"), ("\n", "&#10;"), ("\t", "&#09;"))


_escaped_attributes: dict[str, str] = {}  # the same few values recur in every envelope ("true", "en-US", ...)


def escape_attribute(text: str) -> str:
    """An attribute value as ElementTree writes it (between double quotes)."""
    escaped = _escaped_attributes.get(text)
    if escaped is not None:
        return escaped
    escaped = escape_text(text)
    for char, entity in _ATTRIBUTE_ESCAPES:
        if char in escaped:
            escaped = escaped.replace(char, entity)
    if len(text) <= 64:  # names, flags and ids; bounded like the name cache
        if len(_escaped_attributes) >= _CACHE_LIMIT:
            _escaped_attributes.clear()
        _escaped_attributes[text] = escaped
    return escaped
