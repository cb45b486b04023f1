"""The only place where the lab touches psrpcore private API (pinned: psrpcore 0.3.x).

psrpcore 0.3.1 has no public way to
* mark a server pipeline Running *without* emitting PIPELINE_STATE=Running (Windows PowerShell 5.1
  never sends that message), nor
* end a pipeline **Failed** with an ErrorRecord (only ``complete()`` and ``stop()`` exist).
Both go through ``ServerPipeline._change_state``.

It also makes psrpcore (``reuse_client_messages``, installed once per process)
* read each distinct opening message of a client (SESSION_CAPABILITY, INIT_RUNSPACEPOOL,
  CREATE_PIPELINE) once: a scan sends every simulated server the same bytes, and reading them was the
  largest share of the lab's CPU per server. psrpcore builds its own objects from the ones read (the
  event properties), and reads them only;
* serialise an object marked with ``serialise_once`` once (the lab's Get-ExchangeServer objects, which
  never change): listing 200 servers cost a second of CPU for every scan; and likewise the messages every
  pool sends alike: its capability, the shared private data (``shared_private_data``), and the
  Opened/Completed states without an error (about 2 ms of CPU per simulated server). The XML text of
  such a reused element is written once too (psrpcore's message layer gets a ``tostring`` that keeps it).

Nothing else in the lab may call private psrpcore members; if psrpcore changes, this module is the one
to adapt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from xml.etree import ElementTree

import psrpcore
import psrpcore._base as _psrpcore_base
from psrpcore.types import (
    ApplicationPrivateData,
    ErrorRecord,
    PipelineState,
    PSInvocationState,
    PSPrimitiveDictionary,
    PSRPMessageType,
    RunspacePoolStateMsg,
    SessionCapability,
)

__all__ = ["fail_pipeline", "mark_running_silently", "reuse_client_messages", "serialise_once", "shared_private_data"]

try:
    _VERSION = version("psrpcore")
except PackageNotFoundError:  # pragma: no cover - vendored/unusual installs
    _VERSION = "0.3"
if not _VERSION.startswith("0.3."):  # pragma: no cover - guards an unpinned upgrade
    raise ImportError(f"eems_check.lab needs psrpcore 0.3.x, found {_VERSION}")


def mark_running_silently(pipeline: psrpcore.ServerPipeline) -> None:
    """NotStarted -> Running without queuing a PIPELINE_STATE message (as PowerShell 5.1 does)."""
    pipeline._change_state(PSInvocationState.Running, emit=False)


def fail_pipeline(pipeline: psrpcore.ServerPipeline, error: ErrorRecord) -> None:
    """Running -> Failed, queuing PIPELINE_STATE=Failed carrying ``error`` as ExceptionAsErrorRecord."""
    pipeline._change_state(PSInvocationState.Failed, error=error)


class _ByIdentity:
    """Values remembered per object, by identity: each entry keeps its object alive, so an id is never reused
    while remembered. Past `limit` entries all are dropped at once (the lab's objects are few per run)."""

    def __init__(self, limit: int) -> None:
        self._entries: dict[int, tuple[Any, Any]] = {}
        self._limit = limit

    def get(self, obj: Any) -> Any:
        entry = self._entries.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else None

    def put(self, obj: Any, value: Any) -> Any:
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(obj)] = (obj, value)
        return value


_REUSABLE = frozenset(
    {PSRPMessageType.SessionCapability, PSRPMessageType.InitRunspacePool, PSRPMessageType.CreatePipeline}
)
_READ_LIMIT = 64
_reading = threading.local()  # the key of the reusable message this thread is processing, if any
_read: dict[Hashable, Any] = {}
_install_lock = threading.Lock()


