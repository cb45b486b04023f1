"""Discovery as data: a partial list is stated in every report, an empty one is an error of its own, the same
server is collected once, and an error record keeps its message. Real WS-Man against the lab throughout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.collect import DiscoveryError, scan
from eems_check.evaluate import evaluate
from eems_check.lab import LabOrg, load_org
from eems_check.mail.message import build_message
from eems_check.mail.settings import MailSettings
from eems_check.model import CollectionStatus as S
from eems_check.render.csv_report import CsvRenderer
from eems_check.render.html_report import HtmlRenderer
from eems_check.render.json_report import JsonRenderer
from eems_check.ruleset import load_ruleset

from .conftest import FIXTURES, lab_options

AD_ERROR = "Active Directory operation failed on dc01.northwind.lab"


def _lab_file(tmp_path: Path, fault: dict[str, Any]) -> Path:
    org = yaml.safe_load((FIXTURES / "partial-discovery.yaml").read_text(encoding="utf-8"))
    org["servers"][0]["faults"] = [fault]
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(org), encoding="utf-8")
    return path


@pytest.mark.parametrize("terminating", [False, True])
def test_an_error_after_some_servers_is_a_partial_discovery(tmp_path: Path, terminating: bool) -> None:
    path = _lab_file(tmp_path, {"kind": "ad_error", "after": 2, "terminating": terminating})
    with LabOrg(load_org(path), base_address="127.0.70.1") as lab:
        inventory = scan(lab_options(lab))
    assert [(s.name, s.collection.status) for s in inventory.servers] == [("NWDISC", S.OK), ("NWTWO", S.OK)]
    assert len(inventory.org.discovery_problems) == 1
    assert AD_ERROR in inventory.org.discovery_problems[0]  # the error record's own message, not "None"


def test_an_error_before_any_server_fails_the_run(tmp_path: Path) -> None:
    path = _lab_file(tmp_path, {"kind": "ad_error", "after": 0, "terminating": True})
    with LabOrg(load_org(path), base_address="127.0.70.1") as lab, pytest.raises(DiscoveryError, match=AD_ERROR):
        scan(lab_options(lab))


def test_no_server_listed_is_an_error_with_its_own_message(tmp_path: Path) -> None:
    path = _lab_file(tmp_path, {"kind": "ad_error", "after": 0})  # written, not terminating: Completed, empty
    with LabOrg(load_org(path), base_address="127.0.70.1") as lab, pytest.raises(DiscoveryError) as caught:
        scan(lab_options(lab))
    assert AD_ERROR in str(caught.value) and caught.value.exit_code == 3


def test_filters_that_match_nothing_are_an_error(demo_lab: LabOrg) -> None:
    with pytest.raises(DiscoveryError, match=r"none of the 13 servers .* matches --site Atlantis"):
        scan(lab_options(demo_lab, sites=("Atlantis",)))


def test_a_partial_discovery_is_stated_in_every_report(tmp_path: Path) -> None:
    path = _lab_file(tmp_path, {"kind": "ad_error", "after": 2})
    with LabOrg(load_org(path), base_address="127.0.70.1") as lab:
        inventory = scan(lab_options(lab))
    now = dt.datetime.now(dt.timezone.utc)
    report = evaluate(inventory, load_ruleset(), today=dt.date(2026, 12, 6), generated_at=now)
    html = HtmlRenderer().render(report)
    assert "The list of servers may be incomplete" in html and AD_ERROR in html
    saved = json.loads(JsonRenderer().render(report))
    assert AD_ERROR in saved["inventory"]["organization"]["discovery_problems"][0]
    settings = MailSettings(mail_to=("ops@northwind.lab",), mail_from="eems@northwind.lab", smtp_host="127.0.0.1")
    message = build_message(report, {}, settings, host="admin01")
    parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    assert len(parts) == 2 and all("may be incomplete" in p and AD_ERROR in p for p in parts)
    assert CsvRenderer().render(report)  # per-server rows: the statement lives in the other three


def test_a_server_listed_twice_is_collected_once(demo_lab: LabOrg) -> None:
    # Get-ExchangeServer can list a server twice (two domain controllers answering a paged query, a retry): by
    # name or by FQDN, in any case, the second is passed over. A string in the list is a problem, not a server.
    from eems_check.collect.plain import PSBag
    from eems_check.collect.scan import _Selector

    selector = _Selector(lab_options(demo_lab))
    first = PSBag({"Name": "EX01", "Fqdn": "ex01.contoso.lab"}, "EX01")
    again = PSBag({"Name": "ex01", "Fqdn": "EX01.CONTOSO.LAB"}, "ex01")
    by_fqdn = PSBag({"Name": "EX01-OLD", "Fqdn": "Ex01.contoso.lab"}, "EX01-OLD")
    admitted = [selector.admit(item)[0] for item in (first, again, by_fqdn, "not a server")]
    assert [facts["name"] if facts else None for facts in admitted] == ["EX01", None, None, None]
    assert selector.listed == 4 and selector.problems == [
        "Get-ExchangeServer's object #4 is not a server object: 'not a server'"
    ]


def test_a_saved_inventory_keeps_the_discovery_problems(tmp_path: Path) -> None:
    from eems_check.inventory import inventory_from_document, inventory_to_document

    path = _lab_file(tmp_path, {"kind": "ad_error", "after": 1})
    with LabOrg(load_org(path), base_address="127.0.70.1") as lab:
        inventory = scan(lab_options(lab))
    again = inventory_from_document(json.loads(json.dumps(inventory_to_document(inventory))), "saved.json")
    assert again.org == dataclasses.replace(inventory.org)


class _Unprintable:
    def __str__(self) -> str:
        raise ValueError("a value that cannot be shown")


def test_one_unreadable_object_is_a_problem_and_the_rest_are_collected(
    demo_lab: LabOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    from eems_check.collect.plain import PSBag

    scan_module = importlib.import_module("eems_check.collect.scan")  # the package's `scan` is the function

    real = scan_module.exchange_facts

    def facts(bag: PSBag) -> dict[str, Any]:
        if str(bag) == "EX2019B":
            return real(PSBag({**bag, "ServerRole": _Unprintable()}, str(bag)))
        return real(bag)

    monkeypatch.setattr(scan_module, "exchange_facts", facts)
    inventory = scan(lab_options(demo_lab, sites=("Amsterdam",)))
    assert [s.name for s in inventory.servers] == ["EX2016A", "EX2016B", "EX2019A"]
    assert inventory.org.discovery_problems == (
        "Get-ExchangeServer's object 'EX2019B' could not be read: a value that cannot be shown",
    )
