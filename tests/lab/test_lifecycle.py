"""LabOrg lifecycle: addressing, ports, the NTLM account file, describe(), the demo org."""

from __future__ import annotations

import os
import socket
import stat

import pytest
import requests
from pypsrp.powershell import PowerShell, RunspacePool

from eems_check.lab import LabOrg, load_org
from tests.lab.conftest import DEMO, FIXTURES, client


def test_each_server_has_its_own_loopback_address_and_shared_ports(basic_lab: LabOrg) -> None:
    assert basic_lab.address_map() == {
        "ex01.contoso.lab": "127.0.10.1",
        "ex02.contoso.lab": "127.0.10.2",
        "edge01.dmz.contoso.lab": "127.0.10.3",
    }
    assert basic_lab.exchange_port != basic_lab.wsman_port
    for ip in basic_lab.address_map().values():
        for port in (basic_lab.exchange_port, basic_lab.wsman_port):
            with socket.create_connection((ip, port), timeout=2):
                pass
    assert basic_lab.discovery_fqdn == "EX01.contoso.lab"
    assert basic_lab.credentials == ("CONTOSO\\scanner", "Lab-Passw0rd!")
    assert basic_lab.https is False


def test_describe_lists_servers_addresses_ports_and_account(basic_lab: LabOrg) -> None:
    text = basic_lab.describe()
    for needle in (
        "EX01.contoso.lab",
        "127.0.10.3",
        str(basic_lab.wsman_port),
        str(basic_lab.exchange_port),
        "CONTOSO\\scanner",
        "15.2.2562.41",
    ):
        assert needle in text


def test_non_loopback_base_address_is_refused() -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.0/8"):
        LabOrg(load_org(FIXTURES / "basic.yaml"), base_address="10.0.0.1")


def test_explicit_ports_and_restart() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.30.1", 0))
        port_a = probe.getsockname()[1]
    with socket.socket() as probe:
        probe.bind(("127.0.30.1", 0))
        port_b = probe.getsockname()[1]
    lab = LabOrg(
        load_org(FIXTURES / "basic.yaml"), base_address="127.0.30.1", exchange_port=port_a, wsman_port=port_b
    )
    for _ in range(2):
        lab.start()
        assert (lab.exchange_port, lab.wsman_port) == (port_a, port_b)
        r = requests.post(f"http://127.0.30.2:{port_b}/wsman", data=b"", timeout=5)
        assert r.status_code == 401
        lab.stop()
    lab.stop()  # idempotent


def test_ntlm_account_file_is_private_and_removed_on_stop() -> None:
    before = os.environ.get("NTLM_USER_FILE")
    with LabOrg(load_org(FIXTURES / "basic.yaml"), base_address="127.0.31.1"):
        path = os.environ["NTLM_USER_FILE"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    if before is None:
        # only this test's lab was running in addition to module fixtures that may still hold the file
        assert not os.path.exists(path) or os.environ.get("NTLM_USER_FILE") == path
    else:
        assert os.environ.get("NTLM_USER_FILE") == before


def test_demo_org_answers_discovery_and_collector() -> None:
    spec = load_org(DEMO)
    with LabOrg(spec, base_address="127.0.40.1") as lab:
        assert lab.discovery_fqdn == "EXSE03.contoso.lab"
        wsm = client(lab, lab.discovery_fqdn, "exchange")
        with RunspacePool(wsm, configuration_name="Microsoft.Exchange") as pool, PowerShell(pool) as ps:
            ps.add_cmdlet("Get-ExchangeServer")
            names = [str(o) for o in ps.invoke()]
        assert len(names) == 13 and "EDGE01" in names and "EXSE04" in names
        refused = [s.fqdn.lower() for s in spec.servers if s.refused("wsman")]
        assert refused and all(f in lab.address_map() for f in refused)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.post(f"http://{lab.address_map()[refused[0]]}:{lab.wsman_port}/wsman", timeout=2)
        assert lab.open_shells() == 0
