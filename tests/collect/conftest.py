"""Shared fixtures for the collection tests: fixture paths, running labs and scan options pointed at them."""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eems_check.collect import ScanOptions
from eems_check.lab import LabOrg, load_org

FIXTURES = Path(__file__).parent / "fixtures"
DEMO = Path(__file__).parents[2] / "eems_check" / "lab" / "orgs" / "demo.yaml"

# An environment proxy must never see loopback traffic (the scanner sets no_proxy itself; this guards the lab).
os.environ.setdefault("NO_PROXY", "127.0.0.0/8,localhost")


def lab_options(lab: LabOrg, **overrides: Any) -> ScanOptions:
    return ScanOptions.for_lab(lab, **overrides)


@pytest.fixture(scope="module")
def demo_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(DEMO)) as lab:
        yield lab


@pytest.fixture(scope="module")
def faults_lab() -> Iterator[LabOrg]:
    with LabOrg(load_org(FIXTURES / "faults.yaml"), base_address="127.0.20.1") as lab:
        yield lab


@pytest.fixture(scope="session")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A throw-away CA and one certificate naming every demo server's FQDN and loopback address."""
    import trustme

    spec = load_org(DEMO)
    names = [s.fqdn.lower() for s in spec.servers] + [f"127.0.30.{i + 1}" for i in range(len(spec.servers))]
    ca = trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(ctx)
    ca_file = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ctx, str(ca_file)
