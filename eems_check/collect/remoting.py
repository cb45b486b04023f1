"""Remote PowerShell over WS-Management: the only module of eems-check that imports pypsrp.

What it does: opens `WSMan` -> `RunspacePool` -> `PowerShell` for two kinds of work and returns plain Python:
* `ExchangeSession`, on the Exchange endpoint (`/PowerShell`, configuration `Microsoft.Exchange`, NoLanguage). It
  exposes `run_cmdlet(name, **params)` and nothing else, so no script text can ever reach that endpoint.
* `run_script`, on a server's default endpoint (`/wsman`), which sends the collector script with its parameters.
Every pypsrp, requests or spnego exception leaves this module as `RemoteFailure(status, reason)`; the reason is
one line and never holds the password. Deserialized objects become plain Python in `to_plain` (the one converter).

What it must not do: decide what to collect, interpret results, retry, or print. It keeps no connection beyond a
call (or the `with` block of an Exchange session).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import lru_cache
from types import TracebackType
from typing import Any, ClassVar, cast

import requests
import spnego
from pypsrp._utils import get_hostname
from pypsrp.complex_objects import (
    ComplexObject,
    ErrorRecord,
    GenericComplexObject,
    InformationalRecord,
    PSInvocationState,
)
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.messages import (
    ApplicationPrivateData,
    CreatePipeline,
    InitRunspacePool,
    RunspacePoolStateMessage,
    SessionCapability,
)
from pypsrp.negotiate import HTTPNegotiateAuth
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import NAMESPACES, SelectorSet, WSMan, WSManAction

from ..model import CollectionStatus
from .clixml import NotPlain, read_plain, read_primitive
from .lean_http import LeanHTTPAdapter, LeanSession
from .plain import PSBag
from .xmlwrite import XMLWriter, escape_attribute, escape_text

log = logging.getLogger(__name__)

EXCHANGE_CONFIGURATION = "Microsoft.Exchange"
AUTH_METHODS = ("kerberos", "negotiate", "ntlm", "credssp", "basic")
_OPERATION_TIMED_OUT = 0x80338029
_CMDLET_NAME = re.compile(r"^[A-Za-z]+-[A-Za-z0-9]+$")
_PARAMETER_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_PLAIN_VALUES = (str, int, bool, type(None))
_REASON_LIMIT = 300
# pypsrp's own default SPN service class ("host" since 0.9.0, "WSMAN" before); used when --spn-service is not given.
DEFAULT_SPN_SERVICE = str(inspect.signature(HTTPNegotiateAuth.__init__).parameters["service"].default)
SPN_SERVICES = ("host", "HTTP", "WSMAN")


@dataclass(frozen=True)
class Target:
    """Where to connect: `name` is the server FQDN (messages, Kerberos SPN), `address` what the socket dials."""

    name: str
    address: str
    port: int
    https: bool

    @property
    def label(self) -> str:
        return f"{'https' if self.https else 'http'}://{self.name}:{self.port}"


@dataclass(frozen=True)
class Credentials:
    """How to authenticate and how long to wait. The password stays out of `repr`."""

    auth: str = "kerberos"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cert_validation: bool | str = True
    connect_timeout: float = 10.0
    operation_timeout: int = 20
    delegate: bool = False
    spn_service: str | None = None  # Kerberos SPN service class; None = pypsrp's default (DEFAULT_SPN_SERVICE)
    # Kerberos SPN host of the Exchange endpoint when it is not the server FQDN (a load-balanced namespace whose
    # key an Alternate Service Account holds). Only `ExchangeSession` uses it; `run_script` always names the FQDN.
    spn_hostname: str | None = None

    @property
    def read_timeout(self) -> float:
        # pypsrp wants the HTTP read timeout above the WS-Man OperationTimeout (the server may hold a Receive).
        return self.operation_timeout + 10.0


class RemoteFailure(Exception):
    """A remote call failed; `status` says how, `reason` is one password-free line."""

    def __init__(self, status: CollectionStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CommandResult:
    """What one pipeline produced: plain output objects, error and warning texts, and whether it ended Failed."""

    output: tuple[Any, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    failed: bool


def _wsman(target: Target, creds: Credentials, path: str, *, lean: bool = False) -> WSMan:
    """pypsrp's WSMan for `target`; `lean` puts the lean plain-HTTP adapter under a Negotiate-family session."""
    if creds.auth not in AUTH_METHODS:
        raise RemoteFailure(CollectionStatus.ERROR, f"unknown authentication {creds.auth!r}")
    if creds.auth == "basic" and not target.https:
        raise RemoteFailure(CollectionStatus.ERROR, "Basic authentication is refused over HTTP (use HTTPS)")
    extra: dict[str, Any] = {}
    if creds.auth in ("kerberos", "negotiate"):
        extra["negotiate_delegate"] = creds.delegate
        if creds.spn_service:
            extra["negotiate_service"] = creds.spn_service
        spn_host = creds.spn_hostname or target.name
        if target.address.lower() != spn_host.lower():
            extra["negotiate_hostname_override"] = spn_host  # the SPN names the server, not the dialled IP
    password = creds.password
    if creds.auth == "ntlm" and password is not None:
        password = ntlm_hash_secret(password)
    if creds.auth in ("kerberos", "negotiate", "ntlm") and not target.https:
        extra["negotiate_send_cbt"] = False  # channel binding is a TLS thing: nothing to bind over HTTP
    wsman = _WSMan(
        target.address,
        port=target.port,
        path=path,
        ssl=target.https,
        auth=creds.auth,
        username=creds.username,
        password=password,
        # A CA bundle path is accepted too. Without TLS there is nothing to verify, and requests would otherwise
        # look the CA bundle up on disk for every request (measurable per server).
        cert_validation=creds.cert_validation if target.https else False,  # type: ignore[arg-type]
        connection_timeout=creds.connect_timeout,  # type: ignore[arg-type]  # requests takes floats
        read_timeout=creds.read_timeout,  # type: ignore[arg-type]
        operation_timeout=creds.operation_timeout,
        # Over HTTP every message must be sealed: "always" fails closed when the auth cannot seal.
        encryption="auto" if target.https else "always",
        no_proxy=True,
        reconnection_retries=0,
        **extra,
    )
    _tune_session(wsman, lean=lean and not target.https and creds.auth in ("kerberos", "negotiate", "ntlm"))
    return wsman


