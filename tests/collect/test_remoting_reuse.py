"""What the scanner reuses between servers changes nothing on the wire or in what is read: the reusing
serializer's bytes and objects are pypsrp's own, and the NTLM secret is the password's NT hash."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from pypsrp.complex_objects import (
    ApartmentState,
    Command,
    CommandParameter,
    HostInfo,
    Pipeline,
    PSThreadOptions,
    RemoteStreamOptions,
)
from pypsrp.messages import CreatePipeline, Destination, InitRunspacePool, Message, SessionCapability
from pypsrp.powershell import PROTOCOL_VERSION, PS_VERSION, SERIALIZATION_VERSION, RunspacePool
from pypsrp.serializer import Serializer
from pypsrp.wsman import WSMan

from eems_check.collect import remoting
from eems_check.collect.collector import Bounds, collector_parameters, collector_script
from eems_check.collect.lean_http import LeanHTTPAdapter, LeanSession

from .conftest import FIXTURES

RPID = str(uuid.uuid4())


def _capability() -> Any:
    return SessionCapability(PROTOCOL_VERSION, PS_VERSION, SERIALIZATION_VERSION)


def _init_pool() -> Any:
    return InitRunspacePool(1, 1, PSThreadOptions(value=0), ApartmentState(value=2), HostInfo(host=None), None)


def _pipeline() -> Any:
    command = Command(cmd=collector_script(), is_script=True, use_local_scope=False)
    for key, value in collector_parameters(Bounds(), probe_ocs=True, run_get_mitigations=False,
                                           proxy="http://proxy:8080/").items():
        command.args.append(CommandParameter(name=key, value=value))
    pipeline = Pipeline(is_nested=False, cmds=[command], history="", redirect_err_to_out=False)
    return CreatePipeline(True, ApartmentState(value=2), RemoteStreamOptions(value=15), False, HostInfo(host=None),
                          pipeline, False)


def _packed(serializer: Serializer, message: Any) -> bytes:
    return bytes(Message(Destination.SERVER, RPID, None, message, serializer).pack())


@pytest.mark.parametrize("build", [_capability, _init_pool, _pipeline], ids=["capability", "init-pool", "pipeline"])
def test_reused_messages_are_byte_for_byte_what_pypsrp_sends(build: Callable[[], Any]) -> None:
    key = ("collector", "probe")
    fresh = _packed(Serializer(), build())
    assert _packed(remoting._ReusingSerializer(key), build()) == fresh  # first use serialises
    assert _packed(remoting._ReusingSerializer(key), build()) == fresh  # later uses reuse


def test_a_pipeline_without_a_key_is_serialised_afresh_every_time() -> None:
    serializer = remoting._ReusingSerializer(None)
    assert serializer._key(_pipeline()) is None
    assert serializer._key(_capability()) is not None


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.xml")))
def test_objects_read_with_shortcuts_equal_pypsrps_reading(fixture: str) -> None:
    text = (FIXTURES / fixture).read_text(encoding="utf-8")
    stock = remoting.to_plain(Serializer().deserialize(text))
    assert remoting.to_plain(remoting._ReusingSerializer().deserialize(text)) == stock
    assert stock  # the fixture was read at all


def test_every_primitive_type_reads_as_pypsrp_reads_it() -> None:
    text = (FIXTURES / "primitives.xml").read_text(encoding="utf-8")
    stock = Serializer().deserialize(text)
    ours = remoting._ReusingSerializer().deserialize(text)
    assert ours.adapted_properties == stock.adapted_properties
    assert ours.adapted_properties["Text"] == "line\ntwo\r and _x0041_ and \U0001F600"
    assert ours.adapted_properties["Again"] == ["a", 2, None]


def test_the_pool_gets_the_reusing_serializer_through_the_attributes_it_relies_on() -> None:
    pool = RunspacePool(WSMan("127.0.0.1", port=5985, auth="basic", ssl=True, username="u", password="p"))
    remoting._reuse_serialised_messages(pool, ("k",))
    assert isinstance(pool._serializer, remoting._ReusingSerializer)
    assert pool._fragmenter.serializer is pool._serializer


@pytest.mark.parametrize(("password", "nt_hash"), [
    ("Password", "a4f49c406510bdcab6824ee7c30fd852"),  # the [MS-NLMP] 4.2.2.1.2 test vector
    ("", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    ("0123456789abcdef0123456789abcdef:0123456789abcdef0123456789abcdef", None),  # looks like a hash: still hashed
])
def test_ntlm_secret_is_the_nt_hash_of_the_password(password: str, nt_hash: str | None) -> None:
    lm, _, nt = remoting.ntlm_hash_secret(password).partition(":")
    assert lm == "0" * 32 and len(nt) == 32 and nt != password.partition(":")[2]
    if nt_hash is not None:
        assert nt == nt_hash


@pytest.mark.parametrize("auth", ["ntlm", "negotiate", "kerberos"])
def test_a_lean_session_is_the_one_pypsrp_would_build_on_the_lean_transport(auth: str) -> None:
    target = remoting.Target("ex01.contoso.lab", "127.0.10.1", 5985, False)
    creds = remoting.Credentials(auth=auth, username="CONTOSO\\scanner", password="pw", spn_service="HTTP")
    transport: Any = remoting._wsman(target, creds, "wsman", lean=True).transport
    session = transport.session
    stock = transport._build_session()
    assert isinstance(session, LeanSession) and not session.trust_env and session.verify is False
    assert dict(session.headers) == dict(stock.headers)
    assert isinstance(session.get_adapter("http://127.0.10.1:5985/wsman"), LeanHTTPAdapter)
    eager, plain = session.auth, stock.auth
    assert isinstance(eager, remoting._EagerNegotiateAuth) and not eager.send_cbt
    for name in ("username", "auth_provider", "service", "delegate", "hostname_override", "wrap_required"):
        assert getattr(eager, name) == getattr(plain, name), name
    assert eager.password == plain.password  # the NT-hash form for NTLM, as given to pypsrp


def test_https_and_basic_sessions_stay_pypsrps_own() -> None:
    target = remoting.Target("ex01.contoso.lab", "127.0.10.1", 5986, True)
    creds = remoting.Credentials(auth="basic", username="scanner", password="pw")
    session: Any = remoting._wsman(target, creds, "wsman", lean=True).transport.session
    assert not isinstance(session, LeanSession) and not session.trust_env
