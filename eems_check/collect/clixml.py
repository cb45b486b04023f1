"""Read one CLIXML output object ([MS-PSRP] 2.2.5) straight into the plain shapes of `plain`.

What it does: `read_plain(text)` gives what `remoting.to_plain` makes of pypsrp's reading of the same text, for the
shapes cmdlets return: property objects (`<Props>`, `<MS>`, `<ToString>`, type names, `<Ref>`s), enums (a
primitive with its ToString), multi-valued properties (a `<LST>` inside a typed object) and primitives. For any
other shape it raises `NotPlain`, and the caller reads the text with pypsrp instead; tests hold the two readings
equal. pypsrp writes every element it reads back out as text first, which made reading Get-ExchangeServer's
answer cost several milliseconds of CPU per server listed.

What it must not do: import a remoting library, or guess: a shape it is not sure of is `NotPlain`.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any, cast

from .plain import PSBag

__all__ = ["NotPlain", "read_plain", "read_primitive", "unescape"]


class NotPlain(Exception):
    """The text holds a shape this reader leaves to pypsrp."""


# pypsrp turns an object into a generic property object when the first of its type names it knows is one of
# these; these System types it does not know at all, so they do not decide anything. Any other System type
# (lists, dictionaries, records, ...) gets special treatment there, so it is NotPlain here.
_GENERIC = frozenset({"System.Object", "System.Management.Automation.PSObject"})
_NEUTRAL = frozenset({"System.Enum", "System.ValueType", "System.MarshalByRefObject"})
_ESCAPE = re.compile(r"_x([A-Za-z0-9_]{4})_")
_HEX = frozenset("0123456789abcdefABCDEF")
_LISTS = frozenset({"LST", "IE", "STK", "QUE"})
_LIST_TEXT = tuple(f"<{tag}" for tag in sorted(_LISTS))


def unescape(text: str | None) -> str:
    """A CLIXML string with its `_xHHHH_` escapes ([MS-PSRP] 2.2.5.1.1) undone, UTF-16 pairs joined."""
    if not text:
        return ""
    if "_x" not in text:
        return text

    def unit(match: re.Match[str]) -> str:
        digits = match.group(1)
        if not set(digits) <= _HEX:
            raise NotPlain(f"not an escape: {match.group(0)}")
        return chr(int(digits, 16))

    joined = _ESCAPE.sub(unit, text)
    try:
        return joined.encode("utf-16-be", "surrogatepass").decode("utf-16-be")
    except UnicodeDecodeError as exc:
        raise NotPlain("a lone UTF-16 surrogate") from exc


# A GUID as PowerShell writes it, which is also how `uuid` writes it back: no need to parse it (parsing is the
# slowest of all primitives, and an ExchangeServer holds several).
_CANONICAL_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _guid(text: str) -> str:
    return text if _CANONICAL_GUID.fullmatch(text) else str(uuid.UUID(text))


_PRIMITIVES: dict[str, Callable[[str], Any]] = {
    **dict.fromkeys(("S", "ToString", "URI", "XD", "SBK"), unescape),
    "B": lambda text: text.lower() == "true",
    "C": lambda text: chr(int(text)),
    **dict.fromkeys(("By", "SB", "U16", "I16", "U32", "I32", "U64", "I64"), int),
    **dict.fromkeys(("Sg", "Db"), float),
    **dict.fromkeys(("DT", "TS", "D", "Version"), str),
    "G": _guid,
}
_EMPTY_IS_TEXT = frozenset({"S", "ToString", "URI", "XD", "SBK"})


def read_primitive(element: ET.Element) -> Any:
    """The plain value of a primitive element (`<S>`, `<I32>`, `<B>`, `<G>`, ...); `NotPlain` for any other
    element, or for a primitive pypsrp could not read either (an empty number, a bad escape)."""
    tag = element.tag
    convert = _PRIMITIVES.get(tag)
    if convert is None:
        raise NotPlain(f"a <{tag}>")
    if element.text is None:
        if tag in _EMPTY_IS_TEXT:
            return ""
        raise NotPlain(f"an empty <{tag}>")
    try:
        return convert(element.text)
    except ValueError as exc:
        raise NotPlain(f"a bad <{tag}>") from exc


def read_plain(text: str) -> Any:
    """The plain value of one serialized object (see the module docstring); `NotPlain` when unsure."""
    try:
        element = ET.fromstring(text)
    except ET.ParseError as exc:
        raise NotPlain("not XML") from exc
    return _Reader().value(element)


class _Reader:
    """Reads one serialized object; `objects` and `types` hold what its `RefId`s name so far.

    This is the hot path of discovery (every server listed is one object of ~80 properties), so the common
    shapes take the short way: a primitive or nil member is converted in the members loop itself, the checks
    on embedded data run only for an object that has some, and the decision on a list of type names is
    remembered (`_is_generic`). Each short way gives what the general way (`value`, `read_primitive`) gives.
    """

    __slots__ = ("objects", "types")

    def __init__(self) -> None:
        self.types: dict[str, tuple[str, ...]] = {}
        self.objects: dict[str, Any] = {}

    def value(self, element: ET.Element) -> Any:
        tag = element.tag
        if tag in _PRIMITIVES:
            return read_primitive(element)
        if tag == "Nil":
            return None
        if tag == "Ref":
            ref = element.get("RefId")
            if ref not in self.objects:
                raise NotPlain("a reference to an unknown object")
            return self.objects[ref]
        if tag == "Obj":
            return self._object(element)
        raise NotPlain(f"a <{tag}>")

    def _object(self, element: ET.Element) -> Any:
        # The type names come first, as in pypsrp: a <TN>'s RefId is known before any member is read, wherever
        # the <TN> stands. Members are read in document order (a <Ref> names an object read before it).
        types = self._types(element)
        if types and not _is_generic(types):
            raise NotPlain("an object pypsrp reads specially")
        adapted: dict[str, Any] | None = None
        extended: dict[str, Any] | None = None
        to_string: str | None = None
        extra: list[ET.Element] = []
        for child in element:
            tag = child.tag
            if tag == "TN" or tag == "TNRef":
                continue
            if tag == "Props":
                adapted = self._members(child, {} if adapted is None else adapted)
            elif tag == "MS":
                extended = self._members(child, {} if extended is None else extended)
            elif tag == "ToString":
                to_string = unescape(child.text)
            else:
                extra.append(child)
        if adapted and extended:
            props: dict[str, Any] | None = {**adapted, **extended}  # extended wins, in adapted's order
        else:
            props = adapted or extended
        result = self._shape(props, to_string, types, extra) if extra else self._plain(props, to_string, types)
        ref = element.get("RefId")
        if ref is not None:
            self.objects[ref] = result
        return result

    @staticmethod
    def _plain(props: dict[str, Any] | None, to_string: str | None, types: tuple[str, ...]) -> Any:
        """An object with no embedded data: a bag of its members, else its ToString, else None."""
        if props:
            return PSBag(props, to_string, types)
        return to_string  # an enum or a value type: its ToString is what PowerShell shows

    def _shape(
        self, props: dict[str, Any] | None, to_string: str | None, types: tuple[str, ...], extra: list[ET.Element]
    ) -> Any:
        """An object with embedded data (`extra`, the children that are not members, type names or ToString)."""
        listed: ET.Element | None = None
        other = False
        for child in extra:
            tag = child.tag
            if tag in _EMPTY_IS_TEXT and (child.text or "").startswith(_LIST_TEXT):
                raise NotPlain("a string that pypsrp's reader would take for an embedded list")
            if tag in _LISTS:
                if listed is None:
                    listed = child
            elif tag not in _PRIMITIVES and tag != "Nil":
                other = True
        if listed is not None:
            return [_Reader().value(item) for item in listed]  # read alone, as pypsrp reads an embedded list
        if other:
            raise NotPlain("an object with other embedded data")
        if props or to_string is not None:
            return self._plain(props, to_string, types)
        return self.value(extra[0])

    def _members(self, holder: ET.Element, members: dict[str, Any]) -> dict[str, Any]:
        """`members` with the named members of a `<Props>` or `<MS>` added (a later one of a name wins)."""
        for member in holder:
            name = member.get("N")
            if name is None:
                raise NotPlain("a property without a name")
            tag = member.tag
            convert = _PRIMITIVES.get(tag)
            if convert is not None:
                text = member.text
                if text is None:
                    members[name] = read_primitive(member)
                    continue
                try:  # read_primitive's common case, without the call
                    members[name] = convert(text)
                except ValueError as exc:
                    raise NotPlain(f"a bad <{tag}>") from exc
            elif tag == "Obj":
                members[name] = self._object(member)
            elif tag == "Nil":
                members[name] = None
            else:
                members[name] = self.value(member)
        return members

    def _types(self, element: ET.Element) -> tuple[str, ...]:
        """The object's type names: those in its first `<TN>` (noted under that `<TN>`'s RefId), or, if it has
        none, those its first `<TNRef>` refers to."""
        names = element.find("TN")
        if names is not None:
            texts = [t.text for t in names]
            if None in texts:
                raise NotPlain("an empty type name")
            found = tuple(cast("list[str]", texts))
            ref = names.get("RefId")
            if ref is not None:
                self.types[ref] = found
            if found:
                return found
        pointer = element.find("TNRef")
        if pointer is not None:
            ref = pointer.get("RefId")
            if ref not in self.types:
                raise NotPlain("a reference to unknown type names")
            return self.types[ref]
        return ()


# Whether a list of type names makes a generic property object, by list: the same few lists come with every
# object a cmdlet returns. Bounded: a stream of distinct lists only ever costs recomputing; shared by threads,
# a lost entry too.
_GENERIC_BY_TYPES: dict[tuple[str, ...], bool] = {}
_GENERIC_BY_TYPES_LIMIT = 256


def _is_generic(types: tuple[str, ...]) -> bool:
    """Whether pypsrp reads an object with these type names as a generic property object (`_classify`)."""
    known = _GENERIC_BY_TYPES.get(types)
    if known is None:
        known = _classify(types)
        if len(_GENERIC_BY_TYPES) >= _GENERIC_BY_TYPES_LIMIT:
            _GENERIC_BY_TYPES.clear()
        _GENERIC_BY_TYPES[types] = known
    return known


def _classify(types: tuple[str, ...]) -> bool:
    """Whether the first of these type names that pypsrp knows makes a generic property object (see `_GENERIC`)."""
    for name in types:
        known = name[len("Deserialized.") :] if name.startswith("Deserialized.System.") else name
        if known in _GENERIC:
            return True
        if known in _NEUTRAL:
            continue
        if known.startswith(("System.", "Selected.")) or known.endswith("[]"):
            return False
    return False
