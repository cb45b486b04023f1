"""The HTTP session under pypsrp, built from public parts: bounded answers, no proxy from the environment, and a
connection a watchdog can cut.

What it does: `install_session(wsman, ...)` hands pypsrp's transport a requests session before its first request
(the transport's `session` attribute, which pypsrp otherwise fills on first use). That session
* reads at most `RESPONSE_LIMIT` bytes of any one answer from the socket, whatever framing the server chose
  (Content-Length, chunked with any chunk size, negative ones included, or an endless read-to-close body): the
  response object is http.client's `response_class` hook, reached through urllib3's `ConnectionCls` on requests'
  transport adapter, and its file object counts bytes. Past the limit `ResponseTooLarge` is raised and urllib3
  closes the connection;
* ignores proxy settings in the environment (`trust_env` off): WinRM goes straight to the server, as pypsrp's
  `no_proxy` asks, and requests no longer scans the environment on every request;
* registers every connection it opens with a `Cancel`, so that a watchdog can shut the socket of a server that
  ran out of time: the worker thread's read then ends at once instead of running on in the background;
* over plain HTTP sends the first Negotiate token with the first request (`EagerNegotiateAuth`), as Windows'
  own WinRM client does: one round trip less per connection. Only with a pypsrp release whose hand-over this
  was tested with (`EAGER_PYPSRP`); any other release gets pypsrp's own `HTTPNegotiateAuth`.

If a pypsrp release no longer has the transport's `session` attribute, nothing is installed: pypsrp builds its
own session as usual (no cap, no cancel) and a warning says so once.

What it must not do: touch pypsrp's private members, retry, or follow redirects (a WinRM listener answers where
it is asked).
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import logging
import re
import socket
import threading
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit

import requests
import spnego
import urllib3
from pypsrp.negotiate import HTTPNegotiateAuth
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection

log = logging.getLogger(__name__)

RESPONSE_LIMIT = 16 * 1024 * 1024  # a WinRM answer is bounded by MaxEnvelopeSize (150-500 KiB); this is 30x that
# pypsrp releases whose Negotiate hand-over (`contexts[host]` and the context's `response_auth_header`, which its
# transport reads to choose the sealing protocol) the eager first token was tested with.
EAGER_PYPSRP = ("0.8.", "0.9.")


class ResponseTooLarge(Exception):
    """A server sent more than the limit in one answer. Deliberately not an OSError: urllib3 would wrap it."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer exceeded {limit // (1024 * 1024)} MiB; the connection was closed")
        self.limit = limit


class Cancel:
    """Connections of one unit of work (one server), to be shut from another thread when it runs out of time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        self.cancelled = False

    def track(self, connection: HTTPConnection) -> None:
        with self._lock:
            if not self.cancelled:
                self._connections.append(connection)
                return
        _shut(connection)  # opened after the cancel: never used

    def cancel(self) -> None:
        """Shut every connection: a read blocked on it returns at once (the fd is left for its owner to close)."""
        with self._lock:
            self.cancelled = True
            connections, self._connections = self._connections, []
        for connection in connections:
            _shut(connection)


def _shut(connection: HTTPConnection) -> None:
    sock = getattr(connection, "sock", None)
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed, or never connected
            sock.shutdown(socket.SHUT_RDWR)


class _Budget:
    """A response's file object that refuses to read more than `limit` bytes in all (see the module docstring).
    A read of "everything" (a negative or missing size, as http.client asks for a negative chunk size) reads at
    most what is left of the budget plus one byte, so it can never run to the end of an endless stream."""

    def __init__(self, raw: Any, limit: int) -> None:
        self._raw = raw
        self._left = limit
        self._limit = limit

    def _size(self, size: int | None) -> int:
        return self._left + 1 if size is None or size < 0 else min(size, self._left + 1)

    def _spend(self, count: int) -> None:
        self._left -= count
        if self._left < 0:
            raise ResponseTooLarge(self._limit)

    def _count(self, data: bytes) -> bytes:
        self._spend(len(data))
        return data

    def read(self, size: int | None = -1) -> bytes:
        return self._count(self._raw.read(self._size(size)))

    def read1(self, size: int = -1) -> bytes:
        return self._count(self._raw.read1(self._size(size)))

    def readline(self, size: int | None = -1) -> bytes:
        return self._count(self._raw.readline(self._size(size)))

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        count = int(self._raw.readinto(view[: self._size(len(view))]) or 0)
        self._spend(count)
        return count

    def peek(self, size: int = 0) -> bytes:
        return bytes(self._raw.peek(size))

    def fileno(self) -> int:
        return int(self._raw.fileno())

    def flush(self) -> None:
        self._raw.flush()

    def close(self) -> None:
        self._raw.close()

    @property
    def closed(self) -> bool:
        return bool(self._raw.closed)

    @property
    def raw(self) -> Any:
        """The buffered reader's own `raw` (the socket's file): pypsrp finds the TLS socket through it to bind
        the channel (RFC 5929) when it authenticates over HTTPS."""
        return self._raw.raw


class _CappedResponse(http.client.HTTPResponse):
    limit = RESPONSE_LIMIT

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _Budget(self.fp, self.limit)  # type: ignore[assignment]


class _Tracked:
    """Mixed into urllib3's connections: each one registers with the adapter's `Cancel` once connected."""

    cancel: Cancel | None = None

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        if self.cancel is not None:
            self.cancel.track(self)  # type: ignore[arg-type]


class _HTTP(_Tracked, HTTPConnection):
    pass


class _HTTPS(_Tracked, HTTPSConnection):
    pass


class CappedAdapter(HTTPAdapter):
    """requests' HTTP adapter whose connections read bounded answers and register with `cancel`."""

    def __init__(self, *, limit: int = RESPONSE_LIMIT, cancel: Cancel | None = None, **kwargs: Any) -> None:
        response = type("CappedResponse", (_CappedResponse,), {"limit": limit})
        extra = {"response_class": response, "cancel": cancel}
        self.pools = {
            "http": type("Pool", (urllib3.HTTPConnectionPool,), {"ConnectionCls": type("HTTP", (_HTTP,), extra)}),
            "https": type("Pool", (urllib3.HTTPSConnectionPool,), {"ConnectionCls": type("HTTPS", (_HTTPS,), extra)}),
        }
        super().__init__(**kwargs)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self.pools


