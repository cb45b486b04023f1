"""A lean requests transport adapter for WinRM over plain HTTP: one keep-alive socket, HTTP/1.1 on it, no pool.

What it does: sends a prepared request on the adapter's one connection (opened on first use, opened again when the
server has closed it between requests) and reads the answer (status line, headers, a Content-Length or chunked
body, or a body up to the close). It returns a `requests.Response` like the stock adapter's, so pypsrp and its
Negotiate hook work unchanged on top of it, and raises the same requests exceptions (ConnectTimeout, ReadTimeout,
ConnectionError with the socket error as cause) that `remoting.classify` reads.

Why: a WinRM session is one connection that NTLM and Kerberos bind to, used by one thread at a time; urllib3's
pool, retry and proxy machinery costs about 0.8 ms of CPU per request on top of that, and a server costs 7-8
requests. Measured in `benchmarks/scan_bench.py`.

What it must not do: TLS (HTTPS keeps the stock adapter, which channel binding needs), proxies, redirects (a
WinRM listener answers a POST where it is sent; `LeanSession` does not follow them), or cookies (WinRM sets
none; the Exchange endpoint, which may sit behind a load balancer that does, keeps the stock adapter).
"""

from __future__ import annotations

import contextlib
import select
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import BaseAdapter
from requests.hooks import dispatch_hook
from requests.sessions import merge_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

_LINE_LIMIT = 65536
_HEADER_LIMIT = 200
_BODY_LIMIT = 64 * 1024 * 1024  # WS-Man envelopes are bounded far below this (MaxEnvelopeSize)


class _Raw:
    """What requests and pypsrp touch of `Response.raw`: the body is already read, so these do nothing."""

    def release_conn(self) -> None:
        return None

    def close(self) -> None:
        return None


def _timeouts(timeout: Any) -> tuple[float | None, float | None]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        return connect, read
    return timeout, timeout


