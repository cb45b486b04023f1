"""HTTP, authentication and sealing of the lab, through pypsrp and through raw HTTP."""

from __future__ import annotations

import base64
import socket
import ssl

import pytest
import requests
import spnego
from pypsrp.exceptions import AuthenticationError, WinRMTransportError
from pypsrp.powershell import PowerShell, RunspacePool

from eems_check.lab import LabOrg, load_org
from tests.lab.conftest import FIXTURES, client


def _one_cycle(
    lab: LabOrg, fqdn: str = "ex01.contoso.lab", endpoint: str = "wsman", **kwargs: object
) -> list:
    config = "Microsoft.Exchange" if endpoint == "exchange" else "Microsoft.PowerShell"
    with (
        RunspacePool(client(lab, fqdn, endpoint, **kwargs), configuration_name=config) as pool,
        PowerShell(pool) as ps,
    ):
        if endpoint == "exchange":
            ps.add_cmdlet("Get-OrganizationConfig")
        else:
            ps.add_cmdlet("Write-Output").add_parameter("InputObject", "ok")
        return ps.invoke()


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
@pytest.mark.parametrize("endpoint", ["wsman", "exchange"])
def test_sealed_ntlm_and_spnego_cycles_use_eight_requests(auth: str, endpoint: str) -> None:
    # A lab of its own: the module's shared lab may still see a late request from an earlier test's pool.
    with LabOrg(load_org(FIXTURES / "basic.yaml"), base_address="127.0.32.1") as lab:
        _count_one_sealed_cycle(lab, auth, endpoint)


def _count_one_sealed_cycle(basic_lab: LabOrg, auth: str, endpoint: str) -> None:
    # 3 authentication legs, Create, a pool Receive, Command, a pipeline Receive, Delete. A pipeline whose output
    # is ready before its end may take a second Receive (as on a real server): Receives are counted apart.
    before = basic_lab.request_count("ex01.contoso.lab")
    receives_before = basic_lab.receive_count("ex01.contoso.lab")
    wsm = client(basic_lab, "ex01.contoso.lab", endpoint, auth=auth)
    config = "Microsoft.Exchange" if endpoint == "exchange" else "Microsoft.PowerShell"
    with RunspacePool(wsm, configuration_name=config) as pool:
        ps = PowerShell(pool)
        ps.add_cmdlet("Get-OrganizationConfig" if endpoint == "exchange" else "Write-Output")
        if endpoint == "wsman":
            ps.add_parameter("InputObject", "x")
        assert len(ps.invoke()) == 1
    assert wsm.transport.encryption is not None  # pypsrp sealed every message
    receives = basic_lab.receive_count("ex01.contoso.lab") - receives_before
    assert basic_lab.request_count("ex01.contoso.lab") - before - receives == 6 and receives >= 2


def test_wrong_password_raises_authentication_error(basic_lab: LabOrg) -> None:
    with pytest.raises(AuthenticationError):
        _one_cycle(basic_lab, password="not-the-password")


@pytest.mark.parametrize("username", ["contoso\\SCANNER", "scanner@contoso.lab"])
def test_account_name_forms_are_accepted(basic_lab: LabOrg, username: str) -> None:
    assert _one_cycle(basic_lab, username=username) == ["ok"]


def test_anonymous_post_gets_a_negotiate_challenge(basic_lab: LabOrg) -> None:
    ip = basic_lab.address_map()["ex01.contoso.lab"]
    r = requests.post(f"http://{ip}:{basic_lab.wsman_port}/wsman", data=b"", timeout=5)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Negotiate"  # no Basic over plain HTTP
    assert r.headers["Server"] == "Microsoft-HTTPAPI/2.0"


@pytest.mark.parametrize(
    ("port_attr", "path"),
    [("wsman_port", "PowerShell"), ("exchange_port", "wsman"), ("wsman_port", "nothing")],
)
def test_unknown_path_is_404(basic_lab: LabOrg, port_attr: str, path: str) -> None:
    ip = basic_lab.address_map()["ex01.contoso.lab"]
    r = requests.post(f"http://{ip}:{getattr(basic_lab, port_attr)}/{path}", data=b"x", timeout=5)
    assert r.status_code == 404 and "Not Found" in r.text