_ENVELOPE_WRITER = XMLWriter({uri: prefix for prefix, uri in NAMESPACES.items()})


class _WSMan(WSMan):
    """pypsrp's WSMan, except that each request envelope is written straight to text: the bytes pypsrp would
    send (its ``_create_header`` written by ``ElementTree.tostring``), at about a fifth of the CPU. Building the
    header as a tree and writing it was the largest single cost of a request. The header comes from a template
    of pypsrp's fields, in pypsrp's order; the body, option set and selector set pypsrp builds are written by
    `XMLWriter`. Anything the writer leaves alone goes pypsrp's way. The answer is read as pypsrp reads it. The
    steps are those of ``WSMan.invoke`` in pypsrp <1; tests compare the bytes with pypsrp's, request by request
    in a scan."""

    def invoke(
        self,
        action: str,
        resource_uri: str,
        resource: ET.Element | None,
        option_set: Any = None,
        selector_set: Any = None,
        timeout: int | None = None,
        *,
        retries_on_read_timeout: int = 0,
    ) -> ET.Element:
        message_id = str(uuid.uuid4()).upper()
        xml = self._written(message_id, action, resource_uri, resource, option_set, selector_set, timeout)
        if xml is None:  # something the writer leaves to pypsrp and the standard library
            message_id, header = self._create_header(action, resource_uri, option_set, selector_set, timeout)
            envelope = ET.Element(_S_ENVELOPE)
            envelope.append(header)
            ET.SubElement(envelope, _S_BODY).extend([] if resource is None else [resource])
            xml = ET.tostring(envelope, encoding="utf-8", method="xml")
        # The HTTP timeout outlasts the WS-Management one, which the server answers within (a fault at worst).
        http_timeout = timeout + 2 if timeout else None
        try:
            answer = self.transport.send(xml, retries_on_read_timeout=retries_on_read_timeout, timeout=http_timeout)
        except WinRMTransportError as err:
            try:  # a SOAP fault in the answer is raised in its place (chained to it, as pypsrp does)
                raise self._parse_wsman_fault(err.response_text)
            except ET.ParseError:
                raise err  # noqa: B904 - no fault in the answer: the HTTP error it is, as pypsrp raises it
        answer_xml = ET.fromstring(answer)
        relates_to = answer_xml.find(_RELATES_TO)
        if relates_to is None or relates_to.text != f"uuid:{message_id}":
            sent = f"uuid:{message_id}"
            got = relates_to.text if relates_to is not None else ""
            raise WinRMError(
                f"Received related id does not match related expected message id: Sent: {sent}, Received: {got}"
            )
        return answer_xml

    def _written(
        self,
        message_id: str,
        action: str,
        resource_uri: str,
        resource: ET.Element | None,
        option_set: Any,
        selector_set: Any,
        timeout: int | None,
    ) -> bytes | None:
        """The envelope pypsrp would write for these arguments and this message id, or None."""
        used = dict(_HEADER_NAMESPACES)
        extras = []
        for extra in (option_set, selector_set):
            if extra is not None:
                written = _ENVELOPE_WRITER.fragment(extra.pack(), used)
                if written is None:
                    return None
                extras.append(written)
        body = "" if resource is None else _ENVELOPE_WRITER.fragment(resource, used)
        if body is None:
            return None
        attr, text = escape_attribute, escape_text
        header = "".join(
            (
                _element("wsa:Action", _MUST, text(action)),
                f'<wsmv:DataLocale s:mustUnderstand="false" xml:lang="{attr(self.data_locale)}" />',
                f'<wsman:Locale s:mustUnderstand="false" xml:lang="{attr(self.locale)}" />',
                _element("wsman:MaxEnvelopeSize", _MUST, text(str(self.max_envelope_size))),
                f"<wsa:MessageID>uuid:{text(message_id)}</wsa:MessageID>",
                f"<wsman:OperationTimeout>PT{text(str(timeout or self.operation_timeout))}S</wsman:OperationTimeout>",
                _REPLY_TO,
                _element("wsman:ResourceURI", _MUST, text(resource_uri)),
                f'<wsmv:SessionId s:mustUnderstand="false">uuid:{text(str(self.session_id).upper())}</wsmv:SessionId>',
                _element("wsa:To", "", text(self.transport.endpoint)),
                *extras,
            )
        )
        declarations = "".join(f' xmlns:{prefix}="{attr(uri)}"' for uri, prefix in sorted(used.items(), key=_by_value))
        envelope = f"<s:Envelope{declarations}><s:Header>{header}</s:Header>{_element('s:Body', '', body)}</s:Envelope>"
        return envelope.encode("utf-8", "xmlcharrefreplace")

    def _calc_envelope_size(self, max_envelope_size: int) -> int:
        """pypsrp's payload budget for `max_envelope_size` (it calls this when it is made and again when the
        server's capability raises the size): the same sum over the same skeleton Send envelope, whose length is
        worked out once per WSMan (it depends only on the header values, unchanged between the two calls) and
        written by `XMLWriter`. About 0.35 ms of CPU per server less; a test compares it with pypsrp's."""
        state: tuple[Any, ...] = (self.transport.endpoint, self.max_envelope_size, self.operation_timeout)
        state += (self.locale, self.data_locale, self.session_id)
        if getattr(self, "_skeleton", (None, 0))[0] != state:
            self._skeleton = (state, len(self._skeleton_envelope()))
        padded = self._skeleton[1] + 256  # pypsrp's margin for other headers, options and bodies
        return int((max_envelope_size - padded) / 4 * 3)  # the payload travels in base64

    def _skeleton_envelope(self) -> bytes:
        """The envelope pypsrp sizes its budget by: a Send to an all-zero shell with an empty stdin stream."""
        zero = "00000000-0000-0000-0000-000000000000"
        selector_set = SelectorSet()
        selector_set.add_option("ShellId", zero)
        _, header = self._create_header(WSManAction.SEND, _CMD_SHELL, selector_set=selector_set)
        send = ET.Element(f"{{{NAMESPACES['rsp']}}}Send")
        ET.SubElement(send, f"{{{NAMESPACES['rsp']}}}Stream", Name="stdin", CommandId=zero).text = ""
        envelope = ET.Element(_S_ENVELOPE)
        envelope.append(header)
        envelope.append(send)
        written = _ENVELOPE_WRITER.tostring(envelope)
        return written if written is not None else ET.tostring(envelope, encoding="utf-8", method="xml")


