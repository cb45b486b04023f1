"""HTTP(S) servers of the lab and the ``LabOrg`` lifecycle.

What it does: for every simulated server, listens on its own loopback address (127.0.10.1, .2, …) with
one Exchange port (``/PowerShell``, configuration ``Microsoft.Exchange``) and one WS-Man port
(``/wsman``, ``Microsoft.PowerShell``); authenticates each connection (Negotiate/NTLM with sealing over
HTTP, Kerberos too when given a keytab, Basic only over HTTPS unless unencrypted traffic is allowed);
injects the org file's faults (refuse, http_401, http_500, wsman_fault, delay, hang); hands SOAP to
``wsman.ShellRegistry``; and stops promptly even when clients or faults hang. A third port (``http_port``,
``web.WebResponder``) answers the unauthenticated OWA/ECP requests of the HTTPS build cross-check.

What it must not do: listen on anything but 127.0.0.0/8, share NTLM state between connections, or leave
threads, sockets or NTLM account files behind after ``stop()``.
"""

from __future__ import annotations

import base64
import contextlib
import http.server
import ipaddress
import logging
import os
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from eems_check.lab import auth, cmdlets, listening, psrp, wsman
from eems_check.lab.orgfile import LabOrgSpec, ServerSpec, format_build
from eems_check.lab.web import WebRequest, WebResponder

__all__ = ["LabOrg"]

log = logging.getLogger(__name__)

_PATHS = {"exchange": "/powershell", "wsman": "/wsman"}
_CONFIGS = {"exchange": "Microsoft.Exchange", "wsman": "Microsoft.PowerShell"}
_SERVER_HEADERS = {"exchange": "Microsoft-IIS/10.0", "wsman": "Microsoft-HTTPAPI/2.0"}
_SOAP_TYPE = "application/soap+xml;charset=UTF-8"

_HTTPSYS_404 = (
    b'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN""http://www.w3.org/TR/html4/strict.dtd">\r\n'
    b"<HTML><HEAD><TITLE>Not Found</TITLE>\r\n"
    b'<META HTTP-EQUIV="Content-Type" Content="text/html; charset=us-ascii"></HEAD>\r\n'
    b"<BODY><h2>Not Found</h2>\r\n<hr><p>HTTP Error 404. The requested resource is not found.</p>\r\n"
    b"</BODY></HTML>\r\n"
)
_HTML_500 = (
    b"<html>\r\n<head><title>Runtime Error</title>\r\n"
    b'<meta name="viewport" content="width=device-width" />\r\n</head>\r\n'
    b"<body bgcolor=\"white\">\r\n<span><H1>Server Error in '/PowerShell' Application.<hr width=100% size=1>"
    b"</H1>\r\n<h2> <i>Runtime Error</i> </h2></span>\r\n"
    b"<b> Description: </b>An application error occurred on "
    b"the server.&nbsp;<br><br>\r\n</body>\r\n</html>\r\n"
)


_ENDLESS_BLOCKS = 32 * 1024  # 64 KiB blocks: 2 GiB at most
# A second answer nobody asked for, written right after a real one (the ``trailing_bytes`` fault).
_SMUGGLED = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: 23\r\n\r\n"
    b"<smuggled-answer-xyz />"
)


def _loopback(address: str) -> ipaddress.IPv4Address:
    ip = ipaddress.IPv4Address(address)
    if not ip.is_loopback:
        raise ValueError(f"the lab only listens on 127.0.0.0/8, not {address}")
    return ip


