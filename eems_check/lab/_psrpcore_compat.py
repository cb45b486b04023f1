"""The only place where the lab touches psrpcore private API (pinned: psrpcore 0.3.x).

psrpcore 0.3.1 has no public way to
* mark a server pipeline Running *without* emitting PIPELINE_STATE=Running (Windows PowerShell 5.1
  never sends that message), nor
* end a pipeline **Failed** with an ErrorRecord (only ``complete()`` and ``stop()`` exist).
Both go through ``ServerPipeline._change_state``; so does ``complete_pipeline``, which queues the same
PIPELINE_STATE=Completed object for every pipeline (``complete()`` builds a new one each time).

It also makes psrpcore (``reuse_client_messages``, installed once per process)
* read each distinct opening message of a client (SESSION_CAPABILITY, INIT_RUNSPACEPOOL,
  CREATE_PIPELINE) once: a scan sends every simulated server the same bytes, and reading them was the
  largest share of the lab's CPU per server. A message read before is not even parsed as XML again
  (psrpcore's message layer gets a ``fromstring`` that skips it). psrpcore builds its own objects from
  the ones read (the event properties), and reads them only;
* build the pipeline description (``CreatePipelineEvent.pipeline``: about 16% of the CPU per server), the
  host info (``InitRunspacePoolEvent.host_info``) and the other event properties psrpcore reads from those
  messages (``_BUILT_ONCE``) once per distinct message too. Nothing writes to them after: psrpcore 0.3.1
  only stores them (``ServerPipeline.metadata``, ``ServerRunspacePool.host``, which it never reads on the
  server side, the pool's settings, the peer's capability), and the lab reads the commands and their
  parameters (it copies the command list). Whoever would change them must copy them first;
* give every runspace pool the same capability objects: psrpcore builds its own SessionCapability (and its
  two PSVersions) for each pool and another from the client's SESSION_CAPABILITY, and keys them for the
  caches above: about 15% of the CPU per server. Its runspace pool layer gets a ``SessionCapability`` that
  returns one object per distinct set of values (the same objects: psrpcore passes the versions it read from
  a reused message, and its own default versions come from a ``PSVersion`` that returns one object per
  version string). psrpcore and the lab only read capabilities and versions;
* likewise give every pool the same RUNSPACEPOOL_STATE object for a state without an error and the same
  APPLICATION_PRIVATE_DATA object for the shared private data (psrpcore's server layer gets constructors
  that return them; it builds such a message, queues it and drops it);
* serialise an object marked with ``serialise_once`` once (the lab's Get-ExchangeServer objects, which
  never change): listing 200 servers cost a second of CPU for every scan; and likewise the messages every
  pool sends alike: its capability, the shared private data (``shared_private_data``), and the
  Opened/Completed states without an error (about 2 ms of CPU per simulated server). The XML text of
  such a reused element is written once too (psrpcore's message layer gets a ``tostring`` that keeps it),
  and the text of a lone element without attributes or children (a string of pipeline output: ``<S>…</S>``)
  is written directly, as ElementTree writes it, instead of through ElementTree's general writer.

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
import psrpcore._server as _psrpcore_server
from psrpcore import CreatePipelineEvent, InitRunspacePoolEvent, SessionCapabilityEvent
from psrpcore.types import (
    ApplicationPrivateData,
    ErrorRecord,
    PipelineState,
    PSInvocationState,
    PSPrimitiveDictionary,
    PSRPMessageType,
    PSVersion,
    RunspacePoolStateMsg,
    SessionCapability,
)

from eems_check.collect.xmlwrite import escape_text

__all__ = [
    "complete_pipeline",
    "fail_pipeline",
    "mark_running_silently",
    "reuse_client_messages",
    "serialise_once",
    "shared_private_data",
]

try:
    _VERSION = version("psrpcore")
except PackageNotFoundError:  # pragma: no cover - vendored/unusual installs
    _VERSION = "0.3"
if not _VERSION.startswith("0.3."):  # pragma: no cover - guards an unpinned upgrade
    raise ImportError(f"eems_check.lab needs psrpcore 0.3.x, found {_VERSION}")


def mark_running_silently(pipeline: psrpcore.ServerPipeline) -> None:
    """NotStarted -> Running without queuing a PIPELINE_STATE message (as PowerShell 5.1 does)."""
    pipeline._change_state(PSInvocationState.Running, emit=False)


def complete_pipeline(pipeline: psrpcore.ServerPipeline) -> None:
    """Running -> Completed, queuing PIPELINE_STATE=Completed as ``complete()`` does, but the same message object
    (serialised once) for every pipeline."""
    pipeline.prepare_message(_one_pipeline_state(PSInvocationState.Completed))
    pipeline._change_state(PSInvocationState.Completed, emit=False)


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
# What this thread's psrpcore is processing, if it is a reusable message: ``key`` and, if read before, ``found``.
_reading = threading.local()
_read: dict[Hashable, Any] = {}
_install_lock = threading.Lock()
_NOT_PARSED = ElementTree.Element("not-parsed")  # stands for the XML of a message whose reading is reused


def reuse_client_messages() -> None:
    """Install, once per process, the reuse of what psrpcore read from identical client messages."""
    with _install_lock:
        if getattr(_psrpcore_base, "_eems_lab_reuse", False):
            return
        process = _psrpcore_base.RunspacePool._process_message
        deserialize = _psrpcore_base.deserialize

        def process_message(self: Any, message: Any) -> Any:
            # psrpcore reads the message with these two capabilities (``deserialize(..., our_capability=
            # self.our_capability, their_capability=self.their_capability)``), before processing it.
            if message.message_type in _REUSABLE:
                key = (message.message_type, bytes(message.data), _peers(self.our_capability, self.their_capability))
                _reading.key, _reading.found = key, _read.get(key)
            try:
                return process(self, message)
            finally:
                _reading.key = _reading.found = None

        def read(value: Any, cipher: Any, **kwargs: Any) -> Any:
            key = getattr(_reading, "key", None)
            if key is None:
                return deserialize(value, cipher, **kwargs)
            found = _reading.found
            if found is None:
                found = deserialize(value, cipher, **kwargs)
                if len(_read) >= _READ_LIMIT:
                    _read.clear()
                _read[key] = found
            if _built.get(found) is None:
                _built.put(found, {})  # what psrpcore builds from it can be kept too
            return found

        serialize = _psrpcore_base.serialize

        def write(value: Any, cipher: Any, **kwargs: Any) -> Any:
            constant = _constant(value)
            elements = _constants if constant is not None else _unchanging.get(value)
            if elements is None:
                return serialize(value, cipher, **kwargs)
            key = (constant, _peers(kwargs.get("our_capability"), kwargs.get("their_capability")))
            element = elements.get(key)
            if element is None:
                element = elements[key] = serialize(value, cipher, **kwargs)
                _texts.put(element, {})  # reused as it is: its text can be kept too
            return element

        _psrpcore_base.RunspacePool._process_message = process_message  # type: ignore[method-assign]
        _psrpcore_base.deserialize = read
        _psrpcore_base.serialize = write
        _psrpcore_base.ElementTree = _TreeKeepingTexts()  # type: ignore[assignment]
        _psrpcore_base.SessionCapability = _one_capability  # type: ignore[assignment,misc]
        _psrpcore_base.PSVersion = _one_version  # type: ignore[assignment,misc]
        _psrpcore_server.RunspacePoolStateMsg = _one_pool_state  # type: ignore[assignment,misc]
        _psrpcore_server.ApplicationPrivateData = _one_private_data_message  # type: ignore[assignment,misc]
        for event_type, names in _BUILT_ONCE:
            for name in names:
                _build_once(event_type, name)
        _psrpcore_base._eems_lab_reuse = True  # type: ignore[attr-defined]


_built = _ByIdentity(4 * _READ_LIMIT)  # object read from a client message -> what psrpcore built from it, by name
# The event properties psrpcore reads when it processes those messages (each reading a psrpcore property at least).
_BUILT_ONCE = (
    (CreatePipelineEvent, ("pipeline",)),
    (
        InitRunspacePoolEvent,
        (
            "host_info",
            "min_runspaces",
            "max_runspaces",
            "ps_thread_options",
            "apartment_state",
            "application_arguments",
        ),
    ),
    (SessionCapabilityEvent, ("ps_version", "protocol_version", "serialization_version")),
)


def _build_once(event_type: type, name: str) -> None:
    """Make the event property `name` (which psrpcore computes anew from the event's object read from the
    message, ``_ps_object``, at every access) build its value once per object read, when that object is a
    reused reading. Nothing may change the value afterwards (see the module docstring)."""
    build = getattr(event_type, name).fget

    def get(event: Any) -> Any:
        built = _built.get(event._ps_object)
        if built is None:
            return build(event)
        value = built.get(name)
        if value is None:
            value = built[name] = build(event)
        return value

    setattr(event_type, name, property(get, doc=getattr(event_type, name).__doc__))


_versions: dict[str, PSVersion] = {}
_capabilities: dict[Hashable, tuple[tuple[Any, ...], SessionCapability]] = {}
_CAPABILITY_LIMIT = 64


def _one_version(version_str: Any = None, *args: Any, **kwargs: Any) -> PSVersion:
    """``PSVersion`` as psrpcore's runspace pool layer sees it (where it makes a pool's default versions):
    one object per version string."""
    if args or kwargs or not isinstance(version_str, str):
        return PSVersion(version_str, *args, **kwargs)
    found = _versions.get(version_str)
    if found is None:
        found = _versions.setdefault(version_str, PSVersion(version_str))
    return found


def _one_capability(**values: Any) -> SessionCapability:
    """``SessionCapability`` as psrpcore's runspace pool layer sees it (a pool's own, and the one it makes from
    the peer's message): one object per set of value objects. The entry keeps those objects alive, so the ids in
    its key stay theirs."""
    key = tuple((name, id(value)) for name, value in values.items())
    entry = _capabilities.get(key)
    if entry is None:
        if len(_capabilities) >= _CAPABILITY_LIMIT:
            _capabilities.clear()
        entry = _capabilities[key] = (tuple(values.values()), SessionCapability(**values))
    return entry[1]


_unchanging = _ByIdentity(20000)  # object -> its elements by peer capabilities
_capability_keys = _ByIdentity(20000)  # capability -> its versions as a key


def serialise_once(value: Any) -> None:
    """Mark `value` as never changing: psrpcore serialises it once (per peer capability) and reuses that."""
    _unchanging.put(value, {})


def _peers(ours: Any, theirs: Any) -> Hashable:
    """The two capabilities psrpcore passes to (de)serialisation, as a key."""
    return (_capability(ours), _capability(theirs))


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
    known = _message_keys.get(value)
    if known is not None:
        return known or None
    if isinstance(value, SessionCapability):  # shared by the pools (`_one_capability`): remembered
        plain = getattr(value, "TimeZone", None) is None
        return _message_keys.put(value, ("capability", _capability(value)) if plain else False) or None
    if isinstance(value, RunspacePoolStateMsg) and getattr(value, "ExceptionAsErrorRecord", None) is None:
        return ("pool state", int(value.RunspaceState))
    if isinstance(value, PipelineState) and getattr(value, "ExceptionAsErrorRecord", None) is None:
        return ("pipeline state", int(value.PipelineState))
    shared = _private_data[0] if _private_data else None
    if isinstance(value, ApplicationPrivateData) and shared is not None and value.ApplicationPrivateData is shared:
        return ("private data",)
    return None


_message_keys = _ByIdentity(20000)  # a message object the pools share -> its `_constant` key (False: none)
_shared_messages: dict[Hashable, Any] = {}


def _shared_message(key: Hashable, build: Callable[[], Any]) -> Any:
    """The one message object for `key` (built by `build` the first time)."""
    found = _shared_messages.get(key)
    if found is None:
        found = _shared_messages.setdefault(key, build())
        _message_keys.put(found, key)
    return found


def _one_pool_state(**values: Any) -> RunspacePoolStateMsg:
    """``RunspacePoolStateMsg`` as psrpcore's server layer sees it: one object per state without an error."""
    if len(values) != 1 or "RunspaceState" not in values:
        return RunspacePoolStateMsg(**values)
    state = int(values["RunspaceState"])
    return _shared_message(("pool state", state), lambda: RunspacePoolStateMsg(RunspaceState=state))


