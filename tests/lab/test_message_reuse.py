"""The lab serialises what every runspace pool sends alike once per process, not once per simulated server."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from xml.etree import ElementTree

import psrpcore
import pytest
from psrpcore.types import _serializer, serialize

from eems_check.collect.collector import Bounds, collector_parameters, collector_script
from eems_check.lab import cmdlets, load_org
from eems_check.lab.psrp import LabShell
from tests.lab.conftest import DEMO


def _creation_fragments() -> bytes:
    """What a client sends in a shell's creationXml: SESSION_CAPABILITY and INIT_RUNSPACEPOOL."""
    client = psrpcore.ClientRunspacePool()
    client.open()
    payload = client.data_to_send()
    assert payload is not None
    return bytes(payload.data)


@pytest.fixture
def serialisations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Every object psrpcore serialises from here on (top level and nested)."""
    seen: list[object] = []
    original = _serializer._Serializer.serialize

    def counting(self: object, value: object, *args: object, **kwargs: object) -> object:
        seen.append(value)
        return original(self, value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_serializer._Serializer, "serialize", counting)
    yield seen


def _shell(name: str) -> LabShell:
    spec = load_org(DEMO)
    runtime = cmdlets.Runtime(spec, spec.servers[0], "wsman", user="CONTOSO\\scanner")
    return LabShell(name, "http://schemas.microsoft.com/powershell/Microsoft.PowerShell", runtime)


def test_a_second_pool_opening_serialises_nothing_new(serialisations: list[object]) -> None:
    fragments = [_creation_fragments(), _creation_fragments()]  # two clients' openings, alike
    first = _shell("A")
    first.open(fragments[0])
    assert serialisations, "the first pool serialises its opening messages"
    serialisations.clear()

    second = _shell("B")
    second.open(fragments[1])

    assert second.pool.state == psrpcore.types.RunspacePoolState.Opened
    assert serialisations == []
    assert [len(m) for m in second.pool_queue] == [len(m) for m in first.pool_queue]


# -- pipelines ------------------------------------------------------------------------------------------------


def _opened(name: str, server: int = 0) -> tuple[psrpcore.ClientRunspacePool, LabShell]:
    """A psrpcore client and the lab shell whose runspace pool it opened."""
    client = psrpcore.ClientRunspacePool()
    client.open()
    payload = client.data_to_send()
    assert payload is not None
    spec = load_org(DEMO)
    runtime = cmdlets.Runtime(spec, spec.servers[server], "wsman", user="CONTOSO\\scanner")
    shell = LabShell(name, "http://schemas.microsoft.com/powershell/Microsoft.PowerShell", runtime)
    shell.open(bytes(payload.data))
    for data in shell.pool_queue:
        client.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, None))
        while client.next_event() is not None:
            pass
    shell.pool_queue.clear()
    assert client.state == psrpcore.types.RunspacePoolState.Opened
    return client, shell


def _created(client: psrpcore.ClientRunspacePool, build: Callable[[psrpcore.ClientPowerShell], object]) -> _Created:
    """A client pipeline built by `build`, started, and the fragments the client sends for it."""
    ps = psrpcore.ClientPowerShell(client)
    build(ps)
    ps.start()
    fragments = []
    while (payload := client.data_to_send()) is not None:
        fragments.append(bytes(payload.data))
    return _Created(ps, fragments)


@dataclass
class _Created:
    ps: psrpcore.ClientPowerShell
    fragments: list[bytes]

    @property
    def command_id(self) -> str:
        return str(self.ps.pipeline_id).upper()


def _write_output(text: str) -> Callable[[psrpcore.ClientPowerShell], object]:
    return lambda ps: ps.add_command("Write-Output").add_argument(text)


def _collector(ps: psrpcore.ClientPowerShell) -> None:
    ps.add_script(collector_script())
    for key, value in collector_parameters(Bounds(), probe_ocs=False, run_get_mitigations=False, proxy=None).items():
        ps.add_parameter(key, value)


def _send(shell: LabShell, created: _Created) -> None:
    shell.command(created.command_id, created.fragments[0])
    for fragment in created.fragments[1:]:
        shell.send("stdin", created.command_id, fragment)


def _answers(shell: LabShell, created: _Created) -> tuple[list[object], object]:
    """The pipeline's output and final state, as the client reads them."""
    pool, output, state = created.ps.runspace_pool, [], None
    while True:
        result = shell.receive(created.command_id, 10.0)
        for data in result.payloads:
            pool.receive_data(psrpcore.PSRPPayload(data, psrpcore.StreamType.default, created.ps.pipeline_id))
            while (event := pool.next_event()) is not None:
                if isinstance(event, psrpcore.PipelineOutputEvent):
                    output.append(event.data)
                elif isinstance(event, psrpcore.PipelineStateEvent):
                    state = event.state
        if result.done:
            return output, state


