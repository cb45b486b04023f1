"""Kerberos end to end: the real pypsrp client, a loopback MIT KDC, and the demo lab accepting Kerberos with a keytab.

The scanner dials each server's loopback IP (the lab's address map) while the SPN is built from the server's FQDN;
messages are sealed with the Kerberos session key over HTTP (SPNEGO protocol under `Negotiate`, the
HTTP-Kerberos-session-encrypted protocol under the plain `Kerberos` scheme).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from eems_check.cli import main
from eems_check.collect import DiscoveryAuthError, ScanOptions, scan
from eems_check.collect.remoting import DEFAULT_SPN_SERVICE, ExchangeSession, RemoteFailure
from eems_check.lab import LabOrg, LabOrgSpec, auth
from eems_check.model import CollectionStatus as S
from eems_check.model import Inventory

from .conftest import ASA_NAME, FOREIGN_NAME, PASSWORD, kerberos_options, keyless_server, principal
from .kdc import MiniKdc


def statuses(inventory: Inventory) -> dict[str, S]:
    return {r.name.lower(): r.collection.status for r in inventory.servers}


def scanned_fqdns(lab: LabOrg, inventory: Inventory) -> set[str]:
    """FQDNs of the servers the scan reached over WinRM (status ok or partial)."""
    reached = {r.name.lower() for r in inventory.servers if r.collection.status in (S.OK, S.PARTIAL)}
    return {s.fqdn.lower() for s in lab.spec.servers if s.name.lower() in reached}


def open_exchange(options: ScanOptions, fqdn: str) -> None:
    """Open and close one Exchange session (raises RemoteFailure when the sign-in fails)."""
    with ExchangeSession(options.exchange_target(fqdn), options.credentials()):
        pass


def tickets_issued(kdc: MiniKdc) -> set[str]:
    """Service principals the KDC issued tickets for ("TGS_REQ ... ISSUE: ... for HTTP/x@REALM")."""
    return set(re.findall(r"TGS_REQ .*ISSUE: .* for (\S+@\S+?)(?:,|$)", kdc.log(), re.M))


@pytest.fixture(scope="module")
def ntlm_statuses(kerberos_lab: LabOrg) -> dict[str, S]:
    """What the same lab gives with NTLM: the reference each Kerberos scan must match."""
    return statuses(scan(ScanOptions.for_lab(kerberos_lab)))


@pytest.fixture
def seal_protocols(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Records the session-encryption protocol of every sealed reply the lab sends."""
    seen: list[str] = []
    original = auth.seal

    def spy(context: object, plaintext: bytes, protocol: str = auth.SPNEGO_PROTOCOL) -> tuple[str, bytes]:
        seen.append(protocol)
        return original(context, plaintext, protocol)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "seal", spy)
    yield seen


# -- whole scans ------------------------------------------------------------------------------------------------


def test_password_sign_in_scans_the_demo_org_like_ntlm(
    kerberos_lab: LabOrg, kdc: MiniKdc, ntlm_statuses: dict[str, S], seal_protocols: list[str]
) -> None:
    inventory = scan(kerberos_options(kerberos_lab, kdc, spn_service="HTTP", run_get_mitigations=True))
    assert statuses(inventory) == ntlm_statuses
    reached = scanned_fqdns(kerberos_lab, inventory)
    assert len(reached) >= 5
    issued = tickets_issued(kdc)
    discovery = kerberos_lab.discovery_fqdn.lower()
    for fqdn in reached | {discovery}:
        assert f"HTTP/{fqdn}@{kdc.realm}" in issued  # the SPN names the FQDN although the socket dials an IP
    assert not [p for p in issued if "/127." in p]
    # --get-mitigations asks for delegation: the client fetched a forwarded TGT for the servers (double hop)
    assert f"krbtgt/{kdc.realm}@{kdc.realm}" in issued
    assert set(seal_protocols) == {auth.SPNEGO_PROTOCOL}  # Negotiate offered first: SPNEGO-protocol sealing
    assert kerberos_lab.open_shells() == 0