def _element(name: str, attributes: str, content: str) -> str:
    """An element as ElementTree writes it: the short form when it has no content."""
    return f"<{name}{attributes}>{content}</{name}>" if content else f"<{name}{attributes} />"


def _by_value(item: tuple[str, str]) -> str:
    return item[1]


# The envelope template's prefixes are pypsrp's (it registers them with ElementTree); "xml" is never declared.
_HEADER_NAMESPACES = {NAMESPACES[prefix]: prefix for prefix in ("s", "wsa", "wsman", "wsmv")}
_MUST = ' s:mustUnderstand="true"'
_REPLY_TO = (
    '<wsa:ReplyTo><wsa:Address s:mustUnderstand="true">'
    "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</wsa:Address></wsa:ReplyTo>"
)
_CMD_SHELL = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
# Qualified, not prefixed: ElementPath then finds its compiled path by the text alone (with a prefix map it
# sorts the whole map into its cache key on every call).
_RELATES_TO = f"{{{NAMESPACES['s']}}}Header/{{{NAMESPACES['wsa']}}}RelatesTo"
_S_ENVELOPE = f"{{{NAMESPACES['s']}}}Envelope"
_S_BODY = f"{{{NAMESPACES['s']}}}Body"


@lru_cache(maxsize=4)
def ntlm_hash_secret(password: str) -> str:
    """The password as the `LM:NT` hash pair that pyspnego takes in its place (NTLM only). pyspnego otherwise
    derives the LM hash, with a pure-Python DES, for every connection: about 2 ms of CPU per server, and NTLMv2
    never uses it. The NT hash is MD4 of the UTF-16LE password. This form is a secret as much as the password:
    it only ever goes to pyspnego, and it also stops a password that looks like such a pair being misread."""
    data = password.encode("utf-16-le", errors="surrogatepass")
    try:
        nt_hash = hashlib.new("md4", data).digest()
    except ValueError:  # OpenSSL 3 leaves MD4 to its legacy provider; pyspnego carries its own
        from spnego._ntlm_raw.md4 import md4  # private, but pinned with pyspnego

        nt_hash = md4(data)
    return f"{'0' * 32}:{nt_hash.hex()}"


