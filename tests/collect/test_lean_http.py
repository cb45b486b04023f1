"""The lean plain-HTTP adapter reads every answer shape a WinRM listener (or a broken one) sends, over real
loopback sockets, and fails with the requests exceptions the failure classifier reads."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import pytest
import requests

from eems_check.collect.lean_http import LeanHTTPAdapter, LeanSession
from eems_check.collect.remoting import Credentials, Target, classify
from eems_check.model import CollectionStatus as S

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


@dataclass
class Scripted:
    """A loopback server that answers the n-th request with the n-th scripted reply. A reply of None closes
    the connection without answering; `close_after` closes it after that reply's index."""

    replies: list[bytes | None]
    close_after: set[int] = field(default_factory=set)
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/wsman"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                self._answer(conn, reader)
                conn.shutdown(socket.SHUT_RDWR)  # a real close, though the reader still holds the socket

    def _answer(self, conn: socket.socket, reader: BinaryIO) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    break
                head += line
            if not head:
                return
            length = next((int(h.split(b":")[1]) for h in head.split(b"\r\n")
                           if h.lower().startswith(b"content-length")), 0)
            self.requests.append(head + reader.read(length))
            index = len(self.requests) - 1
            reply = self.replies[index] if index < len(self.replies) else OK
            if reply is None:
                return
            conn.sendall(reply)
            if index in self.close_after:
                return


@pytest.fixture
def session() -> Iterator[requests.Session]:
    s = requests.Session()
    s.trust_env = False
    s.mount("http://", LeanHTTPAdapter())
    yield s
    s.close()


