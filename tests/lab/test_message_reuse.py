"""The lab serialises what every runspace pool sends alike once per process, not once per simulated server."""

from __future__ import annotations

from collections.abc import Iterator

import psrpcore
import pytest
from psrpcore.types import _serializer

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
