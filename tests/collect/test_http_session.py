"""The session under pypsrp: the eager first token and the environment-proxy switch are tested on the tuned path
and on the stock path each falls back to; both must scan a server completely.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests

from eems_check.collect import http, remoting, scan
from eems_check.lab import LabOrg
from eems_check.model import CollectionStatus as S

from .conftest import lab_options

FQDN = "ex2019a.contoso.lab"


def _requests_for_one_server(lab: LabOrg) -> int:
    before = lab.request_count(FQDN)
    inventory = scan(lab_options(lab, servers=("EX2019A",), discovery_server="EXSE03.contoso.lab"))
    assert [s.collection.status for s in inventory.servers] == [S.OK]
    return lab.request_count(FQDN) - before


@pytest.mark.parametrize(("releases", "requests_per_server"), [
    (http.EAGER_PYPSRP, 7),  # the first Negotiate token rides on the first request
    ((), 8),  # a pypsrp release it was not tested with: pypsrp's own exchange, one anonymous 401 first
])
def test_the_eager_token_saves_one_round_trip_and_falls_back_to_pypsrps_auth(
    demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch, releases: tuple[str, ...], requests_per_server: int
) -> None:
    monkeypatch.setattr(http, "EAGER_PYPSRP", releases)
    assert _requests_for_one_server(demo_lab) == requests_per_server


def test_without_the_session_hook_pypsrp_builds_its_own_and_the_scan_still_works(
    demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    def release_without_hook(wsman: Any, **_: Any) -> bool:
        return http.install_session(SimpleNamespace(), auth=requests.auth.HTTPBasicAuth("u", "p"), verify=False)

    monkeypatch.setattr(remoting, "install_session", release_without_hook)
    assert _requests_for_one_server(demo_lab) == 8


@pytest.mark.parametrize("hooked", [True, False])
def test_proxy_variables_never_divert_winrm(demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch, hooked: bool) -> None:
    # A proxy on a loopback port where nothing listens: a request sent there would fail to connect.
    for variable in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    if not hooked:
        monkeypatch.setattr(remoting, "install_session", lambda wsman, **_: False)
    assert _requests_for_one_server(demo_lab) in (7, 8)


def test_the_hook_is_refused_when_a_session_is_already_there() -> None:
    transport = SimpleNamespace(session=requests.Session())
    assert not http.install_session(SimpleNamespace(transport=transport), auth=None, verify=True)  # type: ignore[arg-type]


def test_the_installed_session_ignores_the_environment_and_caps_answers() -> None:
    transport = SimpleNamespace(session=None)
    assert http.install_session(SimpleNamespace(transport=transport), auth=None, verify=False, limit=1234)  # type: ignore[arg-type]
    session = transport.session
    assert session is not None and session.trust_env is False and session.headers["Accept-Encoding"] == "identity"
    adapter = session.get_adapter("http://ex01.contoso.lab:5985/wsman")
    assert isinstance(adapter, http.CappedAdapter)
    pool_class = adapter.poolmanager.pool_classes_by_scheme["http"]
    assert pool_class.ConnectionCls.response_class.limit == 1234