class LeanHTTPAdapter(BaseAdapter):
    """Plain-HTTP adapter for one WinRM endpoint session (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._sock: socket.socket | None = None
        self._reader: Any = None
        self._peer: tuple[str, int] | None = None

    def send(  # requests' signature, keyword defaults as in HTTPAdapter
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise requests.exceptions.InvalidURL(f"the lean adapter only speaks plain HTTP: {url}")
        peer = (parts.hostname, parts.port or 80)
        connect_timeout, read_timeout = _timeouts(timeout)
        self._ensure_connected(peer, connect_timeout, request)
        assert self._sock is not None
        self._sock.settimeout(read_timeout)
        host = parts.netloc.rpartition("@")[2]
        try:
            self._sock.sendall(_request_bytes(request, host, parts))
            status, reason, version, headers = self._read_head()
            body = self._read_body(status, headers, request.method or "")
        except TimeoutError as exc:
            self.close()
            where = f"{peer[0]}:{peer[1]}"
            raise requests.exceptions.ReadTimeout(f"no answer from {where} in time", request=request) from exc
        except (OSError, ValueError) as exc:
            self.close()
            raise requests.exceptions.ConnectionError(
                f"the connection to {peer[0]}:{peer[1]} failed: {exc}", request=request
            ) from exc
        if version == "HTTP/1.0" or "close" in headers.get("connection", "").lower():
            self.close()
        response = requests.Response()
        response.status_code = status
        response.reason = reason
        response.headers = headers
        response._content = body
        response.encoding = get_encoding_from_headers(headers)
        response.url = url
        response.request = request
        response.connection = self  # type: ignore[assignment]  # requests only calls send() on it
        response.raw = _Raw()
        return response

    def close(self) -> None:
        sock, self._sock, self._reader = self._sock, None, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()

    def _ensure_connected(
        self, peer: tuple[str, int], timeout: float | None, request: requests.PreparedRequest
    ) -> None:
        if self._sock is not None and (peer != self._peer or _dropped(self._sock)):
            self.close()
        if self._sock is not None:
            return
        try:
            sock = socket.create_connection(peer, timeout=timeout)
        except TimeoutError as exc:
            raise requests.exceptions.ConnectTimeout(
                f"connecting to {peer[0]}:{peer[1]} timed out", request=request
            ) from exc
        except OSError as exc:
            raise requests.exceptions.ConnectionError(
                f"cannot connect to {peer[0]}:{peer[1]}: {exc}", request=request
            ) from exc
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock, self._peer = sock, peer
        self._reader = sock.makefile("rb")

    def _line(self) -> bytes:
        line: bytes = self._reader.readline(_LINE_LIMIT + 1)
        if len(line) > _LINE_LIMIT:
            raise ValueError("an HTTP header line is too long")
        return line

    def _read_head(self) -> tuple[int, str, str, CaseInsensitiveDict[str]]:
        while True:
            line = self._line()
            if not line:
                raise ConnectionError("the server closed the connection without answering")
            version, _, rest = line.decode("latin-1").rstrip("\r\n").partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/") or not code.isdigit():
                raise ValueError(f"not an HTTP answer: {line[:60]!r}")
            headers = self._read_headers()
            if not 100 <= int(code) < 200:
                return int(code), reason, version, headers

    def _read_headers(self) -> CaseInsensitiveDict[str]:
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict()
        last = None
        for _ in range(_HEADER_LIMIT):
            raw = self._line()
            if raw in (b"\r\n", b"\n"):
                return headers
            if not raw:
                raise ConnectionError("the server closed the connection inside the headers")
            text = raw.decode("latin-1").rstrip("\r\n")
            if text[:1] in (" ", "\t") and last is not None:  # an obsolete folded continuation
                headers[last] = f"{headers[last]} {text.strip()}"
                continue
            name, colon, value = text.partition(":")
            if not colon:
                raise ValueError(f"a malformed HTTP header: {text[:60]!r}")
            name, value = name.strip(), value.strip()
            # Repeated headers (WWW-Authenticate: Negotiate / Kerberos) are joined as requests joins them.
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
            last = name
        raise ValueError("too many HTTP headers")

    def _read_body(self, status: int, headers: CaseInsensitiveDict[str], method: str) -> bytes:
        if method == "HEAD" or status in (204, 304):
            return b""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = headers.get("content-length")
        if length is not None:
            size = int(length)
            if size < 0 or size > _BODY_LIMIT:
                raise ValueError(f"the answer's length {size} is out of bounds")
            return self._exactly(size)
        body: bytes = self._reader.read(_BODY_LIMIT + 1)  # no length: the body ends when the server closes
        if len(body) > _BODY_LIMIT:
            raise ValueError("the answer is too large")
        self.close()
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self._line().split(b";", 1)[0].strip() or b"x", 16)
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            total += size
            if total > _BODY_LIMIT:
                raise ValueError("the answer is too large")
            chunks.append(self._exactly(size))
            self._exactly(2)  # the CRLF after each chunk

    def _exactly(self, size: int) -> bytes:
        data: bytes = self._reader.read(size)
        if len(data) != size:
            raise ConnectionError("the server closed the connection in the middle of its answer")
        return data


def _request_bytes(request: requests.PreparedRequest, host: str, parts: Any) -> bytes:
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, bytes):
        raise requests.exceptions.InvalidHeader("the lean adapter sends bytes bodies only")
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in request.headers.items():
        if name.lower() in ("host", "content-length", "transfer-encoding"):
            continue
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        lines.append(f"{name}: {text}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def _dropped(sock: socket.socket) -> bool:
    """True when a kept-alive connection is no longer usable: readable while idle means closed (or stray data)."""
    try:
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        readable, _, _ = select.select([sock], [], [], 0)  # Windows: no poll, and no descriptor-value limit
    except (OSError, ValueError):
        return True
    return bool(readable)


class LeanSession(requests.Session):
    """A requests session whose WinRM requests are prepared and sent without requests' general machinery.

    pypsrp sends every request through `Session.prepare_request`: for a WinRM session each is a POST of bytes
    (or nothing) with headers and the session's auth, never with cookies, params, files or JSON, and merging all
    of those cost about 0.35 ms of CPU per request. Such a request is prepared here directly (same method, URL,
    headers, body, Content-Length, hooks and auth as requests would give: a test compares the two); anything
    else still goes through requests.

    Sending on the lean adapter (`send`) skips what requests' `Session.send` adds for the web, about 0.1 ms of
    CPU per request: following redirects (WinRM answers a POST where it is sent; a redirect reaches pypsrp as
    the HTTP status it is), cookies (a WinRM listener sets none, and a session with cookies goes through
    requests) and the elapsed time (unused)."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        adapter = self.get_adapter(request.url or "")
        if not isinstance(adapter, LeanHTTPAdapter) or self.cookies or kwargs.get("stream"):
            return super().send(request, **kwargs)
        kwargs.pop("allow_redirects", None)
        kwargs["stream"] = False
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("cert", self.cert)
        kwargs.setdefault("proxies", {})  # the lean adapter never uses a proxy
        response = adapter.send(request, **kwargs)
        # The request's response hooks: the Negotiate auth's second leg (and unsealing) happen there.
        answer: requests.Response = dispatch_hook("response", request.hooks, response, **kwargs)
        return answer

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        data = request.data if request.data != [] else None  # requests.Request turns data=None into []
        plain = (
            isinstance(request.url, str)
            and isinstance(data, (bytes, type(None)))
            and not (request.files or request.json is not None or request.params or request.cookies or self.cookies)
        )
        if not plain:
            return super().prepare_request(request)
        prepared = requests.PreparedRequest()
        prepared.method = str(request.method).upper()
        prepared.url = request.url
        headers: CaseInsensitiveDict[Any] = CaseInsensitiveDict(self.headers)
        for name, value in (request.headers or {}).items():
            if value is None:
                headers.pop(name, None)
            else:
                headers[name] = value
        prepared.headers = headers
        prepared.body = data or None
        prepared.prepare_content_length(prepared.body)
        prepared.prepare_hooks(merge_hooks(request.hooks, self.hooks))
        auth = request.auth or self.auth
        if auth is not None:
            prepared.prepare_auth(auth)
        return prepared