class _ReusingSerializer(Serializer):
    """pypsrp's serializer, except that a message every pool sends alike is serialised once per process.

    The pool-opening pair (SessionCapability, InitRunspacePool) never differs between servers, and the collector's
    CreatePipeline differs only by its parameters: `pipeline_key` names those, and is given by the one caller that
    builds the pipeline. Serialising the collector (script text escaped into CLIXML through ElementTree) was the
    largest single CPU cost per server. The serializer clears its reference ids for every message, so the bytes
    are the same each time; pypsrp's `Message.pack` sends bytes as they are (tests hold both facts)."""

    _cache: ClassVar[dict[Hashable, Any]] = {}
    _CACHE_LIMIT: ClassVar[int] = 64

    def __init__(self, pipeline_key: Hashable | None = None) -> None:
        super().__init__()
        self._pipeline_key = pipeline_key

    def serialize(
        self, value: Any, metadata: Any = None, parent: ET.Element | None = None, clear: bool = True
    ) -> ET.Element | None:
        key = self._key(value) if clear and metadata is None and parent is None else None
        if key is None:
            return super().serialize(value, metadata, parent, clear)
        cached = self._cache.get(key)
        if cached is None:
            element = super().serialize(value)
            cached = ET.tostring(element, encoding="utf-8", method="xml") if element is not None else b""
            self._remember(key, cached)
        return cast(ET.Element, cached)  # bytes: see the class docstring

    def deserialize(self, element: ET.Element | str, metadata: Any = None, clear: bool = True) -> Any:
        """Three shortcuts, same results:
        * an output object is read straight into plain shapes by `clixml.read_plain` (it says which shapes
          it leaves to pypsrp);
        * a primitive inside an object (`<S>`, `<I32>`, `<B>`, ...) is converted at once. pypsrp first writes
          every element it reads back out as text, which made reading Get-ExchangeServer's answer cost about
          4 ms of CPU per server listed;
        * the pool-opening answers (capability, private data, pool state) come alike from every server of a
          version: each distinct text is parsed once. pypsrp only reads these objects, never changes them."""
        if clear and metadata is None and isinstance(element, str) and element.startswith("<Obj"):
            try:
                return read_plain(element)  # output objects: straight to plain shapes (see clixml)
            except NotPlain:
                pass
        if not clear and isinstance(element, ET.Element):
            try:
                value = read_primitive(element)
            except NotPlain:  # an object, a reference, or a primitive pypsrp fails on in its own way
                return super().deserialize(element, metadata, clear)
            return uuid.UUID(value) if element.tag == "G" else value  # pypsrp's objects hold GUIDs as UUIDs
        kind = getattr(metadata, "object", None)
        if not (clear and isinstance(element, str) and kind in _READ_ONLY_ANSWERS):
            return super().deserialize(element, metadata, clear)
        key = (kind.__name__, element)
        cached = self._cache.get(key)
        if cached is None:
            cached = super().deserialize(element, metadata, clear)
            self._remember(key, cached)
        return cached

    def _remember(self, key: Hashable, value: Any) -> None:
        if len(self._cache) >= self._CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = value

    def _key(self, value: Any) -> Hashable | None:
        if isinstance(value, SessionCapability) and value.time_zone is None:
            return ("SessionCapability", value.protocol_version, value.ps_version, value.serialization_version)
        if isinstance(value, InitRunspacePool) and value.application_arguments is None:
            host, threads, apartment = value.host_info, value.thread_options, value.apartment_state
            if host is not None and host.host is None and threads is not None and apartment is not None:
                return ("InitRunspacePool", value.min_runspaces, value.max_runspaces, threads.value, apartment.value)
        if isinstance(value, CreatePipeline) and self._pipeline_key is not None:
            return ("CreatePipeline", self._pipeline_key)
        return None


_READ_ONLY_ANSWERS = (SessionCapability, ApplicationPrivateData, RunspacePoolStateMessage)


def _reuse_serialised_messages(pool: RunspacePool, pipeline_key: Hashable | None) -> None:
    """Give `pool` the reusing serializer (private pypsrp attributes: pinned to <1, and a test checks them)."""
    serializer = _ReusingSerializer(pipeline_key)
    pool._serializer = serializer
    pool._fragmenter.serializer = serializer


def _tune_session(wsman: WSMan, *, lean: bool) -> None:
    """Give pypsrp's transport its requests session now, cheaper than its own. (Private pypsrp attributes:
    pinned to <1.)
    * pypsrp decides the proxy once (none: no_proxy=True) but leaves requests' trust_env on, so every request
      scans os.environ for proxy variables again: measured at about 20 ms of CPU per server. Turn that off.
    * over plain HTTP the first Negotiate token is sent eagerly (`_EagerNegotiateAuth`): one round trip less;
    * `lean` (plain HTTP, Negotiate family): a `LeanSession` on `LeanHTTPAdapter` (one keep-alive socket); see
      `_lean_session`. The Exchange endpoint keeps requests' own adapter (and cookies, which a load balancer in
      front of it may rely on)."""
    transport = wsman.transport
    if lean:
        transport.session = _lean_session(transport)
        return
    if transport.session is None:
        transport.session = transport._build_session()
    transport.session.trust_env = False
    if not transport.ssl and type(transport.session.auth) is HTTPNegotiateAuth:
        transport.session.auth = _EagerNegotiateAuth.like(transport.session.auth)


