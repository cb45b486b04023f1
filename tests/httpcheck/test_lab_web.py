"""The lab's OWA/ECP responder and the org file's `http` options."""

from __future__ import annotations

import http.client
import re
import socket
import ssl

import pytest

from eems_check.collect.httpcheck import MANIFEST_PATH, parse_manifest
from eems_check.lab import LabOrg, LabOrgError, load_org, parse_org
from eems_check.lab.web import WebRequest

from .conftest import ORG


def _get(lab: LabOrg, ca: str, fqdn: str, path: str, method: str = "GET") -> http.client.HTTPResponse:
    ctx = ssl.create_default_context(cafile=ca)
    raw = socket.create_connection((lab.address_map()[fqdn.lower()], lab.http_port), timeout=5)
    conn = http.client.HTTPSConnection(fqdn, lab.http_port, context=ctx)
    conn.sock = ctx.wrap_socket(raw, server_hostname=fqdn)
    conn.request(method, path)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


@pytest.mark.parametrize(("fqdn", "header_name", "build", "fe"), [
    ("AGREE.fabrikam.lab", "X-OWA-Version", "15.2.1748.46", "AGREE"),
    ("LOWER.fabrikam.lab", "x-owa-version", "15.1.2507.23", "LOWER"),
    ("DISAGREE.fabrikam.lab", "X-OWA-Version", "15.2.1544.4", "DISAGREE"),
    ("BALANCED.fabrikam.lab", "X-OWA-Version", "15.2.1748.46", "AGREE"),  # the balancer sent it to AGREE
    ("STRIPPED.fabrikam.lab", None, None, "STRIPPED"),
])
def test_owa_redirects_to_the_logon_page_with_the_build_header(
    http_lab: LabOrg, tls: tuple[ssl.SSLContext, str, str], fqdn: str, header_name: str | None, build: str | None,
    fe: str,
) -> None:
    response = _get(http_lab, tls[1], fqdn, "/owa/")
    assert response.status == 302
    assert re.match(rf"https://{fqdn}/owa/auth/logon\.aspx\?url=https%3a%2f%2f.+&reason=0$",
                    response.getheader("Location") or "")
    owa = [(k, v) for k, v in response.getheaders() if k.lower() == "x-owa-version"]
    assert owa == ([(header_name, build)] if header_name else [])
    assert response.getheader("X-FEServer") == fe


@pytest.mark.parametrize(("fqdn", "status", "build"), [
    ("AGREE.fabrikam.lab", 200, "15.2.1748.46"),
    ("DISAGREE.fabrikam.lab", 200, "15.2.1544.4"),
    ("LOWER.fabrikam.lab", 404, None),
])
def test_manifest_carries_the_build_and_a_dependency_with_another_version(
    http_lab: LabOrg, tls: tuple[ssl.SSLContext, str, str], fqdn: str, status: int, build: str | None
) -> None:
    ctx = ssl.create_default_context(cafile=tls[1])
    raw = socket.create_connection((http_lab.address_map()[fqdn.lower()], http_lab.http_port), timeout=5)
    conn = http.client.HTTPSConnection(fqdn, http_lab.http_port, context=ctx)
    conn.sock = ctx.wrap_socket(raw, server_hostname=fqdn)
    conn.request("GET", MANIFEST_PATH)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    assert response.status == status
    if build is None:
        return
    assert response.getheader("Content-Type") == "application/x-ms-application"
    versions = re.findall(rb'<assemblyIdentity name="([^"]+)" version="([^"]+)"', body)
    assert len(versions) == 2 and versions[0][1].decode() == build and versions[1][1] != versions[0][1]
    assert parse_manifest(body) == build


