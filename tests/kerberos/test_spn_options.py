"""Kerberos options without a KDC: SPN flags, what reaches pypsrp, failure texts, and the lab's offered schemes."""

from __future__ import annotations

import argparse
import base64
import io
import os
from pathlib import Path
from typing import Any

import pytest
import requests

from eems_check.collect import ScanOptions, add_scan_arguments, options_from_args
from eems_check.collect.remoting import DEFAULT_SPN_SERVICE, Credentials, Target, _wsman, classify, spn
from eems_check.errors import InputError
from eems_check.lab import LabOrg, auth, load_org
from eems_check.model import CollectionStatus as S

from .conftest import DEMO


def _options(argv: list[str]) -> ScanOptions:
    parser = argparse.ArgumentParser(prog="eems-check scan", exit_on_error=False)
    add_scan_arguments(parser)
    return options_from_args(parser.parse_args(["--server", "ex01.contoso.com", *argv]), {}, io.StringIO())


def test_spn_flags_reach_the_options_and_the_exchange_target_only() -> None:
    opts = _options(["--spn-service", "HTTP", "--spn-hostname", "mail.contoso.com",
                     "--resolve", "ex01.contoso.com=192.0.2.10"])
    assert (opts.spn_service, opts.spn_hostname) == ("HTTP", "mail.contoso.com")
    creds = opts.credentials()
    assert (creds.spn_service, creds.spn_hostname) == ("HTTP", "mail.contoso.com")
    assert spn(opts.exchange_target("ex01.contoso.com"), creds) == "HTTP/mail.contoso.com"


def test_without_flags_the_spn_is_pypsrps_default_service_on_the_fqdn() -> None:
    opts = _options([])
    assert opts.auth == "kerberos" and opts.username is None and opts.password is None  # ticket cache
    target = opts.exchange_target("ex01.contoso.com")
    assert spn(target, opts.credentials()) == f"{DEFAULT_SPN_SERVICE}/ex01.contoso.com"
    assert DEFAULT_SPN_SERVICE in ("host", "WSMAN")


@pytest.mark.parametrize(("argv", "message"), [
    (["--spn-service", "http"], "invalid choice"),
    (["--spn-hostname", "192.0.2.1"], "not the IP address"),
    (["--spn-hostname", "HTTP/mail.contoso.com"], "takes a host name"),
    (["--auth", "basic", "--https", "--spn-service", "HTTP"], "kerberos or negotiate only"),
])
def test_bad_spn_flags_are_input_errors(argv: list[str], message: str) -> None:
    with pytest.raises((InputError, argparse.ArgumentError), match=message):
        _options(argv)


def test_no_password_hint_names_the_ticket_cache() -> None:
    with pytest.raises(InputError, match="leave out --username to use your Kerberos ticket"):
        _options(["--username", "scanner@CONTOSO.COM"])


def test_pypsrp_gets_the_fqdn_and_service_for_the_spn_while_dialling_the_ip() -> None:
    creds = Credentials(auth="kerberos", spn_service="WSMAN")
    http: Any = _wsman(Target("ex01.contoso.com", "192.0.2.10", 5985, False), creds, "wsman").transport
    assert http.endpoint == "http://192.0.2.10:5985/wsman"
    assert (http.negotiate_hostname_override, http.negotiate_service) == ("ex01.contoso.com", "WSMAN")
    balanced = Credentials(auth="kerberos", spn_service="HTTP", spn_hostname="mail.contoso.com")
    lb: Any = _wsman(Target("ex01.contoso.com", "ex01.contoso.com", 80, False), balanced, "PowerShell")
    assert lb.transport.negotiate_hostname_override == "mail.contoso.com"
    plain: Any = _wsman(Target("ex01.contoso.com", "ex01.contoso.com", 80, False), Credentials(), "PowerShell")
    plain = plain.transport
    assert plain.negotiate_hostname_override is None and plain.negotiate_service is None


class _Krb5Error(Exception):
    """Stands in for python-krb5's Krb5Error (classify goes by the module name)."""


_Krb5Error.__module__ = "krb5._exceptions"