def test_a_second_pool_opening_shares_what_psrpcore_made_of_the_first() -> None:
    _, first = _opened("A")
    _, second = _opened("B")

    assert second.pool.our_capability is first.pool.our_capability
    assert second.pool.their_capability is first.pool.their_capability
    assert second.pool.host is first.pool.host
    assert str(second.pool.their_capability.protocolversion) == "2.3"


def test_a_second_identical_pipeline_creation_is_neither_parsed_nor_built_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first_client, first = _opened("A")
    first_pipeline = _created(first_client, _write_output("same"))
    _send(first, first_pipeline)
    second_client, second = _opened("B")
    second_pipeline = _created(second_client, _write_output("same"))  # the client's bytes, made before counting

    parsed: list[object] = []
    built: list[object] = []
    parse, build = ElementTree.fromstring, psrpcore.PowerShell.FromPSObjectForRemoting
    monkeypatch.setattr(ElementTree, "fromstring", lambda *a, **k: parsed.append(a) or parse(*a, **k))
    monkeypatch.setattr(
        psrpcore.PowerShell, "FromPSObjectForRemoting", lambda *a, **k: built.append(a) or build(*a, **k)
    )
    _send(second, second_pipeline)
    monkeypatch.undo()

    assert parsed == [] and built == []
    metadata = second.runs[second_pipeline.ps.pipeline_id].pipeline.metadata
    assert metadata is first.runs[first_pipeline.ps.pipeline_id].pipeline.metadata
    assert _answers(second, second_pipeline) == (["same"], psrpcore.types.PSInvocationState.Completed)
    assert _answers(first, first_pipeline) == (["same"], psrpcore.types.PSInvocationState.Completed)


def test_a_second_pipeline_serialises_only_its_output(serialisations: list[object]) -> None:
    client, shell = _opened("A")
    first = _created(client, _write_output("first"))
    _send(shell, first)
    assert _answers(shell, first) == (["first"], psrpcore.types.PSInvocationState.Completed)
    client, shell = _opened("B")
    second = _created(client, _write_output("second"))
    serialisations.clear()

    _send(shell, second)
    answers = _answers(shell, second)

    assert answers == (["second"], psrpcore.types.PSInvocationState.Completed)
    assert serialisations == ["second"]  # not its PIPELINE_STATE=Completed, nor anything of its pool


def test_reused_pipelines_answer_with_their_own_server_and_arguments() -> None:
    spec = load_org(DEMO)
    for server in (0, 1, 0):
        client, shell = _opened(f"S{server}", server)
        created = _created(client, _collector)
        _send(shell, created)
        output, state = _answers(shell, created)
        assert state == psrpcore.types.PSInvocationState.Completed
        document = json.loads(str(output[0]))
        assert document["computer_name"] == spec.servers[server].name.upper()
    for text in ("one", "two", "one"):
        client, shell = _opened(text)
        created = _created(client, _write_output(text))
        _send(shell, created)
        assert _answers(shell, created) == ([text], psrpcore.types.PSInvocationState.Completed)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain",
        "a & b < c > d",
        "<S>&amp;</S>",
        "line\r\nnext\ttab",
        "quotes ' \"",
        "é ✓ 𝄞",
        "\ud800 lone",
        "_x000D_",
    ],
)
def test_message_text_written_directly_is_what_elementtree_writes(value: str) -> None:
    from eems_check.lab._psrpcore_compat import _TreeKeepingTexts

    options = {"encoding": "utf-8", "method": "xml"}
    element = serialize(value, None)
    assert _TreeKeepingTexts.tostring(element, **options) == ElementTree.tostring(element, **options)
    bare = ElementTree.Element("S")
    bare.text = value or None
    assert _TreeKeepingTexts.tostring(bare, **options) == ElementTree.tostring(bare, **options)
