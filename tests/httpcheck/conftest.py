"""Shared fixtures for the HTTPS build cross-check: a throw-away CA, the cross-check lab org, scan options."""

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
ORG = FIXTURES / "http.yaml"

os.environ.setdefault("NO_PROXY", "127.0.0.0/8,localhost")


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str, str]:
    """(server context, CA file that signed it, CA file of an unrelated CA) for every FQDN of the org."""
    import trustme  # a test dependency: missing, the TLS tests fail rather than skip
    ca, stranger = trustme.CA(), trustme.CA()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*[s.fqdn.lower() for s in load_org(ORG).servers]).configure_cert(ctx)
    folder = tmp_path_factory.mktemp("http-ca")
    good, bad = folder / "ca.pem", folder / "stranger.pem"
    ca.cert_pem.write_to_path(str(good))
    stranger.cert_pem.write_to_path(str(bad))
    return ctx, str(good), str(bad)


@pytest.fixture(scope="module")
def http_lab(tls: tuple[ssl.SSLContext, str, str]) -> Iterator[LabOrg]:
    """The org over plain-HTTP WinRM (sealed NTLM, as on port 5985) with HTTPS on the OWA/ECP port."""
    with LabOrg(load_org(ORG), base_address="127.0.50.1", web_ssl_context=tls[0]) as lab:
        yield lab


def options(lab: LabOrg, ca: str | None, **overrides: Any) -> ScanOptions:
    values: dict[str, Any] = {"http_check": True, "ca_bundle": ca, "http_check_timeout": 2.0}
    values.update(overrides)
    return ScanOptions.for_lab(lab, **values)
