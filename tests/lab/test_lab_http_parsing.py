"""The lab's own request-head parser (``_Handler.parse_request``), spoken to in raw HTTP.

Every case runs against the lab and against a twin listener whose handler keeps the stdlib's
``BaseHTTPRequestHandler.parse_request`` (email feed parser): both must answer byte for byte alike (but ``Date``).
"""

from __future__ import annotations

import http.client
import http.server
import io
import re
import socket
import threading
from collections.abc import Iterator

import pytest

from eems_check.lab import LabOrg, load_org, server
from tests.lab.conftest import FIXTURES

FQDN = "ex01.contoso.lab"
GET = b"GET /wsman HTTP/1.1\r\nHost: lab\r\n\r\n"  # answered 405; sent last to prove the connection still open
ANON_POST = b"POST /wsman HTTP/1.1\r\nHost: lab\r\nContent-Length: 0\r\n\r\n"  # answered 401 (a challenge)
_LONG_65536 = b"X-Long: " + b"a" * (65536 - 10) + b"\r\n"  # 65536 bytes with its CRLF: the longest allowed


def _headers(count: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(count))


Response = tuple[int, list[tuple[str, str]], bytes]

# (behaviour, steps: bytes to send or the status expected next, closed after?). Error cases send exactly what the
# server reads, so that closing with unread bytes cannot reset the answer. As with the stdlib, an error found before
# a request line's version is accepted is sent as HTTP/0.9: the error page alone, no status line (see _read_response).
CASES: list[tuple[str, list[bytes | int], bool]] = [
    (
        "lower_case_header_names_are_found",
        [b"GET /wsman HTTP/1.1\r\nhost: lab\r\ncontent-length: 4\r\n\r\nbody", 405],
        False,
    ),
    (
        "upper_case_header_names_are_found",
        [b"POST /wsman HTTP/1.1\r\nHOST: lab\r\nCONTENT-LENGTH: 4\r\n\r\nbody", 401],
        False,
    ),
    (
        "folded_header_line_continues_the_previous_value",
        [b"GET /wsman HTTP/1.1\r\nHost: lab\r\nContent-Length:\r\n 4\r\nX-A: a\r\n\tb\r\n\r\nbody", 405],
        False,
    ),
    (
        "repeated_header_first_value_wins",
        [b"GET /wsman HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5000\r\n\r\nbody", 405],
        False,
    ),
    ("connection_close_is_honoured", [b"GET /wsman HTTP/1.1\r\nConnection: close\r\n\r\n", 405], True),
    ("connection_close_value_is_case_insensitive", [b"GET /wsman HTTP/1.1\r\nconnection: CLOSE\r\n\r\n", 405], True),
    ("http_1_0_closes_by_default", [b"GET /wsman HTTP/1.0\r\n\r\n", 405], True),
    ("http_1_0_with_keep_alive_stays_open", [b"GET /wsman HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 405], False),
    ("keep_alive_carries_two_requests", [ANON_POST, 401, ANON_POST, 401], False),
    ("pipelined_requests_are_answered_in_order", [ANON_POST + GET + ANON_POST, 401, 405, 401], False),
    ("double_slash_path_is_folded", [b"GET //wsman HTTP/1.1\r\n\r\n", 405], False),
    ("unknown_path_is_404", [b"GET /nothing HTTP/1.1\r\n\r\n", 404], False),
    ("bad_request_line_is_400", [b"NONSENSE\r\n", 400], True),
    ("request_line_with_a_valid_version_but_four_words_is_400", [b"GET /wsman more HTTP/1.1\r\n", 400], True),
    ("request_line_with_four_words_is_400", [b"GET /wsman HTTP/1.1 more\r\n", 400], True),
    ("malformed_version_is_400", [b"GET /wsman HTTX/1.1\r\n", 400], True),
    ("version_with_three_numbers_is_400", [b"GET /wsman HTTP/1.1.1\r\n", 400], True),
    ("http_2_is_505", [b"GET /wsman HTTP/2.0\r\n", 505], True),
    ("http_0_9_get_is_answered_and_closed", [b"GET /wsman\r\n\r\n", 405], True),
    ("http_0_9_post_is_400", [b"POST /wsman\r\n", 400], True),
    ("ninety_nine_header_lines_are_accepted", [b"GET /wsman HTTP/1.1\r\n" + _headers(99) + b"\r\n", 405], False),
    ("a_hundredth_header_line_is_431", [b"GET /wsman HTTP/1.1\r\n" + _headers(100) + b"\r\n", 431], True),
    ("header_line_of_65536_bytes_is_accepted", [b"GET /wsman HTTP/1.1\r\n" + _LONG_65536 + b"\r\n", 405], False),
    ("header_line_over_65536_bytes_is_431", [b"GET /wsman HTTP/1.1\r\nX-Long: a" + _LONG_65536[8:], 431], True),
    (
        "expect_100_continue_gets_an_interim_100",
        [b"POST /wsman HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n", 100, b"body", 401],
        False,
    ),
    (
        "expect_100_continue_is_ignored_for_http_1_0",
        [b"POST /wsman HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nbody", 401],
        True,
    ),
    ("anonymous_post_gets_a_401_challenge", [ANON_POST, 401], False),
]


class _StdlibParsing(server._Handler):
    """The lab's handler with the stdlib's request parsing: the reference for every case."""

    parse_request = http.server.BaseHTTPRequestHandler.parse_request  # type: ignore[assignment]


@pytest.fixture(scope="module")
def basic_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(FIXTURES / "basic.yaml")) as lab:
        yield lab


@pytest.fixture(scope="module")
def stdlib_twin(basic_lab: LabOrg) -> Iterator[tuple[str, int]]:
    """A WS-Man listener for ``FQDN`` on an ephemeral port of the same address, with ``_StdlibParsing``."""
    spec = next(s for s in basic_lab.spec.servers if s.fqdn.lower() == FQDN)
    twin = server._Listener(basic_lab, spec, "wsman", basic_lab.address_map()[FQDN], 0)
    twin.RequestHandlerClass = _StdlibParsing
    thread = threading.Thread(target=twin.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield basic_lab.address_map()[FQDN], twin.server_address[1]
    finally:
        twin.shutdown()
        twin.drop_connections()
        twin.server_close()
        thread.join(5)


def _read_response(reader: io.BufferedReader) -> Response:
    first = reader.readline()
    if not first.startswith(b"HTTP/"):  # an HTTP/0.9 error: the stdlib's error page alone, then the server closes
        body = first + reader.read()
        code = re.search(rb"Error code: (\d+)", body)
        return int(code.group(1)) if code else 0, [], body
    headers: list[tuple[str, str]] = []
    while (line := reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.decode("iso-8859-1").partition(":")
        headers.append((name, value.strip()))
    length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
    return int(first.split()[1]), headers, reader.read(length) if length else b""


def _converse(address: tuple[str, int], steps: list[bytes | int], closed: bool) -> tuple[list[Response], bool]:
    """Play ``steps`` on one connection; the answers, and whether the server closed the connection after."""
    answers: list[Response] = []
    with socket.create_connection(address, timeout=10) as sock, sock.makefile("rb") as reader:
        for step in steps:
            if isinstance(step, bytes):
                sock.sendall(step)
            else:
                answers.append(_read_response(reader))
        if not closed:  # proven open: one more request is answered on it
            sock.sendall(GET)
            answers.append(_read_response(reader))
            return answers, False
        try:
            return answers, reader.read(1) == b""
        except ConnectionResetError:
            return answers, True


def _without_date(answers: list[Response]) -> list[Response]:
    return [(status, [h for h in headers if h[0].lower() != "date"], body) for status, headers, body in answers]


@pytest.mark.parametrize(("steps", "closed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_raw_request_gets_the_expected_answers(basic_lab: LabOrg, steps: list[bytes | int], closed: bool) -> None:
    address = (basic_lab.address_map()[FQDN], basic_lab.wsman_port)
    answers, was_closed = _converse(address, steps, closed)
    expected = [step for step in steps if isinstance(step, int)] + ([] if closed else [405])
    assert [status for status, _, _ in answers] == expected
    assert was_closed == closed


@pytest.mark.parametrize(("steps", "closed"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_raw_request_is_answered_as_with_the_stdlib_parser(
    basic_lab: LabOrg, stdlib_twin: tuple[str, int], steps: list[bytes | int], closed: bool
) -> None:
    ours = _converse((basic_lab.address_map()[FQDN], basic_lab.wsman_port), steps, closed)
    reference = _converse(stdlib_twin, steps, closed)
    assert (_without_date(ours[0]), ours[1]) == (_without_date(reference[0]), reference[1])


def test_anonymous_post_gets_one_www_authenticate_per_offered_scheme(basic_lab: LabOrg) -> None:
    (status, headers, _), *_ = _converse(
        (basic_lab.address_map()[FQDN], basic_lab.wsman_port), [ANON_POST, 401], False
    )[0]
    assert status == 401
    assert [v for n, v in headers if n == "WWW-Authenticate"] == ["Negotiate"]  # no Basic over plain HTTP
    assert ("Server", "Microsoft-HTTPAPI/2.0") in headers
    with LabOrg(load_org(FIXTURES / "basic.yaml"), allow_unencrypted=True, base_address="127.0.62.1") as lab:
        (status, headers, _), *_ = _converse((lab.address_map()[FQDN], lab.wsman_port), [ANON_POST, 401], False)[0]
    assert status == 401
    assert [v for n, v in headers if n == "WWW-Authenticate"] == ["Negotiate", 'Basic realm="WSMAN"']


# Heads parsed straight by ``_read_head`` and by ``http.client.parse_headers``: the same fields, the same errors.
HEADS: list[tuple[str, bytes]] = [
    ("typical_pypsrp_head", b"Host: h\r\nConnection: Keep-Alive\r\nAuthorization: Negotiate TlRMTVNTUA==\r\n\r\n"),
    ("names_of_any_case", b"content-TYPE: a\r\nHOST: b\r\n\r\n"),
    ("repeated_fields_keep_every_value", b"X-A: 1\r\nx-a: 2\r\nX-A: 3\r\n\r\n"),
    ("folded_values_keep_their_inner_line_ends", b"X-A: a\r\n b\r\n\tc\r\nX-B:\r\n d\r\n\r\n"),
    ("blanks_around_values", b"X-A:   a  \r\nX-B:\t\tb\r\nX-C:\r\n\r\n"),
    ("bare_lf_line_ends", b"X-A: a\nX-B: b\n\n"),
    ("lone_cr_ends_a_line", b"X-A: a\rX-B: b\r\n\r\n"),
    ("cr_cr_lf_ends_the_fields", b"X-A: a\r\r\nX-B: b\r\n\r\n"),
    ("continuation_before_any_field_is_dropped", b" lost\r\nX-A: a\r\n\r\n"),
    ("empty_name_is_skipped", b": x\r\n more\r\nX-A: a\r\n\r\n"),
    ("mbox_from_line_is_skipped", b"From someone\r\nX-A: a\r\n\r\n"),
    ("line_without_colon_ends_the_fields", b"X-A: a\r\nbogus line\r\nX-B: b\r\n\r\n"),
    ("space_in_name_ends_the_fields", b"X-A: a\r\nX B: b\r\nX-C: c\r\n\r\n"),
    ("latin1_bytes_in_values", b"X-A: caf\xe9\r\n\r\n"),
    ("latin1_bytes_in_names_end_the_fields", b"X-\xe9: a\r\nX-B: b\r\n\r\n"),
    ("head_cut_short", b"X-A: a\r\nX-B: b"),
    ("no_fields", b"\r\n"),
    ("ninety_nine_fields", _headers(99) + b"\r\n"),
    ("a_hundred_lines_are_too_many", _headers(100) + b"\r\n"),
    ("line_of_65536_bytes", _LONG_65536 + b"\r\n"),
    ("line_of_65537_bytes_is_too_long", b"X-Long: a" + _LONG_65536[8:] + b"\r\n"),
]


def _parsed(parse: object, data: bytes) -> object:
    try:
        fields = parse(io.BytesIO(data))  # type: ignore[operator]
    except http.client.HTTPException as exc:
        return type(exc).__name__, str(exc)
    names = {name.lower() for name, _ in fields.items()} | {"missing"}
    return (
        fields.items(),
        {name: (fields.get(name), fields[name], fields.get_all(name), name in fields) for name in names},
    )


@pytest.mark.parametrize("data", [h[1] for h in HEADS], ids=[h[0] for h in HEADS])
def test_head_fields_match_http_client_parse_headers(data: bytes) -> None:
    assert _parsed(server._read_head, data) == _parsed(http.client.parse_headers, data)


def test_header_mapping_answers_like_email_message() -> None:
    fields = server._read_head(io.BytesIO(b"Content-Length: 4\r\nX-A: 1\r\nx-a: 2\r\n\r\n"))
    assert fields.get("content-length") == fields["CONTENT-LENGTH"] == "4"
    assert fields.get("X-A") == "1" and fields.get_all("x-A") == ["1", "2"]
    assert fields.get("Missing") is None and fields["Missing"] is None and fields.get("Missing", "") == ""
    assert fields.get_all("Missing") is None and fields.get_all("Missing", []) == []
    assert "x-a" in fields and "Missing" not in fields
    assert fields.items() == [("Content-Length", "4"), ("X-A", "1"), ("x-a", "2")]