def _lean_session(transport: Any) -> LeanSession:
    """The session pypsrp would build for a plain-HTTP WinRM endpoint, without what it then throws away: its
    environment proxy lookup (no proxy is used) and its two urllib3 adapters (the lean one replaces them). The
    headers are pypsrp's own, taken once from a session it built; the auth is built by pypsrp as usual."""
    session = LeanSession()
    session.trust_env = False
    session.headers.clear()
    session.headers.update(_pypsrp_headers(transport))
    session.verify = False  # plain HTTP: no certificate to check
    getattr(transport, f"_build_auth_{transport.auth}")(session)
    if type(session.auth) is HTTPNegotiateAuth:
        session.auth = _EagerNegotiateAuth.like(session.auth)
    session.mount("http://", LeanHTTPAdapter())
    return session


_PYPSRP_HEADERS: dict[str, str] = {}


def _pypsrp_headers(transport: Any) -> dict[str, str]:
    """The default headers of pypsrp's sessions (User-Agent, Accept-Encoding: identity, ...), read once."""
    if not _PYPSRP_HEADERS:
        built = transport._build_session()
        _PYPSRP_HEADERS.update({str(k): str(v) for k, v in built.headers.items()})
        built.close()
    return _PYPSRP_HEADERS


class _EagerNegotiateAuth(HTTPNegotiateAuth):
    """pypsrp's Negotiate auth, except that the first token rides on the first request, as Windows' own WinRM
    client sends it, instead of after an anonymous 401: one round trip less per server. A server that answers
    that token with a bare 401 gets the ordinary exchange from the start. Plain HTTP only: over HTTPS the token
    must carry the channel binding, which is known only after the first answer."""

    _SCHEME = "Negotiate"  # WinRM offers it whenever Kerberos or NTLM is on; it takes raw NTLM/Kerberos too

    @classmethod
    def like(cls, auth: HTTPNegotiateAuth) -> _EagerNegotiateAuth:
        return cls(
            username=auth.username,
            password=auth.password,
            auth_provider=auth.auth_provider,
            send_cbt=False,
            service=auth.service,
            delegate=auth.delegate,
            hostname_override=auth.hostname_override,
            wrap_required=auth.wrap_required,
        )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._pending: dict[str, Any] = {}

    def __call__(self, request: Any) -> Any:
        request = super().__call__(request)
        host = get_hostname(request.url) or ""
        if host not in self.contexts and host not in self._pending:
            wanted = spnego.ContextReq.default | (spnego.ContextReq.delegate if self.delegate else 0)
            context = spnego.client(
                self.username,
                self.password,
                hostname=self.hostname_override or host,
                service=self.service,
                context_req=wanted,
                protocol=self.auth_provider,
                options=spnego.NegotiateOptions.wrapping_winrm if self.wrap_required else spnego.NegotiateOptions.none,
            )
            self._set_auth_token(request, context.step(), self._SCHEME)
            self._pending[host] = context
        return request

    def response_hook(self, response: Any, **kwargs: Any) -> Any:
        host = get_hostname(response.url) or ""
        context = self._pending.pop(host, None)
        if context is None:
            return super().response_hook(response, **kwargs)
        token = self._get_auth_token(response, self._regex)
        if response.status_code == 401 and not token:
            return super().response_hook(response, **kwargs)  # the eager token was not taken: start over
        while token:
            reply = context.step(token)
            if reply is None or response.status_code != 401:
                break  # done; an accepting answer may carry a last token (Kerberos mutual authentication)
            _ = response.content  # read the 401's body so its connection can carry the next leg
            response.raw.release_conn()
            request = response.request.copy()
            self._set_auth_token(request, reply, self._SCHEME)
            response = response.connection.send(request, **kwargs)
            token = self._get_auth_token(response, self._regex)
        context.response_auth_header = self._SCHEME.lower()  # pypsrp picks the sealing protocol by it
        self.contexts[host] = context
        return response


def _result(ps: PowerShell, output: list[Any]) -> CommandResult:
    # A non-terminating error leaves the pipeline Completed: read the streams, not only had_errors.
    errors = tuple(str(to_plain(r)) for r in ps.streams.error)
    warnings = tuple(str(to_plain(r)) for r in ps.streams.warning)
    return CommandResult(tuple(to_plain(o) for o in output), errors, warnings, bool(ps.had_errors))


