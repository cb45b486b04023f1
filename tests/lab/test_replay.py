"""A capture replayed through the lab: a real organisation's answers, served over real WS-Man/PSRP to pypsrp.

Two sources of captures: a scan of the demo organisation with --capture (the loop closes: scanning the replay must
find what the first scan found), and the Export-Clixml form written by Export-EemsInventory.ps1 -Capture (its
objects checked against facts typed by hand)."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from psrpcore.types import serialize

from eems_check.collect import ScanOptions, scan
from eems_check.collect.records import exchange_facts
from eems_check.lab import LabOrg, load_org
from eems_check.lab.replay import load_replay, to_psobject
from eems_check.model import CollectionStatus as S

ROOT = Path(__file__).parents[2]
DEMO = ROOT / "eems_check" / "lab" / "orgs" / "demo.yaml"
EXCHANGE = ROOT / "tests" / "collect" / "fixtures" / "exchange"
EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load((EXCHANGE / "expected-facts.yaml").read_text(encoding="utf-8"))


def _facts(server: Any) -> tuple[Any, ...]:
    return (server.collection.status, server.exsetup_version, server.site, server.roles, server.eems, server.events)


def test_scanning_the_replay_of_a_scan_finds_what_the_scan_found(tmp_path: Path) -> None:
    with LabOrg(load_org(DEMO), base_address="127.0.82.1") as lab:
        first = scan(ScanOptions.for_lab(lab, capture=tmp_path / "capture"))
    with LabOrg(load_replay(tmp_path / "capture"), base_address="127.0.83.1") as lab:
        again = scan(ScanOptions.for_lab(lab))
    assert [s.name for s in again.servers] == [s.name for s in first.servers]
    assert {s.name: _facts(s) for s in again.servers} == {s.name: _facts(s) for s in first.servers}
    assert (again.org.name, again.org.mitigations_enabled) == ("Contoso", True)
    assert next(s for s in again.servers if s.name == "EXSE04").collection.status is S.UNREACHABLE  # no answer


@pytest.fixture
def export_capture(tmp_path: Path) -> Path:
    """A capture in Export-EemsInventory.ps1's form: Export-Clixml files, answers for two servers only."""
    folder = tmp_path / "export"
    (folder / "collector").mkdir(parents=True)
    manifest = {"format": "eems-check/capture", "version": 1, "written_by": "Export-EemsInventory.ps1 0.1.0",
                "collected_at": "2026-12-01T06:00:00.0000000Z", "names_scrubbed": False}
    (folder / "capture.json").write_text(json.dumps(manifest), encoding="utf-8")
    for name in ("GetExchangeServer.xml", "GetOrganizationConfig.xml"):
        shutil.copyfile(EXCHANGE / name, folder / name)
    for answer in (ROOT / "tests" / "collect" / "fixtures" / "capture-answers").glob("*.json"):
        shutil.copyfile(answer, folder / "collector" / answer.name)
    return folder


def test_the_replay_of_an_export_capture_gives_the_objects_facts_over_the_wire(export_capture: Path) -> None:
    with LabOrg(load_replay(export_capture), base_address="127.0.84.1") as lab:
        inventory = scan(ScanOptions.for_lab(lab))
    by_name = {s.name: s for s in inventory.servers}
    for name, facts in EXPECTED.items():
        server = by_name[name]
        assert (server.fqdn, server.site, list(server.roles), server.is_edge) == (
            facts["fqdn"], facts["site"], facts["roles"], facts["is_edge"]
        )
        eems = facts["eems"]
        assert (server.eems.applied, server.eems.blocked) == (tuple(eems["applied"]), tuple(eems["blocked"]))
        assert server.admin_display_version == facts["admin_display_version"]
    answered = {p.stem for p in (export_capture / "collector").glob("*.json")}
    assert {n for n, s in by_name.items() if s.collection.status is S.OK} == answered


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_replayed_object_is_written_back_in_the_captured_shape(name: str) -> None:
    text = (EXCHANGE / "wire" / f"{name}.xml").read_text(encoding="utf-8")
    again = ET.tostring(serialize(to_psobject(text), None), encoding="unicode")

    def shape(xml: str) -> list[tuple[str | None, str]]:
        props = ET.fromstring(xml).find("Props")
        assert props is not None
        return [(p.get("N"), p.tag) for p in props]

    assert shape(again) == shape(text)
    from eems_check.collect.remoting import objects_from_clixml

    assert exchange_facts(objects_from_clixml(again)[0]) == EXPECTED[name]


def test_lab_serve_replay_serves_the_capture_until_interrupted(export_capture: Path) -> None:
    import signal
    import subprocess
    import sys

    command = [sys.executable, "-m", "eems_check", "lab", "serve", "--replay", str(export_capture),
               "--base-address", "127.0.85.1"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        shown = []
        for line in process.stdout:
            shown.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        process.send_signal(signal.SIGINT)
        _, errors = process.communicate(timeout=20)
    text = "".join(shown)
    assert process.returncode == 0 and "Traceback" not in errors
    assert all(name.lower() in text.lower() for name in EXPECTED)  # every captured server is served
