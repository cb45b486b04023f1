"""Remote PowerShell over WS-Management: the only module of eems-check that imports pypsrp's remoting classes.

What it does: opens `WSMan` -> `RunspacePool` -> `PowerShell` for two kinds of work and returns plain Python:
* `ExchangeSession`, on the Exchange endpoint (`/PowerShell`, configuration `Microsoft.Exchange`, NoLanguage). It
  exposes `run_cmdlet(name, **params)` and nothing else, so no script text can ever reach that endpoint.
* `run_script`, on a server's default endpoint (`/wsman`), which sends the collector script with its parameters.
pypsrp is used as it ships: its envelopes, its serializer, its transport. Under the transport goes the session of
`http` (bounded answers, no environment proxy, a connection a watchdog can cut, the eager first Negotiate token).
Every pypsrp, requests or spnego exception leaves this module as `RemoteFailure(status, reason)`; the reason is
one line and never holds the password. What pypsrp deserialises becomes plain Python in `to_plain` (the one
converter), which also reads the lists pypsrp leaves as XML text inside typed objects.

What it must not do: decide what to collect, interpret results, retry, or print. It keeps no connection beyond a
call (or the `with` block of an Exchange session).
"""

from __future__ import annotations

import inspect
import logging
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any

import requests
from pypsrp.complex_objects import (
    ComplexObject,
    ErrorRecord,
    GenericComplexObject,
    InformationalRecord,
    PSInvocationState,
)
from pypsrp.exceptions import AuthenticationError, WinRMError, WinRMTransportError, WSManFaultError
from pypsrp.negotiate import HTTPNegotiateAuth
from pypsrp.powershell import PowerShell, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from ..model import CollectionStatus
from .http import Cancel, EagerNegotiateAuth, ResponseTooLarge, eager_supported, install_session
from .plain import PSBag

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


def _wsman(target: Target, creds: Credentials, path: str, cancel: Cancel | None = None) -> WSMan:
    """pypsrp's WSMan for `target`, with the session of `http` under its transport."""
    if creds.auth not in AUTH_METHODS:
        raise RemoteFailure(CollectionStatus.ERROR, f"unknown authentication {creds.auth!r}")
    if creds.auth == "basic" and not target.https:
        raise RemoteFailure(CollectionStatus.ERROR, "Basic authentication is refused over HTTP (use HTTPS)")
    extra: dict[str, Any] = {}
    spn_host = creds.spn_hostname or target.name
    override = spn_host if target.address.lower() != spn_host.lower() else None  # the SPN names the server
    if creds.auth in ("kerberos", "negotiate"):
        extra["negotiate_delegate"] = creds.delegate
        if creds.spn_service:
            extra["negotiate_service"] = creds.spn_service
        if override:
            extra["negotiate_hostname_override"] = override
    if creds.auth in ("kerberos", "negotiate", "ntlm") and not target.https:
        extra["negotiate_send_cbt"] = False  # channel binding is a TLS thing: nothing to bind over HTTP
    verify: bool | str = creds.cert_validation if target.https else False  # nothing to verify without TLS
    wsman = WSMan(
        target.address,
        port=target.port,
        path=path,
        ssl=target.https,
        auth=creds.auth,
        username=creds.username,
        password=creds.password,
        cert_validation=verify,  # type: ignore[arg-type]  # a CA bundle path is accepted too
        connection_timeout=creds.connect_timeout,  # type: ignore[arg-type]  # requests takes floats
        read_timeout=creds.read_timeout,  # type: ignore[arg-type]
        operation_timeout=creds.operation_timeout,
        # Over HTTP every message must be sealed: "always" fails closed when the auth cannot seal.
        encryption="auto" if target.https else "always",
        no_proxy=True,
        reconnection_retries=0,
        **extra,
    )
    wrap = bool(getattr(wsman.transport, "wrap_required", not target.https))
    install_session(wsman, auth=_auth(target, creds, wrap, override), verify=verify, cancel=cancel)
    return wsman


def _auth(target: Target, creds: Credentials, wrap_required: bool, override: str | None) -> requests.auth.AuthBase:
    """The requests auth pypsrp would use for these credentials (its public auth classes), or the eager one."""
    if creds.auth == "basic":
        if creds.username is None or creds.password is None:
            raise RemoteFailure(CollectionStatus.ERROR, "Basic authentication needs a user name and a password")
        return requests.auth.HTTPBasicAuth(creds.username, creds.password)
    if creds.auth == "credssp":
        from requests_credssp import HttpCredSSPAuth  # optional extra: an ImportError is classified

        if creds.username is None or creds.password is None:
            raise RemoteFailure(CollectionStatus.ERROR, "CredSSP needs a user name and a password")
        return HttpCredSSPAuth(creds.username, creds.password)
    kwargs: dict[str, Any] = {
        "username": creds.username,
        "password": creds.password,
        "auth_provider": creds.auth,
        "service": creds.spn_service or DEFAULT_SPN_SERVICE,
        "delegate": creds.delegate if creds.auth != "ntlm" else False,
        "hostname_override": override,
        "wrap_required": wrap_required,
    }
    if not target.https and eager_supported():
        return EagerNegotiateAuth(**kwargs)
    return HTTPNegotiateAuth(send_cbt=target.https, **kwargs)