def _one_pipeline_state(state: PSInvocationState) -> PipelineState:
    """The one PIPELINE_STATE message object for a state without an error."""
    return _shared_message(("pipeline state", int(state)), lambda: PipelineState(PipelineState=int(state)))


def _one_private_data_message(**values: Any) -> ApplicationPrivateData:
    """``ApplicationPrivateData`` as psrpcore's server layer sees it: one object for the shared private data."""
    shared = _private_data[0] if _private_data else None
    if shared is None or len(values) != 1 or values.get("ApplicationPrivateData") is not shared:
        return ApplicationPrivateData(**values)
    return _shared_message(("private data",), lambda: ApplicationPrivateData(ApplicationPrivateData=shared))


_texts = _ByIdentity(40000)  # reused element -> its texts by tostring options


class _TreeKeepingTexts:
    """``xml.etree.ElementTree`` as psrpcore's message layer sees it, except that ``tostring`` of an element the
    serialisation caches reuse returns the text made the first time, and ``fromstring`` does not parse a message
    whose reading is reused (psrpcore only hands the parsed XML to ``deserialize``, which then ignores it)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(ElementTree, name)

    @staticmethod
    def fromstring(text: Any, *args: Any, **kwargs: Any) -> Any:
        """Parse a message's XML, unless this thread's psrpcore is reading a message read before."""
        if getattr(_reading, "found", None) is not None:
            return _NOT_PARSED
        return ElementTree.fromstring(text, *args, **kwargs)

    @staticmethod
    def tostring(element: ElementTree.Element, **options: Any) -> Any:
        texts = _texts.get(element)
        if texts is None:
            if options == _MESSAGE_OPTIONS and _lone(element):
                return _lone_text(element)
            return ElementTree.tostring(element, **options)
        key = tuple(sorted(options.items()))
        text = texts.get(key)
        if text is None:
            text = texts[key] = ElementTree.tostring(element, **options)
        return text


_MESSAGE_OPTIONS = {"encoding": "utf-8", "method": "xml"}  # how psrpcore writes every message


def _lone(element: ElementTree.Element) -> bool:
    """An element with a plain tag and text only: no attributes, children or tail."""
    tag = element.tag
    return (
        type(tag) is str
        and not element.attrib
        and len(element) == 0
        and element.tail is None
        and tag[:1] != "{"
        and (element.text is None or type(element.text) is str)
    )


def _lone_text(element: ElementTree.Element) -> bytes:
    """``ElementTree.tostring(element, encoding="utf-8", method="xml")`` for a `_lone` element: ``<T>text</T>``,
    or ``<T />`` without text; ``&``, ``<`` and ``>`` escaped; what UTF-8 cannot encode as character references."""
    tag, text = element.tag, element.text
    if not text:
        return f"<{tag} />".encode()
    return f"<{tag}>{escape_text(text)}</{tag}>".encode("utf-8", "xmlcharrefreplace")