@pytest.mark.parametrize(("path", "method", "status"), [
    ("/owa", "GET", 302),
    ("/owa/", "HEAD", 302),
    ("/owa/auth/logon.aspx", "GET", 404),
    ("/ecp/", "GET", 404),
    ("/autodiscover/autodiscover.json?@x/owa/", "GET", 404),
    ("/", "GET", 404),
    ("/owa/", "POST", 404),
])
def test_everything_else_is_404_and_logged(
    http_lab: LabOrg, tls: tuple[ssl.SSLContext, str, str], path: str, method: str, status: int
) -> None:
    assert _get(http_lab, tls[1], "AGREE.fabrikam.lab", path, method).status == status
    last = http_lab.web_requests()[-1]
    assert last == WebRequest("AGREE.fabrikam.lab", method, path, last.user_agent, credentials=False)


@pytest.mark.parametrize("fqdn", ["NOHTTP.fabrikam.lab", "edge.dmz.fabrikam.lab"])
def test_http_refuse_and_edge_servers_have_no_owa(http_lab: LabOrg, fqdn: str) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((http_lab.address_map()[fqdn.lower()], http_lab.http_port), timeout=2).close()


def test_describe_and_ports(http_lab: LabOrg) -> None:
    assert http_lab.web_https and http_lab.http_port not in (0, http_lab.exchange_port, http_lab.wsman_port)
    assert f"https://<fqdn>:{http_lab.http_port}/owa/" in http_lab.describe()
    assert "http_refuse" in http_lab.describe()


def test_stop_closes_the_port_and_restart_reopens_it(tls: tuple[ssl.SSLContext, str, str]) -> None:
    lab = LabOrg(load_org(ORG), base_address="127.0.51.1", web_ssl_context=tls[0])
    with lab:
        port = lab.http_port
        assert _get(lab, tls[1], "AGREE.fabrikam.lab", "/owa/").status == 302
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.51.1", port), timeout=2).close()
    with lab:
        assert lab.web_requests() == []  # a fresh log per start
        assert _get(lab, tls[1], "AGREE.fabrikam.lab", "/owa/").status == 302


def test_without_tls_the_port_speaks_plain_http() -> None:
    with LabOrg(load_org(ORG), base_address="127.0.52.1") as lab:
        assert not lab.web_https
        conn = http.client.HTTPConnection("127.0.52.1", lab.http_port, timeout=5)
        conn.request("GET", "/owa/")
        response = conn.getresponse()
        assert response.status == 302 and response.getheader("X-OWA-Version") == "15.2.1748.46"
        conn.close()


SERVER = """
organization: {{name: T, domain: t.lab}}
accounts: [{{username: u@t.lab, password: p}}]
servers:
  - name: EX01
    build: "15.2.1748.46"
{extra}
"""


@pytest.mark.parametrize(("extra", "problem"), [
    ("    http: {header_case: X-OWA-Build}", "must spell X-OWA-Version"),
    ("    http: {build: latest}", "is not a build"),
    ("    http: {build: \"15.2\"}", "is not a build"),
    ("    http: {fe_server: \"EX01\\r\\nX: y\"}", "must be a server name"),
    ("    http: {owa_header: maybe}", "must be boolean or null, not \"maybe\""),
    ("    http: {stripped: true}", "unknown field(s) ('stripped' was unexpected)"),
    ("    http: yes", "must be object or null, not true"),
    ("    faults: [{kind: http_refuse, endpoint: wsman}]", "unknown field(s) ('endpoint' was unexpected)"),
])
def test_bad_http_options_name_the_line(extra: str, problem: str) -> None:
    with pytest.raises(LabOrgError, match=rf"^<org>:7: .*{re.escape(problem)}"):
        parse_org(SERVER.format(extra=extra))


def test_http_options_parse() -> None:
    spec = parse_org(SERVER.format(extra="    http: {owa_header: false, header_case: x-owa-version, manifest: false, "
                                         "build: \"15.2.1748\", fe_server: EX02}\n    faults: [http_refuse]"))
    server = spec.servers[0]
    assert (server.http.owa_header, server.http.header_case, server.http.manifest) == (False, "x-owa-version", False)
    assert (server.http.build, server.http.fe_server) == ("15.2.1748", "EX02")
    assert server.fault("http_refuse") is not None and not server.refused("wsman")
