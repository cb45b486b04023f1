"""Remoting failures map to collection statuses with password-free one-line reasons, and the Exchange session
cannot carry script text."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from typing import Any, ClassVar

import pytest
import requests
import spnego.exceptions
import urllib3.exceptions
from pypsrp.exceptions import AuthenticationError, WinRMTransportError, WSManFaultError

from eems_check.collect import remoting
from eems_check.collect.remoting import Credentials, ExchangeSession, Target, classify
from eems_check.model import CollectionStatus as S

PASSWORD = "Pa55-w0rd!"
TARGET = Target("ex01.contoso.lab", "127.0.10.1", 5985, False)
CREDS = Credentials(auth="ntlm", username="CONTOSO\\scanner", password=PASSWORD)


def _refused() -> Exception:
    inner = urllib3.exceptions.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] "  # type: ignore[arg-type]
                                                  "Connection refused")
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/wsman", inner))  # type: ignore[arg-type]


def _dns() -> Exception:
    inner = urllib3.exceptions.NameResolutionError("ex01.contoso.lab", None,  # type: ignore[arg-type]
                                                   socket.gaierror(-2, "Name or service not known"))
    return requests.exceptions.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/wsman", inner))  # type: ignore[arg-type]


CASES: list[tuple[str, Exception, S, str]] = [
    ("refused", _refused(), S.UNREACHABLE, "connection refused"),
    ("dns", _dns(), S.UNREACHABLE, "does not resolve"),
    ("connect timeout", requests.exceptions.ConnectTimeout("timed out"), S.TIMEOUT, "timed out connecting"),
    ("read timeout", requests.exceptions.ReadTimeout("read timed out"), S.TIMEOUT, "waiting for an answer"),
    ("401", AuthenticationError(f"Failed to authenticate the user CONTOSO\\scanner with ntlm {PASSWORD}"),
     S.AUTH_FAILED, "authentication failed for CONTOSO\\scanner with ntlm"),
    ("401 transport", WinRMTransportError("http", 401, ""), S.AUTH_FAILED, "HTTP 401"),
    ("403", WinRMTransportError("http", 403, "Forbidden"), S.AUTH_FAILED, "HTTP 403"),
    ("500", WinRMTransportError("http", 500, "<html>Runtime Error</html>"), S.ERROR, "HTTP 500 (server error)"),
    ("404", WinRMTransportError("http", 404, "Not Found"), S.ERROR, "wrong port or path"),
    ("fault", WSManFaultError(5, "ex01", "Access is denied.", None, None, None), S.ERROR,
     "WS-Management fault 5: Access is denied."),
    ("empty fault", WSManFaultError(2150858770, None, None, None, None, None), S.ERROR,
     "fault 0x80338012: no details returned by the server"),
    ("operation timeout", WSManFaultError(0x80338029, "ex01", "timed out", None, None, None), S.TIMEOUT,
     "operation timed out"),
    ("tls", requests.exceptions.SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                                         "self-signed certificate (_ssl.c:1006)"), S.ERROR,
     "certificate verify failed (self-signed certificate)"),
    ("kerberos", spnego.exceptions.NoCredentialError(context_msg=f"no ticket for {PASSWORD}"), S.AUTH_FAILED,
     "ntlm sign-in failed"),
    ("bad xml", ET.ParseError("not well-formed (invalid token): line 1, column 0"), S.ERROR, "not valid XML"),
    ("anything else", RuntimeError(f"boom\nsecond line {PASSWORD}"), S.ERROR, "RuntimeError: boom"),
]


@pytest.mark.parametrize(("exc", "status", "part"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exception_maps_to_status_and_one_line_reason(exc: Exception, status: S, part: str) -> None:
    failure = classify(exc, TARGET, CREDS)
    assert failure.status is status
    assert part in failure.reason
    assert failure.reason.startswith("http://ex01.contoso.lab:5985")
    assert "\n" not in failure.reason and PASSWORD not in failure.reason


def test_password_stays_out_of_credentials_repr() -> None:
    assert PASSWORD not in repr(CREDS) and PASSWORD not in str(CREDS)


def test_basic_over_http_is_refused_before_connecting() -> None:
    with pytest.raises(remoting.RemoteFailure, match="Basic authentication is refused over HTTP"):
        remoting.run_script(TARGET, Credentials(auth="basic", username="u", password=PASSWORD), "x", {})


def test_exchange_session_exposes_only_run_cmdlet() -> None:
    assert [n for n in dir(ExchangeSession) if not n.startswith("_")] == ["run_cmdlet"]


class _RecordingPowerShell:
    """Stands in for pypsrp's PowerShell and records which of its methods the session calls."""

    calls: ClassVar[list[tuple[str, tuple[Any, ...]]]] = []

    def __init__(self, pool: object) -> None:
        self.streams = type("Streams", (), {"error": [], "warning": []})()
        self.had_errors = False

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any) -> Any:
            self.calls.append((name, args))
            return [] if name == "invoke" else self
        return record


@pytest.fixture()
def session(monkeypatch: pytest.MonkeyPatch) -> ExchangeSession:
    _RecordingPowerShell.calls = []
    monkeypatch.setattr(remoting, "PowerShell", _RecordingPowerShell)
    s = ExchangeSession(TARGET, CREDS)
    s._pool = object()  # type: ignore[assignment]  # an open pool, as far as run_cmdlet can tell
    return s


def test_exchange_session_sends_only_a_cmdlet_and_its_parameters(session: ExchangeSession) -> None:
    result = session.run_cmdlet("Get-ExchangeServer", Identity="EX01", Status=None)
    assert _RecordingPowerShell.calls == [("add_cmdlet", ("Get-ExchangeServer",)),
                                          ("add_parameter", ("Identity", "EX01")),
                                          ("add_parameter", ("Status", None)), ("invoke", ()), ("close", ())]
    assert (result.output, result.errors, result.failed) == ((), (), False)


@pytest.mark.parametrize(("name", "params"), [
    ("Get-ExchangeServer; Remove-Item C:\\", {}),
    ("Get-ExchangeServer | Format-List", {}),
    ("{ Get-Process }", {}),
    ("$ExecutionContext", {}),
    ("Get-ExchangeServer", {"Identity; Remove-Item": "x"}),
    ("Get-ExchangeServer", {"Filter": object()}),
])
def test_exchange_session_refuses_anything_but_a_plain_cmdlet(session: ExchangeSession, name: str,
                                                              params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        session.run_cmdlet(name, **params)
    assert _RecordingPowerShell.calls == []


def test_a_pipeline_that_cannot_close_does_not_hide_the_real_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class _TimesOut(_RecordingPowerShell):
        def invoke(self) -> Any:
            raise requests.exceptions.ReadTimeout("read timed out")

        def close(self) -> None:
            raise RuntimeError("cannot close a Running pipeline")

    monkeypatch.setattr(remoting, "PowerShell", _TimesOut)
    s = ExchangeSession(TARGET, CREDS)
    s._pool = object()  # type: ignore[assignment]
    with pytest.raises(remoting.RemoteFailure) as info:
        s.run_cmdlet("Get-ExchangeServer")
    assert info.value.status is S.TIMEOUT