class ExchangeSession:
    """One Exchange remote-PowerShell session. Cmdlets with parameters only: it has no way to send a script."""

    __slots__ = ("_creds", "_pool", "_target", "_wsman")

    def __init__(self, target: Target, creds: Credentials) -> None:
        self._target = target
        self._creds = creds
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None

    def __enter__(self) -> ExchangeSession:
        with _translated(self._target, self._creds):
            self._wsman = _wsman(self._target, self._creds, "PowerShell")
            self._pool = RunspacePool(self._wsman, configuration_name=EXCHANGE_CONFIGURATION)
            _reuse_serialised_messages(self._pool, None)  # each cmdlet differs: only the opening pair is reused
            try:
                self._pool.open()
            except BaseException:
                _close(self._pool, self._wsman, self._target)  # a half-opened shell is deleted, not left behind
                self._pool = self._wsman = None
                raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _close(self._pool, self._wsman, self._target)
        self._pool = None
        self._wsman = None

    def run_cmdlet(self, name: str, on_output: Callable[[Any], None] | None = None, **params: Any) -> CommandResult:
        """Run one cmdlet. Parameter values must be str, int, bool, None (a switch) or lists of those.
        `on_output` (a name no cmdlet parameter can have) is given each output object, plain, as soon as a
        Receive brings it, so a caller can start on the first servers while the list is still arriving."""
        if not _CMDLET_NAME.match(name):
            raise ValueError(f"not a cmdlet name: {name!r}")
        for key, value in params.items():
            items = value if isinstance(value, list) else [value]
            if not _PARAMETER_NAME.match(key) or not all(isinstance(v, _PLAIN_VALUES) for v in items):
                raise ValueError(f"unsupported parameter for {name}: {key}")
        if self._pool is None:
            raise RuntimeError("the Exchange session is not open")
        with _translated(self._target, self._creds), _pipeline(self._pool) as ps:
            ps.add_cmdlet(name)
            for key, value in params.items():
                ps.add_parameter(key, value)
            if on_output is None:
                return _result(ps, ps.invoke())
            ps.begin_invoke()
            handed = 0
            while True:
                running = ps.state == PSInvocationState.RUNNING
                if running:
                    ps.poll_invoke()  # one Receive; the server's "no output yet" timeout is retried by pypsrp
                for item in ps.output[handed:]:
                    on_output(to_plain(item))
                handed = len(ps.output)
                if not running:
                    return _result(ps, ps.output)


def run_script(target: Target, creds: Credentials, script: str, parameters: Mapping[str, Any]) -> CommandResult:
    """Run `script` with named `parameters` on the default endpoint (`/wsman`, FullLanguage); one pool per call."""
    creds = replace(creds, spn_hostname=None)  # each server's WinRM is reached by its own FQDN
    with _translated(target, creds):
        wsman = _wsman(target, creds, "wsman", lean=True)
        pool = RunspacePool(wsman)
        _reuse_serialised_messages(pool, (script, tuple(sorted((k, repr(v)) for k, v in parameters.items()))))
        try:
            pool.open()
            # No Signal to end the pipeline: deleting the shell just after ends it too, one round trip sooner.
            with _pipeline(pool, close=False) as ps:
                ps.add_script(script)
                for key, value in parameters.items():
                    ps.add_parameter(key, value)
                output = ps.invoke()
                return _result(ps, output)
        finally:
            _close(pool, wsman, target)


def spn(target: Target, creds: Credentials) -> str:
    """The Kerberos service principal name the client asks a ticket for, e.g. `host/ex01.contoso.com`."""
    return f"{creds.spn_service or DEFAULT_SPN_SERVICE}/{creds.spn_hostname or target.name}"


def _close(pool: RunspacePool | None, wsman: WSMan | None, target: Target) -> None:
    """Close quietly: a failure while closing must not hide what the session returned or why it failed."""
    try:
        if pool is not None:
            pool.close()
    except Exception as exc:
        log.debug("closing the session on %s failed: %s", target.label, type(exc).__name__)
    finally:
        if wsman is not None:
            wsman.close()


@contextmanager
def _translated(target: Target, creds: Credentials) -> Iterator[None]:
    """Turns whatever the remoting stack raises into `RemoteFailure`."""
    try:
        yield
    except RemoteFailure:
        raise
    except Exception as exc:
        raise classify(exc, target, creds) from exc


@contextmanager
def _pipeline(pool: RunspacePool, *, close: bool = True) -> Iterator[PowerShell]:
    """A PowerShell on `pool`, closed quietly: pypsrp's own exit raises for a pipeline still Running (after a
    timeout), which would hide the error that matters. `close=False` is for a pool deleted right after."""
    ps = PowerShell(pool)
    try:
        yield ps
    finally:
        try:
            if close:
                ps.close()
        except Exception as exc:
            log.debug("closing a pipeline failed: %s", type(exc).__name__)