def _result(ps: PowerShell, output: list[Any]) -> CommandResult:
    # A non-terminating error leaves the pipeline Completed: read the streams, not only had_errors.
    errors = tuple(str(to_plain(r)) for r in ps.streams.error)
    warnings = tuple(str(to_plain(r)) for r in ps.streams.warning)
    return CommandResult(tuple(to_plain(o) for o in output), errors, warnings, bool(ps.had_errors))


class ExchangeSession:
    """One Exchange remote-PowerShell session. Cmdlets with parameters only: it has no way to send a script."""

    __slots__ = ("_cancel", "_creds", "_pool", "_target", "_wsman")

    def __init__(self, target: Target, creds: Credentials, cancel: Cancel | None = None) -> None:
        self._target = target
        self._creds = creds
        self._cancel = cancel
        self._wsman: WSMan | None = None
        self._pool: RunspacePool | None = None

    def __enter__(self) -> ExchangeSession:
        with _translated(self._target, self._creds):
            self._wsman = _wsman(self._target, self._creds, "PowerShell", self._cancel)
            self._pool = RunspacePool(self._wsman, configuration_name=EXCHANGE_CONFIGURATION)
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


def run_script(
    target: Target, creds: Credentials, script: str, parameters: Mapping[str, Any], cancel: Cancel | None = None
) -> CommandResult:
    """Run `script` with named `parameters` on the default endpoint (`/wsman`, FullLanguage); one pool per call.
    `cancel` shuts the connection from another thread (the scan's watchdog, when the server runs out of time)."""
    creds = replace(creds, spn_hostname=None)  # each server's WinRM is reached by its own FQDN
    with _translated(target, creds):
        wsman = _wsman(target, creds, "wsman", cancel)
        pool = RunspacePool(wsman)
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
    too_large = next((e for e in _chain(exc) if isinstance(e, ResponseTooLarge)), None)
    if too_large is not None:
        status, reason = CollectionStatus.ERROR, f"{where}: {too_large}"
    elif isinstance(exc, AuthenticationError):
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
    """A value pypsrp deserialised, as plain Python: scalars stay, objects become `PSBag`, lists stay lists, stream
    records become their message text, an enum becomes its name, a MultiValuedProperty its list of values."""
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
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
    """An error record's message, as PowerShell prints it: its details' message, else its exception's; then what
    the record says of itself (pypsrp shows a missing ToString as "None"), its category text, its error id."""
    exception = to_plain(record.exception)
    candidates = (
        record.details_message,
        exception.get("Message") if isinstance(exception, PSBag) else exception,
        str(record) if str(record) != "None" else None,
        record.message,
        record.fq_error,
    )
    return next((str(c) for c in candidates if c), "error")


_LIST_TAGS = ("LST", "IE", "STK", "QUE")


def _embedded_list(property_sets: list[Any]) -> list[Any] | None:
    """The items of a list that pypsrp leaves as XML text inside a typed object (Exchange's MultiValuedProperty
    `<Obj><TN>…</TN><LST>…</LST></Obj>`), read by pypsrp's own serializer.

    The items are read together, as one ArrayList, by one serializer: a later item may name the type names of an
    earlier one (`<TNRef>`), as PowerShell writes every repeated list of type names. Type names and objects that
    the list refers to from outside itself (defined earlier in the same message) are not in this text: such an
    item is read as a plain object (its properties and ToString are all plain data keeps), such a reference as
    null. None when there is no such list (or the text is not XML)."""
    for item in property_sets:
        if not (isinstance(item, str) and item.startswith(tuple(f"<{tag}" for tag in _LIST_TAGS))):
            continue
        try:
            element = ET.fromstring(item)
        except ET.ParseError:
            return None
        element.tag = "LST"
        holder = ET.Element("Obj", RefId="eems-check-list")
        names = ET.SubElement(holder, "TN", RefId="eems-check-list")
        ET.SubElement(names, "T").text = "System.Collections.ArrayList"
        holder.append(element)
        serializer = Serializer()
        types = {e.get("RefId") for e in element.iter("TN")}
        objects = {e.get("RefId") for e in element.iter("Obj")}
        # pypsrp's Serializer keeps its reference tables in the public attributes `tn` and `obj`: what the list
        # names from outside itself goes in as unknown type names and a null object.
        getattr(serializer, "tn", {}).update(
            {r.get("RefId"): [] for r in element.iter("TNRef") if r.get("RefId") not in types}
        )
        getattr(serializer, "obj", {}).update(
            {r.get("RefId"): None for r in element.iter("Ref") if r.get("RefId") not in objects}
        )
        try:
            items = serializer.deserialize(holder, clear=False)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            log.debug("an embedded list could not be read: %s: %s", type(exc).__name__, exc)
            return None
        return [to_plain(v) for v in items] if isinstance(items, list) else None
    return None


def objects_from_clixml(xml_text: str) -> list[Any]:
    """Every object of a CLIXML text, plain: an `Export-Clixml` file (`<Objs>`, with its namespace, the type
    names and objects of later objects referring to earlier ones) or one object as it travels in a PSRP message
    (`<Obj>`). pypsrp's serializer reads the objects in order, sharing its references, as PowerShell does."""
    root = ET.fromstring(xml_text.lstrip("\ufeff"))  # Export-Clixml writes a byte-order mark
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("{"):
            element.tag = element.tag.split("}", 1)[1]
    serializer = Serializer()
    objects = list(root) if root.tag == "Objs" else [root]
    return [to_plain(serializer.deserialize(obj, clear=False)) for obj in objects]