def reuse_client_messages() -> None:
    """Install, once per process, the reuse of what psrpcore read from identical client messages."""
    with _install_lock:
        if getattr(_psrpcore_base, "_eems_lab_reuse", False):
            return
        process = _psrpcore_base.RunspacePool._process_message
        deserialize = _psrpcore_base.deserialize

        def process_message(self: Any, message: Any) -> Any:
            reusable = message.message_type in _REUSABLE
            _reading.key = (message.message_type, bytes(message.data)) if reusable else None
            try:
                return process(self, message)
            finally:
                _reading.key = None

        def read(value: Any, cipher: Any, **kwargs: Any) -> Any:
            key = getattr(_reading, "key", None)
            if key is None:
                return deserialize(value, cipher, **kwargs)
            full = (key, _peers(kwargs))
            found = _read.get(full)
            if found is None:
                found = deserialize(value, cipher, **kwargs)
                if len(_read) >= _READ_LIMIT:
                    _read.clear()
                _read[full] = found
            return found

        serialize = _psrpcore_base.serialize

        def write(value: Any, cipher: Any, **kwargs: Any) -> Any:
            constant = _constant(value)
            elements = _constants if constant is not None else _unchanging.get(value)
            if elements is None:
                return serialize(value, cipher, **kwargs)
            key = (constant, _peers(kwargs))
            element = elements.get(key)
            if element is None:
                element = elements[key] = serialize(value, cipher, **kwargs)
                _texts.put(element, {})  # reused as it is: its text can be kept too
            return element

        _psrpcore_base.RunspacePool._process_message = process_message  # type: ignore[method-assign]
        _psrpcore_base.deserialize = read
        _psrpcore_base.serialize = write
        _psrpcore_base.ElementTree = _TreeKeepingTexts()  # type: ignore[assignment]
        _psrpcore_base._eems_lab_reuse = True  # type: ignore[attr-defined]


_unchanging = _ByIdentity(20000)  # object -> its elements by peer capabilities
_capability_keys = _ByIdentity(20000)  # capability -> its versions as a key


def serialise_once(value: Any) -> None:
    """Mark `value` as never changing: psrpcore serialises it once (per peer capability) and reuses that."""
    _unchanging.put(value, {})


def _peers(kwargs: dict[str, Any]) -> Hashable:
    """The two capabilities psrpcore passes to (de)serialisation, as a key."""
    return (_capability(kwargs.get("our_capability")), _capability(kwargs.get("their_capability")))


def _capability(capability: Any) -> Hashable:
    """A capability's versions as a key; remembered per object (reading psrpcore properties is slow)."""
    if capability is None:
        return None
    key = _capability_keys.get(capability)
    if key is None:
        names = ("protocolversion", "PSVersion", "SerializationVersion")
        key = _capability_keys.put(capability, tuple(str(getattr(capability, name, "")) for name in names))
    return key


_constants: dict[Hashable, Any] = {}
_private_data: list[dict[str, Any]] = []


def shared_private_data(build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One APPLICATION_PRIVATE_DATA dict for every pool of the process (built by `build` once), so its message
    is serialised once. psrpcore only adds defaults to it (setdefault), the same ones for every pool.

    It is psrpcore's own dictionary type already: the APPLICATION_PRIVATE_DATA message keeps such a value as it
    is, where it would copy a plain dict into a new one for every pool (and then nothing matches it)."""
    with _install_lock:
        if not _private_data:
            _private_data.append(PSPrimitiveDictionary(build()))
        return _private_data[0]


def _constant(value: Any) -> Hashable | None:
    """A key for a message every pool sends alike, or None."""
    if isinstance(value, SessionCapability) and getattr(value, "TimeZone", None) is None:
        return ("capability", str(value.PSVersion), str(value.protocolversion), str(value.SerializationVersion))
    if isinstance(value, RunspacePoolStateMsg) and getattr(value, "ExceptionAsErrorRecord", None) is None:
        return ("pool state", int(value.RunspaceState))
    if isinstance(value, PipelineState) and getattr(value, "ExceptionAsErrorRecord", None) is None:
        return ("pipeline state", int(value.PipelineState))
    shared = _private_data[0] if _private_data else None
    if isinstance(value, ApplicationPrivateData) and shared is not None and value.ApplicationPrivateData is shared:
        return ("private data",)
    return None


_texts = _ByIdentity(40000)  # reused element -> its texts by tostring options


class _TreeKeepingTexts:
    """``xml.etree.ElementTree`` as psrpcore's message layer sees it, except that ``tostring`` of an element the
    serialisation caches reuse returns the text made the first time."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ElementTree, name)

    @staticmethod
    def tostring(element: ElementTree.Element, **options: Any) -> Any:
        texts = _texts.get(element)
        if texts is None:
            return ElementTree.tostring(element, **options)
        key = tuple(sorted(options.items()))
        text = texts.get(key)
        if text is None:
            text = texts[key] = ElementTree.tostring(element, **options)
        return text
