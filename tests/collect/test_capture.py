"""A capture (Export-EemsInventory.ps1 -Capture DIR) reads back through the scanner's own stages: the facts of each
Get-ExchangeServer object, each collector answer, the organisation's switch. The expected values come from the
hand-typed facts beside the CLIXML (fixtures/exchange/expected-facts.yaml) and from the answers' own JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.cli import main
from eems_check.collect import ScanOptions, scan
from eems_check.collect.capture import read_capture
from eems_check.errors import InputError
from eems_check.lab import LabOrg, load_org
from eems_check.model import CollectionStatus

from .conftest import DEMO, FIXTURES

EXPECTED: dict[str, dict[str, Any]] = yaml.safe_load(
    (FIXTURES / "exchange" / "expected-facts.yaml").read_text(encoding="utf-8")
)
ANSWERS = FIXTURES / "capture-answers"
MANIFEST = {"format": "eems-check/capture", "version": 1, "written_by": "Export-EemsInventory.ps1 0.1.0",
            "collected_at": "2026-12-01T06:00:00.0000000Z", "names_scrubbed": False}


@pytest.fixture
def capture(tmp_path: Path) -> Path:
    """A capture folder as the script writes it: the Export-Clixml files and two servers' collector answers."""
    folder = tmp_path / "contoso"
    (folder / "collector").mkdir(parents=True)
    (folder / "capture.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    for name in ("GetExchangeServer.xml", "GetOrganizationConfig.xml"):
        shutil.copyfile(FIXTURES / "exchange" / name, folder / name)
    for answer in ANSWERS.glob("*.json"):
        shutil.copyfile(answer, folder / "collector" / answer.name)
    return folder


def test_every_captured_server_becomes_a_record_with_its_facts(capture: Path) -> None:
    servers = {s.name: s for s in read_capture(capture).servers}
    assert set(EXPECTED) <= set(servers)
    for name, facts in EXPECTED.items():
        record = servers[name]
        assert (record.fqdn, record.site, record.admin_display_version) == (
            facts["fqdn"], facts["site"], facts["admin_display_version"])
        assert record.eems.applied == tuple(facts["eems"]["applied"])


@pytest.mark.parametrize("name", sorted(p.stem for p in ANSWERS.glob("*.json")))
def test_each_captured_answer_is_read_as_the_scanner_reads_it(capture: Path, name: str) -> None:
    answer = json.loads((ANSWERS / f"{name}.json").read_text(encoding="utf-8"))
    record = next(s for s in read_capture(capture).servers if s.name == name)
    assert record.collection.status is CollectionStatus.OK, record.collection.reason
    assert record.exsetup_version == answer["exsetup"]["file_version"]
    assert record.ocs_probe is not None and record.ocs_probe.proxy == answer["ocs_probe"]["proxy"]
    assert record.get_mitigations is not None and record.get_mitigations.host == name


def test_servers_without_an_answer_are_not_scanned_and_say_why(capture: Path) -> None:
    records = {s.name: s for s in read_capture(capture).servers}
    assert records["EX2019A"].collection.status is CollectionStatus.NOT_SCANNED
    assert records["EX2019A"].collection.reason == "the capture holds no collector answer"
    assert records["EDGE01"].collection.status is CollectionStatus.NOT_SCANNED


def test_eems_check_evaluate_reports_on_a_capture_folder(capture: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert main(["evaluate", str(capture), "--json", str(report), "--fail-on", "never", "-q"]) == 0
    servers = {r["server"] for r in json.loads(report.read_text(encoding="utf-8"))["results"]}
    assert set(EXPECTED) <= servers


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: (f / "capture.json").write_text('{"format": "other"}'), "capture.json: format is not"),
    (lambda f: (f / "GetExchangeServer.xml").write_text("<Objs>"), "GetExchangeServer.xml: not CLIXML"),
    (lambda f: (f / "GetOrganizationConfig.xml").unlink(), "GetOrganizationConfig.xml: cannot read"),
])
def test_a_broken_capture_is_one_line_naming_the_file(capture: Path, change: Any, message: str) -> None:
    change(capture)
    with pytest.raises(InputError, match=message):
        read_capture(capture)


# -- eems-check scan --capture: what a scan receives, written so that it reads back the same ------------------


def _files(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text(encoding="utf-8") for p in folder.rglob("*") if p.is_file()}


def test_a_scan_capture_reads_back_as_the_scan_saw_it(tmp_path: Path) -> None:
    with LabOrg(load_org(DEMO), base_address="127.0.80.1") as lab:
        scanned = scan(ScanOptions.for_lab(lab, capture=tmp_path / "capture"))
    back = read_capture(tmp_path / "capture")
    assert (back.org.name, back.org.mitigations_enabled) == ("Contoso", True)
    answered = {s.name: s for s in scanned.servers if s.collection.status in (CollectionStatus.OK,)}
    assert len(answered) == 11  # every server but the Edge and the unreachable one
    for server in back.servers:
        if server.name in answered:
            seen = answered[server.name]
            assert (server.exsetup_version, server.site, server.eems, server.service, server.events) == (
                seen.exsetup_version, seen.site, seen.eems, seen.service, seen.events
            )
        else:  # EDGE01 (not scanned) and EXSE04 (unreachable): the capture holds no answer for them
            assert server.collection.status is CollectionStatus.NOT_SCANNED
    # The objects are the server's own text: the Get-ExchangeServer file holds its type-name references.
    assert _files(tmp_path / "capture")["GetExchangeServer.xml"].count("<TNRef") > 13


def test_a_capture_keeps_no_password_and_no_credential_in_a_url(tmp_path: Path) -> None:
    with LabOrg(load_org(FIXTURES / "capture-secrets.yaml"), base_address="127.0.80.1") as lab:
        scan(ScanOptions.for_lab(lab, capture=tmp_path / "capture"))
    text = "\n".join(_files(tmp_path / "capture").values())
    assert "Proxy-Secret-1" not in text and "Capture-Passw0rd!" not in text
    assert "scrubbed:scrubbed@proxy.woodgrove.lab:8080" in text and "with password ***" in text


def test_names_scrubbed_on_request_everywhere_and_the_capture_still_reads(tmp_path: Path) -> None:
    with LabOrg(load_org(DEMO), base_address="127.0.80.1") as lab:
        scan(ScanOptions.for_lab(lab, capture=tmp_path / "capture", capture_scrub_names=True))
    files = _files(tmp_path / "capture")
    everything = "\n".join([*files, *files.values()]).lower()
    for name in ("contoso", "ex2019a", "exse03", "amsterdam", "berlin", "dc=lab,"):
        assert name not in everything
    back = read_capture(tmp_path / "capture")
    assert [s.name for s in back.servers][:3] == ["SERVER01", "SERVER02", "SERVER03"]
    assert back.org.name == "Organisation" and json.loads(files["capture.json"])["names_scrubbed"] is True
    assert {s.site for s in back.servers} == {"SITE01", "SITE02", "SITE03"}