def pypsrp_version() -> str:
    try:
        return version("pypsrp")
    except PackageNotFoundError:  # pragma: no cover - unusual installs
        return "unknown"


def eager_supported() -> bool:
    """Whether this pypsrp is one the eager first token was tested with (`EAGER_PYPSRP`)."""
    return pypsrp_version().startswith(EAGER_PYPSRP)


_warned = threading.Event()


def install_session(
    wsman: Any,
    *,
    auth: requests.auth.AuthBase,
    verify: bool | str,
    cancel: Cancel | None = None,
    limit: int = RESPONSE_LIMIT,
) -> bool:
    """Give pypsrp's transport our session (see the module docstring); False when this pypsrp has no such hook."""
    transport = getattr(wsman, "transport", None)
    if transport is None or not hasattr(transport, "session") or transport.session is not None:
        if not _warned.is_set():
            _warned.set()
            log.warning("pypsrp %s: its transport takes no session; answers are not size-capped", pypsrp_version())
        return False
    session = requests.Session()
    session.trust_env = False
    # IIS (which hosts Exchange's /PowerShell) compresses answers unless asked not to; pypsrp reads none.
    session.headers.update({"User-Agent": "Python PSRP Client", "Accept-Encoding": "identity"})
    session.verify = verify
    session.auth = auth
    adapter = CappedAdapter(limit=limit, cancel=cancel, max_retries=0)
    if getattr(adapter.poolmanager, "pool_classes_by_scheme", None) is not adapter.pools:
        log.warning("urllib3 %s: its pools take no connection class; answers are not size-capped", urllib3.__version__)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    transport.session = session
    return True


_TOKEN = re.compile(r"(?:^|,)\s*(Negotiate|Kerberos|NTLM)\s+([A-Za-z0-9+/=]+)", re.IGNORECASE)


class EagerNegotiateAuth(HTTPNegotiateAuth):
    """pypsrp's Negotiate auth, except that the first token rides on the first request instead of after an
    anonymous 401 (plain HTTP only: over HTTPS the token must carry the channel binding of a TLS session that
    does not exist yet). A server that answers that token with a bare 401 gets pypsrp's ordinary exchange."""

    _SCHEME = "Negotiate"  # WinRM offers it whenever Kerberos or NTLM is on; it takes raw NTLM/Kerberos too

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(send_cbt=False, **kwargs)
        self._pending: dict[str, Any] = {}

    def __call__(self, request: Any) -> Any:
        request = super().__call__(request)
        host = urlsplit(request.url).hostname or ""
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
            first = context.step()
            if first:
                _set_token(request, first)
                self._pending[host] = context
        return request

    def response_hook(self, response: Any, **kwargs: Any) -> Any:
        host = urlsplit(response.url).hostname or ""
        context = self._pending.pop(host, None)
        if context is None:
            return super().response_hook(response, **kwargs)
        token = _token(response)
        if response.status_code == 401 and not token:
            return super().response_hook(response, **kwargs)  # the eager token was not taken: start over
        while token:
            reply = context.step(token)
            if reply is None or response.status_code != 401:
                break  # done; an accepting answer may carry a last token (Kerberos mutual authentication)
            _ = response.content  # read the 401's body so its connection can carry the next leg
            response.raw.release_conn()
            request = response.request.copy()
            _set_token(request, reply)
            response = response.connection.send(request, **kwargs)
            token = _token(response)
        context.response_auth_header = "negotiate"  # pypsrp's transport picks the sealing protocol by it
        self.contexts[host] = context
        return response


def _set_token(request: Any, token: bytes) -> None:
    request.headers["Authorization"] = f"{EagerNegotiateAuth._SCHEME} {base64.b64encode(token).decode()}"


def _token(response: Any) -> bytes | None:
    match = _TOKEN.search(response.headers.get("www-authenticate", ""))
    return base64.b64decode(match.group(2)) if match else None