@pytest.mark.parametrize(("reply", "body", "header", "value"), [
    (OK, b"hello", "content-length", "5"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=1\r\nde\r\n0\r\nT: 1\r\n\r\n",
     b"abcde", "transfer-encoding", "chunked"),
    (b"HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Kerberos\r\nContent-Length: 0\r\n\r\n",
     b"", "www-authenticate", "Negotiate, Kerberos"),
    (b"HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\nContent-Length: 2\r\n\r\nok", b"ok", "x-long", "one two"),
    (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok", "content-length", "2"),
    (b"HTTP/1.1 204 No Content\r\n\r\n", b"", "content-length", None),
])
def test_answer_shapes_are_read_whole(session: requests.Session, reply: bytes, body: bytes, header: str,
                                      value: str | None) -> None:
    server = Scripted([reply])
    response = session.post(server.url, data=b"<x/>", timeout=(2, 2))
    assert response.content == body
    assert response.headers.get(header) == value


def test_a_body_without_length_ends_at_the_close(session: requests.Session) -> None:
    server = Scripted([b"HTTP/1.0 200 OK\r\n\r\nuntil the end"], close_after={0})
    assert session.post(server.url, data=b"a", timeout=2).content == b"until the end"
    assert session.post(server.url, data=b"b", timeout=2).content == b"hello"
    assert server.connections == 2


def test_requests_share_one_kept_alive_connection_and_carry_host_and_length(session: requests.Session) -> None:
    server = Scripted([OK, OK, OK])
    for payload in (b"one", b"", b"three"):
        assert session.post(server.url, data=payload, headers={"Authorization": b"Negotiate AAA="},
                            timeout=2).status_code == 200
    assert server.connections == 1
    first = server.requests[0].decode()
    assert first.startswith("POST /wsman HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{server.port}\r\n" in first and "Content-Length: 3\r\n" in first
    assert "Authorization: Negotiate AAA=\r\n" in first and first.endswith("one")
    assert "Content-Length: 0\r\n" in server.requests[1].decode()


@pytest.mark.parametrize("closing", [
    b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
])
def test_a_closing_answer_opens_a_new_connection_next_time(session: requests.Session, closing: bytes) -> None:
    server = Scripted([closing, OK])
    session.post(server.url, data=b"a", timeout=2)
    assert session.post(server.url, data=b"b", timeout=2).content == b"hello"
    assert server.connections == 2


def test_a_connection_the_server_dropped_while_idle_is_replaced(session: requests.Session) -> None:
    server = Scripted([OK, OK], close_after={0})  # closes without saying so
    session.post(server.url, data=b"a", timeout=2)
    threading.Event().wait(0.1)
    assert session.post(server.url, data=b"b", timeout=2).content == b"hello"
    assert server.connections == 2


@pytest.mark.parametrize(("reply", "words"), [
    (None, "closed the connection without answering"),
    (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "in the middle of its answer"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 999999999999\r\n\r\n", "out of bounds"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "malformed HTTP header"),
    (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 300 + b"\r\n", "too many HTTP headers"),
])
def test_broken_answers_are_connection_errors(session: requests.Session, reply: bytes | None, words: str) -> None:
    server = Scripted([reply], close_after={0})
    with pytest.raises(requests.exceptions.ConnectionError, match=words):
        session.post(server.url, data=b"a", timeout=2)


def test_a_refused_connection_is_classified_unreachable(session: requests.Session) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens here once the probe closes
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        session.post(f"http://127.0.0.1:{port}/wsman", data=b"a", timeout=2)
    failure = classify(caught.value, Target("ex01.contoso.lab", "127.0.0.1", port, False), Credentials())
    assert failure.status is S.UNREACHABLE and failure.reason.endswith("connection refused")


def test_a_silent_server_is_a_read_timeout_classified_as_timeout(session: requests.Session) -> None:
    listener = socket.create_server(("127.0.0.1", 0))  # accepts (backlog) but never answers
    port = listener.getsockname()[1]
    with listener, pytest.raises(requests.exceptions.ReadTimeout) as caught:
        session.post(f"http://127.0.0.1:{port}/wsman", data=b"a", timeout=(2, 0.3))
    failure = classify(caught.value, Target("ex01.contoso.lab", "127.0.0.1", port, False), Credentials())
    assert failure.status is S.TIMEOUT


def test_it_refuses_to_speak_tls() -> None:
    adapter = LeanHTTPAdapter()
    request = requests.Request("POST", "https://127.0.0.1:5986/wsman", data=b"a").prepare()
    with pytest.raises(requests.exceptions.InvalidURL):
        adapter.send(request, timeout=1)


def _stock_and_lean() -> tuple[requests.Session, requests.Session]:
    stock, lean = requests.Session(), LeanSession()
    for s in (stock, lean):
        s.trust_env = False
        s.headers.update({"User-Agent": "Python PSRP Client", "Accept-Encoding": "identity"})
        s.auth = _Marker()
    return stock, lean


class _Marker(requests.auth.AuthBase):
    """An auth that marks the request, as pypsrp's Negotiate auth adds a header and a hook."""

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Connection"] = "Keep-Alive"
        r.register_hook("response", _hook)
        return r


def _hook(response: requests.Response, **kwargs: object) -> requests.Response:
    return response


@pytest.mark.parametrize(("data", "headers"), [
    (b"<s:Envelope/>", {"Content-Type": "application/soap+xml;charset=UTF-8"}),
    (None, {}),
    (b"", {"Content-Type": "x", "Accept-Encoding": None}),
    (b"sealed", {"Content-Type": 'multipart/encrypted;boundary="Encrypted Boundary"', "Content-Length": "6"}),
])
def test_lean_sessions_prepare_winrm_requests_as_requests_does(data: bytes | None, headers: dict[str, str]) -> None:
    stock, lean = _stock_and_lean()
    made = [s.prepare_request(requests.Request("POST", "http://ex01.contoso.lab:5985/wsman", data=data,
                                               headers=dict(headers))) for s in (stock, lean)]
    a, b = made
    assert (a.method, a.url, a.body) == (b.method, b.url, b.body)
    assert dict(a.headers) == dict(b.headers)
    assert a.hooks == b.hooks


def test_a_bodiless_request_is_prepared_without_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    _, lean = _stock_and_lean()
    monkeypatch.setattr(requests.Session, "prepare_request", None)  # the general path must not be taken
    prepared = lean.prepare_request(requests.Request("POST", "http://ex01.contoso.lab:5985/wsman", data=None))
    assert prepared.body is None and prepared.headers["Content-Length"] == "0"


def test_lean_sessions_leave_anything_else_to_requests() -> None:
    _, lean = _stock_and_lean()
    prepared = lean.prepare_request(requests.Request("POST", "http://ex01.contoso.lab/x", params={"a": "1"},
                                                     json={"k": "v"}))
    assert prepared.url == "http://ex01.contoso.lab/x?a=1" and prepared.body == b'{"k": "v"}'


@pytest.fixture
def lean() -> Iterator[LeanSession]:
    s = LeanSession()
    s.trust_env = False
    s.mount("http://", LeanHTTPAdapter())
    yield s
    s.close()


def test_a_lean_session_sends_without_requests_and_runs_the_response_hooks(
    lean: LeanSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Scripted([OK])
    seen: list[int] = []
    monkeypatch.setattr(requests.Session, "send", None)  # the general path must not be taken

    def hook(response: requests.Response, **kwargs: object) -> requests.Response:
        seen.append(response.status_code)
        assert kwargs["timeout"] == 5 and kwargs["stream"] is False
        return response

    prepared = lean.prepare_request(requests.Request("POST", server.url, data=b"x", hooks={"response": [hook]}))
    answer = lean.send(prepared, timeout=5)
    assert (answer.status_code, answer.content, seen) == (200, b"hello", [200])


def test_a_lean_session_does_not_follow_redirects(lean: LeanSession) -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\r\nContent-Length: 0\r\n\r\n"
    server = Scripted([moved])
    answer = lean.post(server.url, data=b"x", timeout=5)
    assert answer.status_code == 302 and len(server.requests) == 1


@pytest.mark.parametrize("why", ["https", "cookies", "stream"])
def test_a_lean_session_leaves_other_sends_to_requests(
    lean: LeanSession, monkeypatch: pytest.MonkeyPatch, why: str
) -> None:
    calls: list[str] = []
    original = requests.Session.send

    def recording(self: requests.Session, request: requests.PreparedRequest, **kwargs: object) -> object:
        calls.append(request.url or "")
        return original(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", recording)
    server = Scripted([OK])
    url = server.url
    if why == "https":
        with socket.socket() as spare:  # a port nothing listens on: the stock adapter's refusal is enough
            spare.bind(("127.0.0.1", 0))
            url = f"https://127.0.0.1:{spare.getsockname()[1]}/wsman"
        with pytest.raises(requests.exceptions.ConnectionError):
            lean.post(url, data=b"x", timeout=5, verify=False)
    else:
        if why == "cookies":
            lean.cookies.set("lb", "1")
        answer = lean.post(url, data=b"x", timeout=5, stream=why == "stream")
        assert answer.status_code == 200
    assert calls == [url]
