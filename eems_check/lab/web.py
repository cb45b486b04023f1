"""The lab's OWA/ECP responder: what an Exchange server's IIS publishes about its build to anyone, per server.

What it does: on every non-Edge server's loopback address, one more port (``http_port``; HTTPS with the lab's TLS
context, plain HTTP when the lab has none) answers like IIS in front of Exchange:
* ``GET /owa/`` -> 302 to ``/owa/auth/logon.aspx?...`` with ``X-OWA-Version: <build>`` (header name spelled as the
  org file says, or left out when a proxy strips it) and ``X-FEServer: <name>``;
* ``GET /ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application`` -> the ClickOnce deployment
  manifest, whose top ``assemblyIdentity`` carries the build and whose dependency entry carries another version
  (so a client must anchor on the ``name`` attribute); 404 when the org file says the manifest is absent;
* anything else -> 404.
Every request is logged (server, method, path) so tests can prove a client asked for nothing else. One thread
accepts for all servers; each connection gets a short-lived daemon thread. Faults: ``http_refuse`` (nothing
listens) and the org file's ``http`` options.

What it must not do: listen beyond 127.0.0.0/8, authenticate, or keep threads and sockets after ``stop()``.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import socket
import socketserver
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from eems_check.lab import listening
from eems_check.lab.orgfile import ServerSpec, format_build

__all__ = ["MANIFEST_PATH", "OWA_PATH", "WebRequest", "WebResponder", "manifest_xml"]

log = logging.getLogger(__name__)

OWA_PATH = "/owa/"
MANIFEST_PATH = "/ecp/Current/exporttool/microsoft.exchange.ediscovery.exporttool.application"
_LOG_LIMIT = 10_000
_IIS_404 = (
    b'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\r\n'
    b"<html><head><title>404 - File or directory not found.</title></head>\r\n"
    b"<body><h2>404 - File or directory not found.</h2></body></html>\r\n"
)


@dataclass(frozen=True)
class WebRequest:
    """One request the responder saw."""

    fqdn: str
    method: str
    path: str
    user_agent: str = ""
    credentials: bool = False  # an Authorization or Cookie header came with it


Lookup = Callable[[str], "ServerSpec | None"]


def published_build(spec: ServerSpec, lookup: Lookup | None = None) -> str:
    """The build the server publishes over HTTP: the org file's ``http.build`` override; else, when ``fe_server``
    names another server of the org (a load balancer sends the request there), that server's build; else its own."""
    if spec.http.build:
        return spec.http.build
    other = lookup(spec.http.fe_server) if lookup is not None and spec.http.fe_server else None
    if other is not None and other is not spec:
        return other.http.build or format_build(other.build)
    return format_build(spec.build)


def manifest_xml(spec: ServerSpec, lookup: Lookup | None = None) -> bytes:
    """A ClickOnce deployment manifest for the eDiscovery export tool, shaped like Exchange's."""
    build = published_build(spec, lookup)
    dependency = f"{build.split('.')[0]}.0.0.0"  # the .NET AssemblyVersion style (15.0.0.0): never a build
    return f"""<?xml version="1.0" encoding="utf-8"?>
<asmv1:assembly xsi:schemaLocation="urn:schemas-microsoft-com:asm.v1 assembly.adaptive.xsd" manifestVersion="1.0" \
xmlns:asmv1="urn:schemas-microsoft-com:asm.v1" xmlns="urn:schemas-microsoft-com:asm.v2" \
xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:co.v1="urn:schemas-microsoft-com:clickonce.v1" xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">
  <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.application" version="{build}" \
publicKeyToken="31bf3856ad364e35" language="neutral" processorArchitecture="msil" \
xmlns="urn:schemas-microsoft-com:asm.v1" />
  <description asmv2:publisher="Microsoft Corporation" co.v1:suiteName="Microsoft Exchange" \
asmv2:product="Microsoft Exchange eDiscovery Export Tool" xmlns="urn:schemas-microsoft-com:asm.v1" />
  <deployment install="false" trustURLParameters="true" mapFileExtensions="true" />
  <compatibleFrameworks xmlns="urn:schemas-microsoft-com:clickonce.v2">
    <framework targetVersion="4.5" profile="Full" supportedRuntime="4.0.30319" />
  </compatibleFrameworks>
  <dependency>
    <dependentAssembly dependencyType="install" \
codebase="{build}\\microsoft.exchange.ediscovery.exporttool.exe.manifest" size="13867">
      <assemblyIdentity name="microsoft.exchange.ediscovery.exporttool.exe" version="{dependency}" \
publicKeyToken="31bf3856ad364e35" language="neutral" processorArchitecture="msil" type="win32" />
      <hash>
        <dsig:Transforms><dsig:Transform Algorithm="urn:schemas-microsoft-com:HashTransforms.Identity" />\
</dsig:Transforms>
        <dsig:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha256" />
        <dsig:DigestValue>bGFiIG1hbmlmZXN0LCBub3QgYSByZWFsIGRpZ2VzdA==</dsig:DigestValue>
      </hash>
    </dependentAssembly>
  </dependency>
</asmv1:assembly>
""".encode()


