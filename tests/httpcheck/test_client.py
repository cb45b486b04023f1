"""The cross-check's HTTP client against canned answers: statuses, caps, timeouts, refusals, what it sends."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from eems_check import __version__
from eems_check.collect.httpcheck import (
    MANIFEST_PATH,
    MAX_MANIFEST_BYTES,
    OWA_PATH,
    HttpTarget,
    check_server,
    check_servers,
)

from .conftest import FIXTURES

GOOD_MANIFEST = (FIXTURES / "manifests" / "exchange2019.application").read_bytes()


@dataclass
class Canned:
    """What the fake server answers per path: (status, headers, body); anything else is 404."""

    answers: dict[str, tuple[int, list[tuple[str, str]], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        canned = self.server.canned
        canned.seen.append((self.path, dict(self.headers.items())))
        status, headers, body = canned.answers.get(self.path, (404, [], b"not found"))
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, canned: Canned) -> None:
        self.canned = canned
        super().__init__(("127.0.60.1", 0), _Handler)


@pytest.fixture
def fake() -> Iterator[tuple[Canned, HttpTarget]]:
    canned = Canned()
    server = _Server(canned)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield canned, HttpTarget("EX01", "ex01.contoso.lab", "127.0.60.1", server.server_address[1], tls=False)
    finally:
        server.shutdown()
        server.server_close()


OWA_302 = (302, [("Location", "https://ex01.contoso.lab/owa/auth/logon.aspx?reason=0"),
                 ("X-OWA-Version", "15.2.986.5"), ("X-FEServer", "EX01")], b"moved")

# (answers, header build, manifest build, words in the errors)
CASES = [
    pytest.param({OWA_PATH: OWA_302, MANIFEST_PATH: (200, [], GOOD_MANIFEST)}, "15.2.986.5", "15.2.986.5", [],
                 id="302-and-manifest"),
    pytest.param({OWA_PATH: (401, [("x-owa-version", "15.1.2507.23")], b"")}, "15.1.2507.23", None,
                 ["manifest: HTTP 404"], id="401-lower-case-header-manifest-404"),
    pytest.param({OWA_PATH: (200, [("X-Owa-Version", "15.0.1497.48")], b"<html/>")}, "15.0.1497.48", None,
                 ["manifest: HTTP 404"], id="200"),
    pytest.param({OWA_PATH: (302, [("Location", "https://evil.example/")], b""),
                  MANIFEST_PATH: (200, [], GOOD_MANIFEST)}, None, "15.2.986.5",
                 ["without X-OWA-Version"], id="stripped-header-redirect-off-host-not-followed"),
    pytest.param({OWA_PATH: OWA_302, MANIFEST_PATH: (200, [], b"<assembly>" + b"x" * (MAX_MANIFEST_BYTES + 10))},
                 "15.2.986.5", None, ["larger than 256 KiB"], id="oversized-manifest"),
    pytest.param({OWA_PATH: OWA_302, MANIFEST_PATH: (200, [], b"<html>maintenance</html")}, "15.2.986.5", None,
                 ["not XML"], id="garbage-manifest"),
    pytest.param({OWA_PATH: (500, [("X-OWA-Version", "not a build")], b"")}, None, None,
                 ["without X-OWA-Version", "manifest: HTTP 404"], id="garbage-header"),
]


@pytest.mark.parametrize(("answers", "header", "manifest", "words"), CASES)
def test_answers(
    fake: tuple[Canned, HttpTarget],
    answers: dict[str, tuple[int, list[tuple[str, str]], bytes]],
    header: str | None,
    manifest: str | None,
    words: list[str],
) -> None:
    canned, target = fake
    canned.answers.update(answers)
    result = check_server(target, None, timeout=2.0)
    assert (result.header_version, result.manifest_version) == (header, manifest)
    for word in words:
        assert any(word in e for e in result.errors), result.errors
    assert not words or result.errors
    assert [p for p, _ in canned.seen] == [OWA_PATH, MANIFEST_PATH]  # a redirect is never followed


def test_what_is_sent_no_credentials_no_proxy(
    fake: tuple[Canned, HttpTarget], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.60.2:9")  # nothing listens there: a proxy in use would fail
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    canned, target = fake
    canned.answers[OWA_PATH] = OWA_302
    result = check_server(target, None, timeout=2.0, manifest=False)
    assert result.header_version == "15.2.986.5" and result.fe_server == "EX01"
    assert [p for p, _ in canned.seen] == [OWA_PATH]  # manifest=False: the manifest is not asked for
    headers = {k.lower(): v for k, v in canned.seen[0][1].items()}
    assert headers["user-agent"] == f"eems-check/{__version__}"
    assert headers["host"] == f"ex01.contoso.lab:{target.port}"
    assert not {"authorization", "cookie", "proxy-authorization"} & set(headers)


def test_refused_port_is_recorded_and_the_manifest_not_tried() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.60.3", 0))
        port = probe.getsockname()[1]
    result = check_server(HttpTarget("EX01", "ex01.contoso.lab", "127.0.60.3", port, tls=False), None, timeout=1.0)
    assert result.errors == ("/owa/: connection refused",)
    assert result.version is None and result.owa_status is None


def test_a_silent_server_times_out_quickly() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.60.4", 0))
        listener.listen(8)  # accepted by the kernel, never answered
        port = listener.getsockname()[1]
        targets = [HttpTarget(n, f"{n.lower()}.contoso.lab", "127.0.60.4", port, tls=False) for n in ("EX01", "EX02")]
        results = check_servers(targets, None, timeout=0.3)
    assert [r.errors for r in results.values()] == [("/owa/: no answer in time",)] * 2