def test_ticket_cache_from_kinit_scans_with_the_default_spn_service(
    kerberos_lab: LabOrg, kdc: MiniKdc, ccache: Path, ntlm_statuses: dict[str, S]
) -> None:
    kdc.kinit(principal(kdc), PASSWORD, ccache)
    options = kerberos_options(kerberos_lab, kdc, username=None, password=None)
    inventory = scan(options)
    assert statuses(inventory) == ntlm_statuses
    held = kdc.klist(ccache)
    assert held[0] == f"krbtgt/{kdc.realm}@{kdc.realm}"
    assert DEFAULT_SPN_SERVICE == "host"  # pypsrp >= 0.9; before it was WSMAN
    expected = {f"host/{f}@{kdc.realm}" for f in scanned_fqdns(kerberos_lab, inventory)}
    expected.add(f"host/{kerberos_lab.discovery_fqdn.lower()}@{kdc.realm}")
    assert expected <= set(held)
    assert not [p for p in held if "127." in p]


def test_a_service_key_missing_from_the_keytab_fails_only_that_server(
    kerberos_lab: LabOrg, demo_spec: LabOrgSpec, kdc: MiniKdc, ntlm_statuses: dict[str, S]
) -> None:
    keyless = keyless_server(demo_spec)
    inventory = scan(kerberos_options(kerberos_lab, kdc, spn_service="WSMAN"))
    records = {r.name.lower(): r for r in inventory.servers}
    name = keyless.split(".")[0]
    failed = records[name]
    assert failed.collection.status == S.AUTH_FAILED
    reason = failed.collection.reason or ""
    assert f"refused the kerberos ticket for wsman/{keyless}" in reason.lower()  # SPN hosts are case-insensitive
    assert "\n" not in reason and PASSWORD not in reason
    others = {k: v for k, v in statuses(inventory).items() if k != name}
    assert others == {k: v for k, v in ntlm_statuses.items() if k != name}


def test_the_cli_scans_with_the_ticket_cache(
    kerberos_lab: LabOrg, kdc: MiniKdc, ccache: Path, tmp_path: Path, ntlm_statuses: dict[str, S]
) -> None:
    kdc.kinit(principal(kdc), PASSWORD, ccache)
    # the discovery session asks for the load-balanced name (ASA); each server's /wsman for its own FQDN
    argv = ["scan", "--discovery-server", kerberos_lab.discovery_fqdn, "--spn-service", "HTTP", "--quiet",
            "--spn-hostname", ASA_NAME,
            "--exchange-port", str(kerberos_lab.exchange_port), "--wsman-port", str(kerberos_lab.wsman_port),
            "--connect-timeout", "2", "--operation-timeout", "5", "--server-timeout", "20",
            "--fail-on", "never", "--save-inventory", str(tmp_path / "inventory.json"), "-o", str(tmp_path / "out")]
    for fqdn, address in kerberos_lab.address_map().items():
        argv += ["--resolve", f"{fqdn}={address}"]
    assert main(argv) == 0
    saved = json.loads((tmp_path / "inventory.json").read_text(encoding="utf-8"))
    got = {s["name"].lower(): s["collection"]["status"] for s in saved["servers"]}
    assert got == {k: v.value for k, v in ntlm_statuses.items()}
    held = set(kdc.klist(ccache))
    reached = {s.fqdn.lower() for s in kerberos_lab.spec.servers if got.get(s.name.lower()) in ("ok", "partial")}
    assert {f"HTTP/{f}@{kdc.realm}" for f in reached} | {f"HTTP/{ASA_NAME}@{kdc.realm}"} <= held


# -- failures with one-line reasons -----------------------------------------------------------------------------


def test_wrong_password_is_a_one_line_auth_error(kerberos_lab: LabOrg, kdc: MiniKdc) -> None:
    with pytest.raises(DiscoveryAuthError) as info:
        scan(kerberos_options(kerberos_lab, kdc, password="Not-The-Password-1"))
    text = str(info.value)
    assert "wrong password for scanner@EEMS.TEST" in text and "Preauthentication failed" in text
    assert "\n" not in text and "Not-The-Password-1" not in text


def test_an_unknown_user_is_named(kerberos_lab: LabOrg, kdc: MiniKdc) -> None:
    with pytest.raises(DiscoveryAuthError, match=r"the KDC does not know nobody@EEMS\.TEST .*UPN"):
        scan(kerberos_options(kerberos_lab, kdc, username=f"nobody@{kdc.realm}"))


