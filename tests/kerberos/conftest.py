"""Fixtures for the Kerberos tests: a loopback MIT KDC, the demo lab accepting Kerberos through a keytab, and
scan options that sign in as a Kerberos user.

Realm EEMS.TEST maps the lab's DNS domain (contoso.lab). Every demo server has `HTTP/`, `host/` and `WSMAN/`
principals; all their keys are in the lab's keytab except `WSMAN/<KEYLESS>` (so `--spn-service WSMAN` fails on
that one server, as it does where an SPN is registered to the wrong account). `HTTP/outlook.contoso.lab` stands for
a load-balanced namespace whose key the servers share (an Alternate Service Account); `HTTP/mail.contoso.lab`
exists in the KDC but in no keytab.

The KDC and the environment (KRB5_CONFIG, KRB5CCNAME pointing into the temp dir) live for this package only and
are undone after it, so no other test sees this realm; the lab lives for one module. The tests are skipped when the
MIT programs or python-gssapi are missing, except in CI (which installs both), where that is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eems_check.collect import ScanOptions
from eems_check.lab import LabOrg, LabOrgSpec, load_org

from ..conftest import missing_in_ci
from .kdc import MiniKdc, find_tools

DEMO = Path(__file__).parents[2] / "eems_check" / "lab" / "orgs" / "demo.yaml"
USER = "scanner"
PASSWORD = "Kerb-Scan-2026!"
ASA_NAME = "outlook.contoso.lab"  # load-balanced namespace; key in the keytab
FOREIGN_NAME = "mail.contoso.lab"  # principal exists, key in no keytab
SERVICES = ("HTTP", "host", "WSMAN")

os.environ.setdefault("NO_PROXY", "127.0.0.0/8,localhost")


def keyless_server(spec: LabOrgSpec) -> str:
    """The FQDN whose WSMAN/ key is left out of the keytab: a reachable, non-Edge server that is not the
    discovery server, without faults."""
    discovery = (spec.discovery_server or "").lower()
    for server in spec.servers:
        if not server.is_edge and not server.faults and server.name.lower() != discovery:
            return server.fqdn.lower()
    raise AssertionError("the demo org has no plain server to leave without a WSMAN key")


@pytest.fixture(scope="package")
def demo_spec() -> LabOrgSpec:
    return load_org(DEMO)


@pytest.fixture(scope="package")
def kdc(tmp_path_factory: pytest.TempPathFactory, demo_spec: LabOrgSpec) -> Iterator[MiniKdc]:
    tools = find_tools()
    if isinstance(tools, str):
        missing_in_ci(tools)
    try:
        import gssapi  # noqa: F401
        import krb5  # noqa: F401
    except ImportError as exc:  # pragma: no cover - CI installs them
        missing_in_ci(f"Kerberos tests need python-gssapi and krb5 (pip install -e '.[test,kerberos]'): {exc}")
    directory = tmp_path_factory.mktemp("kdc")
    patch = pytest.MonkeyPatch()
    with MiniKdc(directory, tools, dns_domains=(demo_spec.domain,)) as realm:
        realm.add_user(USER, PASSWORD)
        fqdns = [s.fqdn.lower() for s in demo_spec.servers]
        keyless = keyless_server(demo_spec)
        principals = [f"{svc}/{fqdn}" for fqdn in fqdns for svc in SERVICES]
        principals += [f"HTTP/{ASA_NAME}", f"HTTP/{FOREIGN_NAME}"]
        exported = [p for p in principals if p not in (f"WSMAN/{keyless}", f"HTTP/{FOREIGN_NAME}")]
        realm.add_services(principals, export=exported)
        for name in [k for k in os.environ if k.startswith("KRB5")]:
            patch.delenv(name)
        patch.setenv("KRB5_CONFIG", str(realm.krb5_conf))
        patch.setenv("KRB5CCNAME", f"FILE:{directory / 'default.ccache'}")  # never the user's own cache
        try:
            yield realm
        finally:
            patch.undo()


@pytest.fixture(scope="module")
def kerberos_lab(kdc: MiniKdc, demo_spec: LabOrgSpec) -> Iterator[LabOrg]:
    """The demo organisation offering Negotiate and Kerberos (and still NTLM inside Negotiate). Module scope:
    running labs share one keytab (KRB5_KTNAME is process-wide), so other modules may start their own."""
    with LabOrg(demo_spec, base_address="127.0.50.1", kerberos_keytab=kdc.keytab) as lab:
        yield lab


@pytest.fixture
def ccache(kdc: MiniKdc, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty FILE ticket cache for this test, made the default (KRB5CCNAME)."""
    path = tmp_path / "tickets.ccache"
    monkeypatch.setenv("KRB5CCNAME", f"FILE:{path}")
    return path


def principal(kdc: MiniKdc) -> str:
    return f"{USER}@{kdc.realm}"


def kerberos_options(lab: LabOrg, kdc: MiniKdc, **overrides: Any) -> ScanOptions:
    """Scan options for `lab` signing in with Kerberos as the test user (password unless overridden)."""
    values: dict[str, Any] = {"auth": "kerberos", "username": principal(kdc), "password": PASSWORD}
    values.update(overrides)
    return ScanOptions.for_lab(lab, **values)