class _WebListener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The listening socket of one server; requests are accepted by the responder's single thread."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, responder: WebResponder, spec: ServerSpec, address: str, port: int) -> None:
        self.responder = responder
        self.spec = spec
        super().__init__((address, port), _WebHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the address back to a name (getfqdn): seconds on some resolvers.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("lab web connection error from %s", client_address, exc_info=True)


class _WebHandler(http.server.BaseHTTPRequestHandler):
    """One connection to one server's OWA/ECP port."""

    protocol_version = "HTTP/1.1"
    server: _WebListener
    timeout = 10

    def setup(self) -> None:
        self.raw_sock: socket.socket = self.request
        responder = self.server.responder
        responder.track(self.raw_sock, True)
        if responder.ssl_context is not None:
            self.request.settimeout(10)
            self.request = responder.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.responder.track(self.raw_sock, False)

    def handle(self) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", "Server: Microsoft-IIS/10.0"]
        lines += [f"{name}: {value}" for name, value in headers]
        lines += [f"Content-Length: {len(body)}", "X-Powered-By: ASP.NET"]
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + (b"" if self.command == "HEAD" else body))
        with contextlib.suppress(OSError, AttributeError):
            self.wfile.flush()

    def _exchange_headers(self) -> list[tuple[str, str]]:
        spec = self.server.spec
        headers = [("X-FEServer", spec.http.fe_server or spec.name)]
        if spec.http.owa_header:
            headers.insert(0, (spec.http.header_case, published_build(spec, self.server.responder.lookup)))
        return headers

    def _answer(self) -> None:
        spec = self.server.spec
        creds = any(self.headers.get(h) is not None for h in ("Authorization", "Cookie"))
        seen = WebRequest(spec.fqdn, self.command, self.path, self.headers.get("User-Agent") or "", creds)
        self.server.responder.record(seen)
        length = int(self.headers.get("Content-Length") or 0)
        if 0 < length <= 65536:
            self.rfile.read(length)
        path = urlsplit(self.path).path
        if self.command in ("GET", "HEAD") and path.lower() in ("/owa", "/owa/"):
            back = quote(f"https://{spec.fqdn}/owa/", safe="").lower()
            target = f"https://{spec.fqdn}/owa/auth/logon.aspx?url={back}&reason=0"
            body = (
                f'<html><head><title>Object moved</title></head><body><h2>Object moved to <a href="{target}">'
                "here</a>.</h2></body></html>\r\n"
            )
            headers = [("Location", target), ("Content-Type", "text/html; charset=utf-8")]
            headers.append(("Cache-Control", "no-cache"))
            self._send(302, body.encode(), [*headers, *self._exchange_headers()])
            return
        if self.command in ("GET", "HEAD") and path.lower() == MANIFEST_PATH.lower() and spec.http.manifest:
            headers = [("Content-Type", "application/x-ms-application"), ("Cache-Control", "private")]
            manifest = manifest_xml(spec, self.server.responder.lookup)
            self._send(200, manifest, [*headers, *self._exchange_headers()])
            return
        self._send(404, _IIS_404, [("Content-Type", "text/html")])

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _answer


class WebResponder:
    """The OWA/ECP ports of a lab's servers: one listener per server on a shared port, one accepting thread."""

    def __init__(
        self,
        servers: Sequence[tuple[ServerSpec, str]],
        ssl_context: ssl.SSLContext | None,
        lookup: Lookup | None = None,
    ) -> None:
        self.servers = [(spec, address) for spec, address in servers if not spec.is_edge]
        self.ssl_context = ssl_context
        self.lookup = lookup
        self.port = 0
        self._listeners: list[_WebListener] = []
        self._connections: set[socket.socket] = set()
        self._log: list[WebRequest] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def bind(self, port: int, exclude: set[int]) -> None:
        """Bind every listener to `port` (0: one free port for all, not in `exclude`); raises OSError."""
        created: list[_WebListener] = []
        try:
            for spec, address in self.servers:
                if spec.fault("http_refuse") is not None:
                    continue
                listener = _WebListener(self, spec, address, port)
                created.append(listener)
                if not port:
                    port = listener.server_address[1]
                    if port in exclude:
                        raise OSError(f"port {port} is taken by another lab endpoint")
        except OSError:
            for listener in created:
                listener.server_close()
            raise
        self._listeners = created
        self.port = port

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=listening.serve_until, args=(self._listeners, self._stop), name="lab-web", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close listeners and open connections; returns promptly."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None
        for listener in self._listeners:
            listener.server_close()
        self._listeners = []
        with self._lock:
            socks = list(self._connections)
            self._connections.clear()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def requests(self) -> list[WebRequest]:
        """Every request seen since the lab started (oldest first, at most 10,000)."""
        with self._lock:
            return list(self._log)

    def record(self, request: WebRequest) -> None:
        with self._lock:
            if len(self._log) < _LOG_LIMIT:
                self._log.append(request)

    def track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(sock)
            else:
                self._connections.discard(sock)