def classify(exc: BaseException, target: Target, creds: Credentials) -> RemoteFailure:
    """The collection status and a one-line reason for an exception raised while talking to `target`."""
    where = target.label
    status, reason = CollectionStatus.ERROR, f"{where}: {type(exc).__name__}: {_first_line(exc)}"
    if isinstance(exc, RemoteFailure):
        return exc
    if isinstance(exc, AuthenticationError):
        status, reason = (
            CollectionStatus.AUTH_FAILED,
            (f"{where}: authentication failed for {creds.username or 'the current user'} with {creds.auth}"),
        )
        if creds.auth == "kerberos" and "did not response" not in str(exc):
            # The ticket was issued but the server could not decrypt it: its keytab/account lacks that SPN's key.
            reason += (
                f": the server refused the Kerberos ticket for {spn(target, creds)} (is this SPN registered to the "
                "account the endpoint runs as? see --spn-service / --spn-hostname)"
            )
    elif isinstance(exc, WSManFaultError):
        code = exc.code if isinstance(exc.code, int) else None
        if code == _OPERATION_TIMED_OUT:
            status, reason = CollectionStatus.TIMEOUT, f"{where}: the WS-Management operation timed out"
        else:
            shown = f"0x{code:08X}" if code is not None and code > 0xFFFF else str(exc.code)
            detail = _first_line(exc.reason) if exc.reason else "no details returned by the server"
            reason = f"{where}: WS-Management fault {shown}: {detail}"
    elif isinstance(exc, WinRMTransportError):
        if exc.code in (401, 403):
            status = CollectionStatus.AUTH_FAILED
        reason = f"{where}: HTTP {exc.code}{_http_hint(exc.code)}"
    elif isinstance(exc, requests.exceptions.SSLError):
        reason = f"{where}: TLS failed: {_tls_detail(exc)}"
    elif isinstance(exc, requests.exceptions.Timeout):  # ConnectTimeout and ReadTimeout
        what = "connecting" if isinstance(exc, requests.exceptions.ConnectTimeout) else "waiting for an answer"
        status, reason = CollectionStatus.TIMEOUT, f"{where}: timed out {what}"
    elif isinstance(exc, requests.exceptions.ConnectionError):
        status, reason = _connection_failure(exc, where)
    elif _is_kerberos_failure(exc):
        status, reason = CollectionStatus.AUTH_FAILED, f"{where}: {creds.auth} sign-in failed: {_first_line(exc)}"
        hint = _kerberos_hint(exc, target, creds)
        if hint:
            reason = f"{where}: {creds.auth} sign-in failed: {hint}"
    elif isinstance(exc, ValueError) and "incompatible with the specified auth_provider" in str(exc):
        offered = re.search(r"auth protocol '(\w+)'", str(exc))
        scheme = offered.group(1) if offered else "another scheme"
        status = CollectionStatus.AUTH_FAILED
        reason = f"{where}: the server offers only {scheme}, not {creds.auth}: use --auth {scheme.lower()}"
    elif isinstance(exc, ET.ParseError):
        reason = f"{where}: the server's answer is not valid XML ({exc})"
    elif isinstance(exc, ImportError) and creds.auth == "credssp":
        reason = "CredSSP needs the requests-credssp package (pip install 'pypsrp[credssp]')"
    elif isinstance(exc, ImportError) and creds.auth in ("kerberos", "negotiate") and "gssapi" in str(exc).lower():
        reason = (
            "Kerberos needs the gssapi and krb5 Python packages (pip install 'pyspnego[kerberos]'; "
            "they build against MIT Kerberos: apt-get install libkrb5-dev)"
        )
    elif isinstance(exc, WinRMError):
        reason = f"{where}: remoting error: {_first_line(exc)}"
    return RemoteFailure(status, scrub(reason, creds.password))


def _connection_failure(exc: BaseException, where: str) -> tuple[CollectionStatus, str]:
    chain = _chain(exc)
    text = " ".join(f"{type(e).__name__} {e}" for e in chain)
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower():
        return CollectionStatus.UNREACHABLE, f"{where}: connection refused"
    if "NameResolutionError" in text or "getaddrinfo" in text or "Name or service not known" in text:
        return CollectionStatus.UNREACHABLE, f"{where}: the name does not resolve (DNS)"
    if any(isinstance(e, (TimeoutError,)) for e in chain) or "timed out" in text:
        return CollectionStatus.TIMEOUT, f"{where}: timed out connecting"
    if any(isinstance(e, OSError) and getattr(e, "errno", None) in (101, 113, 10051, 10065) for e in chain):
        return CollectionStatus.UNREACHABLE, f"{where}: no route to the host"
    return CollectionStatus.ERROR, f"{where}: the connection failed: {_first_line(chain[-1])}"


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        current = current.__cause__ or current.__context__ or nested or getattr(current, "reason", None)
        if current is not None and not isinstance(current, BaseException):
            current = None
    return seen


def _is_kerberos_failure(exc: BaseException) -> bool:
    # spnego wraps GSSAPI errors; a password sign-in (kinit inside pyspnego) raises python-krb5's Krb5Error as is.
    return type(exc).__module__.startswith(("spnego", "krb5", "gssapi"))


_KDC_WORDS = re.compile(r"Minor \(\d+\): (.+?)(?:, Context:|$)")