class _Listener(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """One listening socket: one endpoint of one simulated server."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, lab: LabOrg, spec: ServerSpec, endpoint: str, address: str, port: int) -> None:
        self.lab = lab
        self.spec = spec
        self.endpoint = endpoint
        self.connections: set[socket.socket] = set()
        self.conn_lock = threading.Lock()
        super().__init__((address, port), _Handler)
        self.registry: wsman.ShellRegistry | None = None

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the address back to a name (getfqdn): seconds on some resolvers.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr

    def track(self, sock: socket.socket, add: bool) -> None:
        with self.conn_lock:
            if add:
                self.connections.add(sock)
            else:
                self.connections.discard(sock)

    def drop_connections(self) -> None:
        with self.conn_lock:
            socks = list(self.connections)
            self.connections.clear()
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("lab connection error from %s", client_address, exc_info=True)



class _Handler(http.server.BaseHTTPRequestHandler):
    """One TCP connection (keep-alive); holds that connection's authentication state."""

    protocol_version = "HTTP/1.1"
    server: _Listener
    raw_requestline: bytes  # set by handle_one_request
    timeout = 300

    def setup(self) -> None:
        self.raw_sock: socket.socket = self.request
        self.server.track(self.raw_sock, True)
        lab = self.server.lab
        self.tls = lab.ssl_context is not None
        if lab.ssl_context is not None:
            self.request.settimeout(10)
            self.request = lab.ssl_context.wrap_socket(self.request, server_side=True)
        super().setup()
        basic_ok = lab.spec.allow_basic and (self.tls or lab.allow_unencrypted)
        self.basic_offered = basic_ok
        self.conn_auth = auth.ConnectionAuth(
            lab.spec.accounts,
            lab.spec.domain,
            basic_allowed=basic_ok,
            kerberos=lab.kerberos_keytab is not None,
            negotiate=not lab.kerberos_only,
        )

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        self.server.track(self.raw_sock, False)

    def handle(self) -> None:
        with contextlib.suppress(OSError, ssl.SSLError, ValueError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- responses ------------------------------------------------------------------------------------

    def _send(
        self,
        status: int,
        body: bytes = b"",
        headers: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
        trailer: bytes = b"",
    ) -> None:
        reason = self.responses.get(status, ("",))[0]
        lines = [f"HTTP/1.1 {status} {reason}", f"Server: {_SERVER_HEADERS[self.server.endpoint]}"]
        for name, value in headers or []:
            lines.append(f"{name}: {value}")
        lines.append(f"Content-Length: {len(body)}")
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self.wfile.write(head + body + trailer)  # one write: no header/body split on the wire
        with contextlib.suppress(OSError, AttributeError):
            self.wfile.flush()

    def _challenge(self, *, close: bool = False, token: bytes | None = None, scheme: str = "Negotiate") -> None:
        headers = []
        if token:
            headers.append(("WWW-Authenticate", f"{scheme} {base64.b64encode(token).decode()}"))
        else:
            headers.extend(("WWW-Authenticate", value) for value in self.conn_auth.challenges())
        self._send(401, b"", headers, close=close)

    def _hang(self) -> None:
        """Never answer: wait for the lab to stop, then drop the connection."""
        self.server.lab.stopping.wait()
        self.close_connection = True

    # -- methods --------------------------------------------------------------------------------------

    def do_POST(self) -> None:
        lab = self.server.lab
        spec = self.server.spec
        endpoint = self.server.endpoint
        lab.count_request(spec.fqdn)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        if not self._path_ok():
            self._send(404, _HTTPSYS_404, [("Content-Type", "text/html; charset=us-ascii")])
            return

        if spec.fault("hang", endpoint, scope="all") is not None:
            self._hang()
            return
        delay = spec.fault("delay", endpoint, scope="request")
        if delay is not None and delay.ms and lab.stopping.wait(delay.ms / 1000):
            self.close_connection = True
            return

        if spec.fault("http_401", endpoint) is not None:
            self._challenge()
            return

        outcome = self.conn_auth.evaluate(self.headers.get("Authorization"))
        if outcome.status == "challenge":
            self._challenge()
            return
        if outcome.status == "fail":
            self._challenge(close=True)
            return
        if outcome.status == "continue":
            self._challenge(token=outcome.token, scheme=outcome.scheme)
            return

        extra: list[tuple[str, str]] = []
        if outcome.token:
            token = base64.b64encode(outcome.token).decode()
            extra.append(("WWW-Authenticate", f"{outcome.scheme} {token}"))
        if not body:
            self._send(200, b"", extra)
            return
        if spec.fault("http_500", endpoint) is not None:
            self._send(500, _HTML_500, [*extra, ("Content-Type", "text/html; charset=utf-8")])
            return

        content_type = self.headers.get("Content-Type", "")
        sealed = auth.is_sealed(content_type)
        context = (
            self.conn_auth.sealing_context if outcome.scheme.lower() in ("negotiate", "ntlm", "kerberos") else None
        )
        if sealed:
            if context is None:
                self._send(400, b"", extra, close=True)
                return
            try:
                body = auth.unseal(context, content_type, body)
            except auth.SealError:
                log.debug("cannot unseal request", exc_info=True)
                self._send(400, b"", extra, close=True)
                return
        elif context is not None and not self.tls:
            # WinRM rejects unsealed SOAP on an HTTP Negotiate connection.
            self._send(400, b"", extra)
            return

        for kind in ("endless_body", "negative_chunk"):
            if spec.fault(kind, endpoint) is not None:
                self._endless(chunked=kind == "negative_chunk")
                return

        registry = self.server.registry
        assert registry is not None
        req: wsman.WSManRequest | None = None
        status = 200
        try:
            req = wsman.parse_request(body)
            if req.action.endswith("/Receive"):
                lab.count_receive(spec.fqdn)
            payload = registry.handle(req, outcome.user or self._user_name(), self.client_address[0])
        except wsman.WSManFault as fault:
            status = 500
            payload = fault.render(req.message_id if req else None, spec.fqdn)
        except psrp.HangForever:
            self._hang()
            return
        except Exception as exc:
            log.exception("lab internal error")
            status = 500
            payload = wsman.WSManFault(0x80338000 + 0x1FF, f"eems-check lab internal error: {exc}").render(
                req.message_id if req else None, spec.fqdn
            )
        if sealed and context is not None:
            ctype, payload = auth.seal(context, payload, auth.sealed_protocol(content_type))
        else:
            ctype = _SOAP_TYPE
        smuggled = _SMUGGLED if spec.fault("trailing_bytes", endpoint) is not None else b""
        self._send(status, payload, [*extra, ("Content-Type", ctype)], trailer=smuggled)

    def _endless(self, *, chunked: bool) -> None:
        """An answer that never ends (the ``endless_body`` and ``negative_chunk`` faults): bounded at 2 GiB, and
        over as soon as the client hangs up or the lab stops."""
        framing = "Transfer-Encoding: chunked\r\n\r\n-10\r\n" if chunked else "Connection: close\r\n\r\n"
        head = f"HTTP/1.1 200 OK\r\nServer: {_SERVER_HEADERS[self.server.endpoint]}\r\nContent-Type: {_SOAP_TYPE}\r\n"
        self.close_connection = True
        block = b"<s:Envelope>" + b"x" * (64 * 1024 - 12)
        with contextlib.suppress(OSError):
            self.wfile.write((head + framing).encode("latin-1"))
            for _ in range(_ENDLESS_BLOCKS):
                if self.server.lab.stopping.is_set():
                    break
                self.wfile.write(block)

    def _user_name(self) -> str:
        return self.server.lab.credentials[0]

    def _path_ok(self) -> bool:
        path = self.path.split("?", 1)[0].rstrip("/").lower()
        return path == _PATHS[self.server.endpoint]

    def _other(self) -> None:
        self.server.lab.count_request(self.server.spec.fqdn)
        length = int(self.headers.get("Content-Length") or 0)
        if length > 0:
            self.rfile.read(length)
        if not self._path_ok():
            self._send(404, _HTTPSYS_404, [("Content-Type", "text/html; charset=us-ascii")])
        else:
            self._send(405, b"", [("Allow", "POST")])

    do_GET = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _other

    def do_HEAD(self) -> None:
        self._other()


class LabOrg:
    """A running simulated Exchange organisation (context manager).

    ``start()`` binds every non-refused server on its loopback address; ``stop()`` closes listeners,
    connections and shells, wakes hung requests and removes the NTLM account file. The OWA/ECP port uses
    ``web_ssl_context`` (default: ``ssl_context``; plain HTTP when both are None).
    """

    def __init__(
        self,
        spec: LabOrgSpec,
        *,
        ssl_context: ssl.SSLContext | None = None,
        base_address: str = "127.0.10.1",
        exchange_port: int = 0,
        wsman_port: int = 0,
        allow_unencrypted: bool | None = None,
        http_port: int = 0,
        web_ssl_context: ssl.SSLContext | None = None,
        kerberos_keytab: str | os.PathLike[str] | None = None,
        kerberos_only: bool = False,
        serve: Iterable[str] | None = None,
    ) -> None:
        # ``serve``: the names of the servers whose endpoints this instance binds (default: all). Every server
        # keeps its address and is listed by Get-ExchangeServer either way, so several processes, started with
        # the same spec, explicit ports and disjoint ``serve`` sets, together simulate one organisation without
        # sharing one interpreter lock (as real servers share nothing).
        # Kerberos: a keytab with the servers' service keys (HTTP/<fqdn>, host/<fqdn>, WSMAN/<fqdn>) makes every
        # endpoint accept Kerberos as well (KRB5_KTNAME while running); ``kerberos_only`` offers the plain
        # ``Kerberos`` scheme alone, so clients seal with application/HTTP-Kerberos-session-encrypted.
        if kerberos_only and kerberos_keytab is None:
            raise ValueError("kerberos_only needs kerberos_keytab")
        self.kerberos_keytab = None if kerberos_keytab is None else os.fspath(kerberos_keytab)
        self.kerberos_only = kerberos_only
        self.spec = spec
        self.ssl_context = ssl_context
        self.https = ssl_context is not None
        self.web_ssl_context = web_ssl_context or ssl_context
        self.web_https = self.web_ssl_context is not None
        self.allow_unencrypted = spec.allow_unencrypted if allow_unencrypted is None else allow_unencrypted
        base = _loopback(base_address)
        self._addresses: dict[str, str] = {}
        for index, server in enumerate(spec.servers):
            ip = _loopback(str(base + index))
            self._addresses[server.fqdn.lower()] = str(ip)
        self._requested_ports = (exchange_port, wsman_port)
        self.exchange_port = exchange_port
        self.wsman_port = wsman_port
        self._requested_http_port = http_port
        self.http_port = http_port
        self._web: WebResponder | None = None
        self.stopping = threading.Event()
        self._listeners: list[_Listener] = []
        self._threads: list[threading.Thread] = []
        self._pipeline_threads: list[threading.Thread] = []
        self._registries: list[wsman.ShellRegistry] = []
        self._counts: dict[str, int] = {s.fqdn.lower(): 0 for s in spec.servers}
        self._receives: dict[str, int] = {}
        self._lock = threading.Lock()
        self._ntlm_handle: int | None = None
        self._started = False
        account = spec.accounts[0]
        self.credentials: tuple[str, str] = (account.username, account.password)
        self.discovery_fqdn = self._discovery().fqdn
        self._served = None if serve is None else {name.lower() for name in serve}

    # -- public API -----------------------------------------------------------------------------------

    def __enter__(self) -> LabOrg:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        """Bind and serve. Raises OSError if explicit ports are taken."""
        if self._started:
            return
        self.stopping.clear()
        if self.kerberos_keytab is not None:
            auth.KeytabStore.register(self.kerberos_keytab)
        self._ntlm_handle = auth.NtlmUserStore.register(self.spec.accounts, self.spec.domain)
        try:
            self._bind()
            self._bind_web()
        except BaseException:
            for listener in self._listeners:
                listener.server_close()
            self._listeners.clear()
            self._registries.clear()
            auth.NtlmUserStore.unregister(self._ntlm_handle)
            self._ntlm_handle = None
            if self.kerberos_keytab is not None:
                auth.KeytabStore.unregister()
            raise
        assert self._web is not None
        self._web.start()
        thread = threading.Thread(
            target=listening.serve_until, args=(self._listeners, self.stopping), name="lab-accept", daemon=True
        )
        thread.start()
        self._threads.append(thread)
        self._started = True

    def stop(self) -> None:
        """Stop everything; returns promptly even with hung clients or hang faults."""
        if not self._started:
            return
        self.stopping.set()
        if self._web is not None:
            self._web.stop()
        for registry in self._registries:
            registry.wake_all()
        for thread in self._threads:  # the accept loop sees `stopping` within its 50 ms select
            thread.join(2.0)
        for listener in self._listeners:
            listener.server_close()
            listener.drop_connections()
        for registry in self._registries:
            registry.close_all()
        deadline = time.monotonic() + 2.0
        for thread in [*self._threads, *self._pipeline_threads]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads.clear()
        self._pipeline_threads.clear()
        self._listeners.clear()
        self._registries.clear()
        if self._ntlm_handle is not None:
            auth.NtlmUserStore.unregister(self._ntlm_handle)
            self._ntlm_handle = None
        if self.kerberos_keytab is not None:
            auth.KeytabStore.unregister()
        self._started = False

    def address_map(self) -> dict[str, str]:
        """FQDN (lower-case) -> loopback IP for every server, refused ones included."""
        return dict(self._addresses)

    def web_requests(self) -> list[WebRequest]:
        """Every request the OWA/ECP ports saw since ``start()`` (server FQDN, method, path), oldest first."""
        return self._web.requests() if self._web is not None else []

    def open_shells(self) -> int:
        """Shells (runspace pools) currently open on all servers and endpoints."""
        return sum(r.count() for r in self._registries)

    def request_count(self, fqdn: str | None = None) -> int:
        """HTTP requests seen (auth legs included), for one server or in total."""
        with self._lock:
            if fqdn is None:
                return sum(self._counts.values())
            return self._counts.get(fqdn.lower(), 0)

    def count_request(self, fqdn: str) -> None:
        with self._lock:
            self._counts[fqdn.lower()] = self._counts.get(fqdn.lower(), 0) + 1

    def receive_count(self, fqdn: str) -> int:
        """WS-Man Receives among those requests: how many a pipeline needs depends on when its output and its
        end are ready, as on a real server; the other requests are fixed by the protocol."""
        with self._lock:
            return self._receives.get(fqdn.lower(), 0)

    def count_receive(self, fqdn: str) -> None:
        with self._lock:
            self._receives[fqdn.lower()] = self._receives.get(fqdn.lower(), 0) + 1

    def describe(self) -> str:
        """Human-readable listing of servers, addresses, ports, faults and the account."""
        scheme = "https" if self.https else "http"
        only = " (Kerberos scheme only)" if self.kerberos_only else ""
        lines = [
            f"Lab organisation {self.spec.name!r} ({self.spec.domain}) from {self.spec.path}",
            f"  Exchange endpoint: {scheme}://<fqdn>:{self.exchange_port}/PowerShell   (Microsoft.Exchange)",
            f"  WS-Man endpoint:   {scheme}://<fqdn>:{self.wsman_port}/wsman        (Microsoft.PowerShell)",
            f"  OWA/ECP endpoint:  {'https' if self.web_https else 'http'}://<fqdn>:{self.http_port}/owa/   "
            "(unauthenticated build cross-check)",
            f"  Discovery server:  {self.discovery_fqdn}",
            f"  Account:           {self.credentials[0]} / {self.credentials[1]}",
            *([f"  Kerberos:          keytab {self.kerberos_keytab}{only}"] if self.kerberos_keytab else []),
            "  Servers:",
        ]
        for server in self.spec.servers:
            faults = (
                ", ".join(f.kind + (f"({f.endpoint})" if f.endpoint != "both" else "") for f in server.faults) or "-"
            )
            lines.append(
                f"    {server.fqdn:<28} {self._addresses[server.fqdn.lower()]:<14} "
                f"{'/'.join(server.roles):<10} {format_build(server.build):<14} "
                f"site={server.site}  faults: {faults}"
            )
        return "\n".join(lines)

    # -- internals ------------------------------------------------------------------------------------

    def _discovery(self) -> ServerSpec:
        if self.spec.discovery_server:
            found = self.spec.server(self.spec.discovery_server)
            if found is not None:
                return found
        for server in self.spec.servers:
            if server.is_mailbox and not server.is_edge:
                return server
        return self.spec.servers[0]

    def _served_servers(self) -> list[ServerSpec]:
        served = self._served
        return [s for s in self.spec.servers if served is None or s.name.lower() in served]

    def _iter_endpoints(self) -> Iterator[tuple[ServerSpec, str, str]]:
        for server in self._served_servers():
            for endpoint in ("exchange", "wsman"):
                if not server.refused(endpoint):
                    yield server, endpoint, self._addresses[server.fqdn.lower()]

    def _bind(self) -> None:
        explicit = all(self._requested_ports)
        last_error: OSError | None = None
        for _attempt in range(25):
            ports = {"exchange": self._requested_ports[0], "wsman": self._requested_ports[1]}
            created: list[_Listener] = []
            try:
                for server, endpoint, address in self._iter_endpoints():
                    listener = _Listener(self, server, endpoint, address, ports[endpoint])
                    created.append(listener)
                    if not ports[endpoint]:
                        ports[endpoint] = listener.server_address[1]
                        other = "wsman" if endpoint == "exchange" else "exchange"
                        if ports[endpoint] == ports[other]:
                            raise OSError("exchange and wsman ports collide")
                for endpoint in ("exchange", "wsman"):
                    if not ports[endpoint]:
                        ports[endpoint] = self._free_port(exclude=set(ports.values()))
            except OSError as exc:
                last_error = exc
                for listener in created:
                    listener.server_close()
                if explicit:
                    raise
                continue
            self._listeners = created
            self.exchange_port, self.wsman_port = ports["exchange"], ports["wsman"]
            self._make_registries()
            return
        raise OSError(f"could not bind the lab's ports: {last_error}")

    def _bind_web(self) -> None:
        servers = [(s, self._addresses[s.fqdn.lower()]) for s in self._served_servers()]
        taken = {self.exchange_port, self.wsman_port}
        last_error: OSError | None = None
        for _attempt in range(25):
            web = WebResponder(servers, self.web_ssl_context, self.spec.server)
            try:
                web.bind(self._requested_http_port, taken)
            except OSError as exc:
                last_error = exc
                if self._requested_http_port:
                    raise
                continue
            self._web = web
            self.http_port = web.port or self._free_port(exclude=taken)
            return
        raise OSError(f"could not bind the lab's OWA/ECP port: {last_error}")

    def _free_port(self, exclude: set[int]) -> int:
        base = next(iter(self._addresses.values()))
        while True:
            with socket.socket() as probe:
                probe.bind((base, 0))
                port = probe.getsockname()[1]
            if port not in exclude:
                return port

    def _make_registries(self) -> None:
        scheme = "https" if self.https else "http"
        for listener in self._listeners:
            server, endpoint = listener.spec, listener.endpoint
            port = self.exchange_port if endpoint == "exchange" else self.wsman_port
            path = "PowerShell" if endpoint == "exchange" else "wsman"
            fault = server.fault("wsman_fault", endpoint)

            def factory(user: str, server: ServerSpec = server, endpoint: str = endpoint) -> cmdlets.Runtime:
                return cmdlets.Runtime(self.spec, server, endpoint, user=user)

            registry = wsman.ShellRegistry(
                endpoint=endpoint,
                configuration=_CONFIGS[endpoint],
                machine=server.fqdn,
                address=f"{scheme}://{server.fqdn}:{port}/{path}",
                runtime_factory=factory,
                stopping=self.stopping,
                create_fault=fault,
                on_thread=self._track_thread,
            )
            listener.registry = registry
            self._registries.append(registry)

    def _track_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._pipeline_threads = [t for t in self._pipeline_threads if t.is_alive()]
            self._pipeline_threads.append(thread)