@pytest.mark.parametrize(("text", "expected"), [
    ("Preauthentication failed -1765328360", "wrong password for scanner@CONTOSO.COM [Preauthentication failed]"),
    ("Client 'x@CONTOSO.COM' not found in Kerberos database -1765328378", "does not know scanner@CONTOSO.COM"),
    ("Cannot contact any KDC for realm 'CONTOSO.COM' -1765328228", "no KDC could be reached"),
    ("Clock skew too great -1765328347", "clocks"),
    ("Password has expired -1765328361", "the password of scanner@CONTOSO.COM has expired"),
    ("SpnegoError (4294967295): Major (851968): Unspecified GSS failure., Minor (2529638944): Ticket expired, "
     "Context: Processing security token", "run kinit, or give --username and a password) [Ticket expired]"),
])
def test_kerberos_failures_get_a_one_line_meaning(text: str, expected: str) -> None:
    target = Target("ex01.contoso.com", "192.0.2.10", 80, False)
    failure = classify(_Krb5Error(text), target, Credentials(username="scanner@CONTOSO.COM", password="pw-123456"))
    assert failure.status == S.AUTH_FAILED
    assert expected in failure.reason and "\n" not in failure.reason
    assert failure.reason.startswith("http://ex01.contoso.com:80: kerberos sign-in failed: ")


def test_a_server_offering_only_kerberos_tells_an_ntlm_client_what_to_use() -> None:
    exc = ValueError("Server responded with the auth protocol 'Kerberos' which is incompatible with the specified "
                     "auth_provider 'ntlm'")
    failure = classify(exc, Target("ex01.contoso.com", "ex01.contoso.com", 80, False), Credentials(auth="ntlm"))
    assert failure.status == S.AUTH_FAILED
    assert failure.reason.endswith("the server offers only Kerberos, not ntlm: use --auth kerberos")


# -- the lab's side -----------------------------------------------------------------------------------------------


def _post(lab: LabOrg, authorization: str | None = None) -> requests.Response:
    address = lab.address_map()[lab.discovery_fqdn.lower()]
    session = requests.Session()
    session.trust_env = False  # no environment proxy for loopback
    headers = {"Authorization": authorization} if authorization else {}
    with session:
        return session.post(f"http://{address}:{lab.exchange_port}/PowerShell", data=b"", headers=headers, timeout=5)


def _challenge(lab: LabOrg) -> list[str]:
    reply = _post(lab)
    assert reply.status_code == 401
    return [v.strip() for v in reply.headers.get("WWW-Authenticate", "").split(",")]


def test_the_lab_offers_kerberos_only_with_a_keytab(tmp_path: Path) -> None:
    keytab = tmp_path / "lab.keytab"
    keytab.write_bytes(b"\x05\x02")  # an empty keytab (version 0x0502): enough to be offered
    spec = load_org(DEMO)
    before = os.environ.get("KRB5_KTNAME")
    with LabOrg(spec, base_address="127.0.52.1") as lab:
        assert _challenge(lab) == ["Negotiate"]
    with LabOrg(spec, base_address="127.0.52.1", kerberos_keytab=keytab) as lab:
        assert _challenge(lab) == ["Negotiate", "Kerberos"]
        assert os.environ["KRB5_KTNAME"] == f"FILE:{keytab}"
        assert "Kerberos:" in lab.describe()
        other = tmp_path / "other.keytab"
        other.write_bytes(b"\x05\x02")
        with pytest.raises(ValueError, match="labs share one keytab"), LabOrg(spec, kerberos_keytab=other):
            pass
    with LabOrg(spec, base_address="127.0.52.1", kerberos_keytab=keytab, kerberos_only=True) as lab:
        assert _challenge(lab) == ["Kerberos"]
    assert os.environ.get("KRB5_KTNAME") == before


def test_a_kerberos_token_the_lab_cannot_accept_is_a_401_not_a_dropped_connection(tmp_path: Path) -> None:
    keytab = tmp_path / "lab.keytab"
    keytab.write_bytes(b"\x05\x02")
    with LabOrg(load_org(DEMO), base_address="127.0.52.1", kerberos_keytab=keytab, kerberos_only=True) as lab:
        garbage = base64.b64encode(b"\x60\x03\x06\x01\x00").decode()
        assert _post(lab, f"Kerberos {garbage}").status_code == 401


def test_sealing_names_the_protocol_of_the_request() -> None:
    assert auth.sealed_protocol(f'multipart/encrypted;protocol="{auth.KERBEROS_PROTOCOL}";boundary="x"') == (
        auth.KERBEROS_PROTOCOL
    )
    assert auth.sealed_protocol(f'multipart/encrypted;protocol="{auth.SPNEGO_PROTOCOL}"') == auth.SPNEGO_PROTOCOL
    with pytest.raises(auth.SealError):
        auth.seal(object(), b"x", "application/HTTP-CredSSP-session-encrypted")  # type: ignore[arg-type]


def test_missing_gssapi_says_what_to_install() -> None:
    exc = ImportError("GSSAPIProxy requires the Python gssapi library: No module named 'gssapi'")
    failure = classify(exc, Target("ex01.contoso.com", "ex01.contoso.com", 80, False), Credentials())
    assert "pip install 'pyspnego[kerberos]'" in failure.reason and "libkrb5-dev" in failure.reason