def _kerberos_hint(exc: BaseException, target: Target, creds: Credentials) -> str | None:
    """What a Kerberos failure means for the user, with the library's own words in brackets; None if unknown."""
    text = " ".join(str(exc).split())
    words = _KDC_WORDS.search(text)
    said = (words.group(1) if words else re.sub(r" -?\d{6,}$", "", text)).strip()
    who = creds.username or "the current user"
    low = text.lower()
    if "preauthentication failed" in low or "decrypt integrity check failed" in low:
        hint = f"wrong password for {who}"
    elif "client" in low and "not found in kerberos database" in low:
        hint = f"the KDC does not know {who} (Kerberos needs the UPN form user@DNS.DOMAIN)"
    elif "not found in kerberos database" in low:
        hint = (
            f"the domain has no service principal {spn(target, creds)} (connect by the server's FQDN; "
            "check --spn-service, or --spn-hostname for a load-balanced name)"
        )
    elif "password has expired" in low:
        hint = f"the password of {who} has expired (change it, then sign in again)"
    elif "no kerberos credentials" in low or "no credentials cache" in low or "ticket expired" in low:
        hint = f"no valid Kerberos ticket for {who} (run kinit, or give --username and a password)"
    elif "cannot contact any kdc" in low or "cannot find kdc" in low or "cannot resolve network address" in low:
        hint = "no KDC could be reached for the realm (check DNS SRV records or krb5.conf)"
    elif "clock skew" in low:
        hint = "the clocks of this machine and the KDC/server differ too much"
    elif "cannot determine realm" in low:
        hint = "no Kerberos realm for this name (use the UPN user@DNS.DOMAIN, or set default_realm in krb5.conf)"
    else:
        return None
    return f"{hint} [{_first_line(said)}]" if said else hint


def _tls_detail(exc: BaseException) -> str:
    text = " ".join(str(e) for e in _chain(exc))
    if "CERTIFICATE_VERIFY_FAILED" in text:
        match = re.search(r"certificate verify failed: ([^(\"')]+)", text)
        return "certificate verify failed" + (f" ({match.group(1).strip()})" if match else "")
    return _first_line(exc)


def _http_hint(code: int) -> str:
    return {
        401: " (not authorised)",
        403: " (forbidden: check rights and RBAC)",
        404: " (wrong port or path?)",
        500: " (server error)",
    }.get(code, "")


def _first_line(value: object) -> str:
    line = str(value).strip().splitlines()[0] if str(value).strip() else "(no detail)"
    return line if len(line) <= _REASON_LIMIT else line[: _REASON_LIMIT - 3] + "..."


def scrub(text: str, password: str | None) -> str:
    """`text` on one line, with the password (if any) masked: defence in depth for messages that echo input."""
    line = " ".join(text.split())
    if password:
        line = line.replace(password, "***")
    return line


def to_plain(value: Any) -> Any:
    """A pypsrp value as plain Python: scalars stay, objects become `PSBag`, lists stay lists, stream records
    become their message text, an enum becomes its name, a MultiValuedProperty its list of values."""
    if isinstance(value, (str, bool, int, float, PSBag)) or value is None:
        return value  # a PSBag is plain already: output objects are read straight into bags (clixml)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(to_plain(k)): to_plain(v) for k, v in value.items()}
    if isinstance(value, ErrorRecord):
        return _record_text(value)
    if isinstance(value, InformationalRecord):
        return str(value.message or "")
    if isinstance(value, GenericComplexObject):
        props = {**value.adapted_properties, **value.extended_properties}
        embedded = _embedded_list(value.property_sets)
        if embedded is not None:
            return embedded
        if not props:
            if value.to_string is not None:
                return value.to_string  # an enum or a value type: its ToString is what PowerShell shows
            return to_plain(value.property_sets[0]) if value.property_sets else None
        return PSBag({k: to_plain(v) for k, v in props.items()}, value.to_string, tuple(value.types))
    if isinstance(value, ComplexObject):
        return str(value)
    return str(value)


def _record_text(record: ErrorRecord) -> str:
    text = str(record)
    if not text:
        exception = to_plain(record.exception)
        text = str(exception.get("Message") or "") if isinstance(exception, PSBag) else str(exception or "")
    return text or str(record.details_message or record.message or record.fq_error or "error")


def _embedded_list(property_sets: list[Any]) -> list[Any] | None:
    """pypsrp leaves a `<LST>` nested in a typed `<Obj>` (Exchange's MultiValuedProperty) as raw XML text."""
    for item in property_sets:
        if isinstance(item, str) and item.startswith(("<LST", "<IE", "<STK", "<QUE")):
            try:
                element = ET.fromstring(item)
            except ET.ParseError:
                return None
            return [to_plain(Serializer().deserialize(ET.tostring(child, encoding="unicode"))) for child in element]
    return None


def plain_from_clixml(xml_text: str) -> Any:
    """Deserialize one CLIXML `<Obj>` (a recorded fixture) with pypsrp, then `to_plain` it."""
    return to_plain(Serializer().deserialize(xml_text))
