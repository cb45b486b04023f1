"""Shared fixtures for the lab tests: running labs and real pypsrp clients pointed at them."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypsrp.wsman import WSMan

from eems_check.lab import LabOrg, load_org

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = Path(__file__).parents[2] / "eems_check" / "lab" / "orgs" / "demo.yaml"

# Keep an environment proxy from capturing loopback traffic.
os.environ.setdefault("NO_PROXY", "127.0.0.0/8,localhost")


def client(lab: LabOrg, fqdn: str, endpoint: str = "wsman", **kwargs: Any) -> WSMan:
    """A pypsrp WSMan for one simulated server (``endpoint``: ``wsman`` or ``exchange``)."""
    params: dict[str, Any] = {
        "port": lab.wsman_port if endpoint == "wsman" else lab.exchange_port,
        "path": "wsman" if endpoint == "wsman" else "PowerShell",
        "ssl": lab.https,
        "auth": "ntlm",
        "username": lab.credentials[0],
        "password": lab.credentials[1],
        "no_proxy": True,
        "connection_timeout": 5,
        "read_timeout": 30,
        "reconnection_retries": 0,
        "reconnection_backoff": 0.0,
    }
    params.update(kwargs)
    return WSMan(lab.address_map()[fqdn.lower()], **params)


@pytest.fixture(scope="module")
def basic_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(FIXTURES / "basic.yaml")) as lab:
        yield lab


def start_fixture_lab(name: str, **kwargs: Any) -> LabOrg:
    lab = LabOrg(load_org(FIXTURES / f"{name}.yaml"), **kwargs)
    lab.start()
    return lab


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A throw-away CA and a server certificate for every lab FQDN; returns (server context, CA file)."""
    import trustme  # a test dependency: missing, the TLS tests fail rather than skip
    ca = trustme.CA()
    names = [
        "ex01.contoso.lab",
        "ex02.contoso.lab",
        "edge01.dmz.contoso.lab",
        "127.0.10.1",
        "127.0.10.2",
        "127.0.10.3",
    ]
    cert = ca.issue_cert(*names)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(ctx)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ctx, str(ca_file)