def test_unsealed_soap_after_ntlm_is_rejected(basic_lab: LabOrg) -> None:
    ip = basic_lab.address_map()["ex01.contoso.lab"]
    url = f"http://{ip}:{basic_lab.wsman_port}/wsman"
    ctx = spnego.client(basic_lab.credentials[0], basic_lab.credentials[1], protocol="ntlm")
    with requests.Session() as s:
        negotiate = ctx.step() or b""
        r = s.post(
            url, data=b"", headers={"Authorization": "Negotiate " + base64.b64encode(negotiate).decode()}
        )
        assert r.status_code == 401
        challenge = base64.b64decode(r.headers["WWW-Authenticate"].split()[1])
        auth = base64.b64encode(ctx.step(challenge) or b"").decode()
        assert s.post(url, data=b"", headers={"Authorization": "Negotiate " + auth}).status_code == 200
        r = s.post(url, data=b"<s:Envelope/>", headers={"Content-Type": "application/soap+xml;charset=UTF-8"})
        assert r.status_code == 400


def test_basic_over_http_is_refused_by_default(basic_lab: LabOrg) -> None:
    with pytest.raises(AuthenticationError):
        _one_cycle(basic_lab, auth="basic", encryption="never")


def test_basic_over_http_works_only_when_unencrypted_is_allowed() -> None:
    with LabOrg(load_org(FIXTURES / "basic.yaml"), allow_unencrypted=True, base_address="127.0.11.1") as lab:
        assert _one_cycle(lab, auth="basic", encryption="never") == ["ok"]
        ip = lab.address_map()["ex01.contoso.lab"]
        r = requests.post(f"http://{ip}:{lab.wsman_port}/wsman", data=b"", timeout=5)
        assert r.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'
    # and the client refuses Basic over HTTP with sealing on its own
    with pytest.raises(ValueError, match="Cannot use message encryption"):
        client(lab, "ex01.contoso.lab", auth="basic")


@pytest.mark.parametrize("auth", ["basic", "ntlm"])
def test_https_with_a_private_ca(tls_material: tuple[ssl.SSLContext, str], auth: str) -> None:
    ctx, ca_file = tls_material
    with LabOrg(load_org(FIXTURES / "basic.yaml"), ssl_context=ctx, base_address="127.0.12.1") as lab:
        assert lab.https
        # certificate names cover the FQDNs; connect by FQDN through the address map with a pinned resolver
        fqdn = "ex01.contoso.lab"
        ip = lab.address_map()[fqdn]
        orig = socket.getaddrinfo

        def resolve(host: str, *args: object, **kwargs: object) -> list:
            return orig(ip if host == fqdn else host, *args, **kwargs)  # type: ignore[arg-type]

        socket.getaddrinfo = resolve  # type: ignore[assignment]
        try:
            from pypsrp.wsman import WSMan

            wsm = WSMan(
                fqdn,
                port=lab.wsman_port,
                ssl=True,
                auth=auth,
                username=lab.credentials[0],
                password=lab.credentials[1],
                cert_validation=ca_file,  # type: ignore[arg-type]  # pypsrp accepts a CA bundle path
                no_proxy=True,
            )
            with RunspacePool(wsm) as pool, PowerShell(pool) as ps:
                ps.add_cmdlet("Write-Output").add_parameter("InputObject", "tls")
                assert ps.invoke() == ["tls"]
            r = requests.post(f"https://{fqdn}:{lab.wsman_port}/wsman", data=b"", verify=ca_file, timeout=5)
            assert r.status_code == 401
            assert r.headers["WWW-Authenticate"] == 'Negotiate, Basic realm="WSMAN"'
            with pytest.raises(requests.exceptions.SSLError):
                requests.post(f"https://{fqdn}:{lab.wsman_port}/wsman", data=b"", timeout=5)
        finally:
            socket.getaddrinfo = orig


def test_http_errors_surface_as_transport_errors(basic_lab: LabOrg) -> None:
    with pytest.raises(WinRMTransportError) as info:
        _one_cycle(basic_lab, path="wsman/extra")
    assert info.value.code == 404