def test_no_ticket_and_no_password_says_to_kinit(kerberos_lab: LabOrg, kdc: MiniKdc, ccache: Path) -> None:
    with pytest.raises(DiscoveryAuthError, match=r"no valid Kerberos ticket .*run kinit"):
        scan(kerberos_options(kerberos_lab, kdc, username=None, password=None))


def test_an_spn_the_domain_does_not_have_is_named(kerberos_lab: LabOrg, kdc: MiniKdc) -> None:
    options = kerberos_options(kerberos_lab, kdc, spn_service="HTTP", spn_hostname="nosuch.contoso.lab")
    with pytest.raises(RemoteFailure) as info:
        open_exchange(options, kerberos_lab.discovery_fqdn)
    assert info.value.status == S.AUTH_FAILED
    assert "the domain has no service principal HTTP/nosuch.contoso.lab" in info.value.reason


# -- the Exchange endpoint ----------------------------------------------------------------------------------------


def test_exchange_powershell_through_a_load_balanced_name(kerberos_lab: LabOrg, kdc: MiniKdc, ccache: Path) -> None:
    kdc.kinit(principal(kdc), PASSWORD, ccache)
    options = kerberos_options(
        kerberos_lab, kdc, username=None, password=None, spn_service="HTTP", spn_hostname=ASA_NAME
    )
    with ExchangeSession(options.exchange_target(kerberos_lab.discovery_fqdn), options.credentials()) as session:
        result = session.run_cmdlet("Get-ExchangeServer")
    assert len(result.output) == len(kerberos_lab.spec.servers) and not result.errors
    assert f"HTTP/{ASA_NAME}@{kdc.realm}" in kdc.klist(ccache)

    foreign = kerberos_options(kerberos_lab, kdc, spn_service="HTTP", spn_hostname=FOREIGN_NAME)
    with pytest.raises(RemoteFailure, match=re.escape(f"refused the Kerberos ticket for HTTP/{FOREIGN_NAME}")):
        open_exchange(foreign, kerberos_lab.discovery_fqdn)


def test_plain_kerberos_scheme_seals_with_the_kerberos_protocol(
    kerberos_lab: LabOrg, kdc: MiniKdc, seal_protocols: list[str]
) -> None:
    with LabOrg(kerberos_lab.spec, base_address="127.0.51.1", kerberos_keytab=kdc.keytab, kerberos_only=True) as lab:
        options = kerberos_options(lab, kdc, spn_service="HTTP")
        with ExchangeSession(options.exchange_target(lab.discovery_fqdn), options.credentials()) as session:
            org = session.run_cmdlet("Get-OrganizationConfig")
            servers = session.run_cmdlet("Get-ExchangeServer", Identity=lab.discovery_fqdn.split(".")[0])
        assert org.output and not org.errors
        assert len(servers.output) == 1
        assert set(seal_protocols) == {auth.KERBEROS_PROTOCOL}
        # an endpoint that offers only Kerberos refuses NTLM, and the reason says what to use
        with pytest.raises(RemoteFailure) as info:
            open_exchange(ScanOptions.for_lab(lab), lab.discovery_fqdn)
        assert info.value.status == S.AUTH_FAILED
        assert "offers only Kerberos" in info.value.reason and "--auth kerberos" in info.value.reason
        assert lab.open_shells() == 0


def test_negotiate_picks_kerberos_for_a_upn(kerberos_lab: LabOrg, kdc: MiniKdc) -> None:
    # scanner@EEMS.TEST is no NTLM account of the lab: success means Negotiate used Kerberos (SPNEGO-wrapped).
    options = kerberos_options(kerberos_lab, kdc, auth="negotiate", spn_service="WSMAN")
    with ExchangeSession(options.exchange_target(kerberos_lab.discovery_fqdn), options.credentials()) as session:
        result = session.run_cmdlet("Get-OrganizationConfig")
    assert result.output and not result.errors
    assert f"WSMAN/{kerberos_lab.discovery_fqdn.lower()}@{kdc.realm}" in tickets_issued(kdc)
