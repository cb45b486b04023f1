"""Reports: a golden JSON report, escaping of hostile strings, and every server in every output."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from pathlib import Path

import pytest

from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.render import Format
from eems_check.ruleset import RuleSet

from .conftest import FIXTURES, GENERATED, TODAY

SAMPLE = Path(__file__).parents[1] / "eems_check" / "data" / "sample-inventory.json"
GOLDEN = FIXTURES / "golden" / "sample-report.json"


def render(ruleset: RuleSet, inventory: Path, fmt: Format) -> str:
    report = evaluate(read_inventory(inventory), ruleset, today=TODAY, generated_at=GENERATED)
    return fmt.renderer().render(report)


def test_json_report_matches_the_golden_file(ruleset: RuleSet) -> None:
    text = render(ruleset, SAMPLE, Format.JSON)
    if os.environ.get("EEMS_UPDATE_GOLDEN"):
        GOLDEN.write_text(text, encoding="utf-8")
    assert json.loads(text) == json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.mark.parametrize("fmt", list(Format))
def test_every_server_appears_in_every_output(ruleset: RuleSet, fmt: Format) -> None:
    text = render(ruleset, SAMPLE, fmt)
    for name in ("EXSE01", "EX19-12B", "EDGE01", "EX13-01", "EX16-22A"):
        assert name in text


def test_csv_has_one_row_per_server_and_overview_columns(ruleset: RuleSet) -> None:
    rows = list(csv.DictReader(io.StringIO(render(ruleset, SAMPLE, Format.CSV))))
    assert len(rows) == 12
    by_name = {r["server"]: r for r in rows}
    assert by_name["EX19-12A"]["EEMS Mar 2023"] == "ERROR"  # one word per severity: no FAIL beside ERROR
    assert by_name["EX19-12B"]["EEMS Mar 2023"] == "UNKNOWN"
    assert by_name["EXSE01"]["worst_severity"] == "OK"
    # the fix per server: Exchange SE RTM Jun26SU is the lowest build meeting the June 2026 rule (KB5094139)
    assert (by_name["EX19-12A"]["fix_build"], by_name["EX19-12A"]["fix_kb"]) == ("15.2.2562.43", "KB5094139")
    assert by_name["EX19-12A"]["receives_new_mitigations"] == "no"
    assert by_name["EX19-12A"]["why"].startswith("EEMS cannot fetch mitigations")
    assert (by_name["EXSE01"]["receives_new_mitigations"], by_name["EXSE01"]["fix"]) == (
        "yes",
        "Nothing to install or change.",
    )


def test_html_is_self_contained_with_anchors_and_links(ruleset: RuleSet) -> None:
    html = render(ruleset, SAMPLE, Format.HTML)
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//[^"']*\.(css|js|png|svg|woff)""", html)
    assert "<link" not in html
    assert 'id="server-ex19-12a"' in html and 'href="#server-ex19-12a"' in html
    assert '<a href="https://aka.ms/HelpConnectivityEEMS">' in html
    assert "rules 2026.11.27 (as of 2026-11-27)" in html


def test_hostile_strings_are_escaped_everywhere(ruleset: RuleSet) -> None:
    hostile = FIXTURES / "inventories" / "hostile.json"
    html = render(ruleset, hostile, Format.HTML)
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(" in html
    assert "<img src=x" not in html
    assert "R&amp;D" in html and "&#34;quoted&#34;" in html
    assert "A" * 5000 in html  # long values are kept whole, not cut mid-entity


# What a spreadsheet runs as a formula when a cell starts with it (OWASP, "CSV Injection").
FORMULA_LEADS = ["=", "+", "-", "@", "\t", "\r"]
FORMULA_CELLS = FIXTURES / "inventories" / "formula-cells.json"
# CSV column -> the inventory field it shows; each holds a formula-led value in the fixture.
INVENTORY_TEXT_COLUMNS = {
    "server": "name",
    "fqdn": "fqdn",
    "site": "site",
    "roles": "roles",
    "http_version": "http_version",
}


def csv_rows(ruleset: RuleSet, inventory: Path) -> list[dict[str, str]]:
    # newline="" keeps a carriage return inside a quoted cell, as a spreadsheet reads it
    return list(csv.DictReader(io.StringIO(render(ruleset, inventory, Format.CSV), newline="")))


@pytest.mark.parametrize("lead", FORMULA_LEADS, ids=repr)
def test_csv_cell_that_would_start_a_formula_is_opened_with_a_quote(ruleset: RuleSet, lead: str) -> None:
    servers = json.loads(FORMULA_CELLS.read_text(encoding="utf-8"))["servers"]
    planted = next(s for s in servers if s["name"].startswith(lead))
    row = next(r for r in csv_rows(ruleset, FORMULA_CELLS) if r["server"].endswith(planted["name"]))
    for column, field in INVENTORY_TEXT_COLUMNS.items():
        value = planted[field][0] if field == "roles" else planted[field]
        assert row[column] == "'" + value, column


@pytest.mark.parametrize(
    "inventory",
    [FORMULA_CELLS, FIXTURES / "inventories" / "hostile.json", SAMPLE],
    ids=["formula-cells", "hostile", "sample"],
)
def test_no_csv_cell_starts_with_a_formula_character(ruleset: RuleSet, inventory: Path) -> None:
    rows = csv_rows(ruleset, inventory)
    assert rows
    for row in rows:
        for column, cell in row.items():
            assert not cell.startswith(tuple(FORMULA_LEADS)), (column, cell)


@pytest.mark.parametrize("inventory", [SAMPLE, FIXTURES / "inventories" / "hostile.json"], ids=["sample", "hostile"])
def test_json_renderer_writes_exactly_the_report_document(ruleset: RuleSet, inventory: Path) -> None:
    from eems_check.render.json_report import report_to_document

    report = evaluate(read_inventory(inventory), ruleset, today=TODAY, generated_at=GENERATED)
    assert json.loads(Format.JSON.renderer().render(report)) == report_to_document(report)


def test_every_output_lists_the_servers_in_one_order(ruleset: RuleSet) -> None:
    """Cannot receive new mitigations first, then other problems, then the rest: the same in the JSON, the CSV,
    the HTML overview, its sections and Fix first, and the mail."""
    from eems_check.mail.message import render_text
    from eems_check.mail.settings import MailSettings

    report = evaluate(read_inventory(SAMPLE), ruleset, today=TODAY, generated_at=GENERATED)
    expected = [s.server.name for s in report.servers]
    assert [s.group for s in report.servers] == sorted(s.group for s in report.servers)
    assert expected[:3] == ["EX16-22A", "EX19-12A", "EX19-12B"] and expected[-1] == "EXSE01"
    doc = json.loads(Format.JSON.renderer().render(report))
    assert [r["server"] for r in doc["results"]] == expected
    assert [r["server"] for r in csv.DictReader(io.StringIO(Format.CSV.renderer().render(report)))] == expected
    html = Format.HTML.renderer().render(report)
    overview = html[html.index('id="overview-table"') : html.index('id="details"')]
    assert re.findall(r'<td data-label="Server:" data-sort="([^"]+)"', overview) == expected
    sections = re.findall(r'<section class="server" id="[^"]+">\s*<h3>([^ <]+) ', html)
    assert sections == expected
    fix_first = re.findall(r'<a class="server" href="#[^"]+">([^<]+)</a>', html)
    assert fix_first == [s.server.name for s in report.servers if s.group < 2]
    settings = MailSettings(mail_to=("ops@contoso.com",), mail_from="e@contoso.com", smtp_host="smtp.contoso.com")
    mail = render_text(report, settings, "scanhost", ([], []))
    listed = re.findall(r"^  \S+ (?:NO|YES|UNKNOWN|N/A) +(\S+)", mail, flags=re.M)
    assert listed == fix_first


def test_servers_that_cannot_receive_mitigations_come_first_even_when_another_is_worse() -> None:
    from eems_check.model import BuildSource, Collection, CollectionStatus, Inventory, OrgInfo, ServerRecord
    from eems_check.ruleset import load_ruleset

    ruleset = load_ruleset([FIXTURES / "rules" / "collection-critical.yaml"])
    unreachable = ServerRecord(
        name="A-UNREACHABLE",
        admin_display_version="Version 15.2 (Build 2562.17)",
        build_source=BuildSource.ADMIN_DISPLAY_VERSION,
        collection=Collection(CollectionStatus.UNREACHABLE, "connection refused"),
    )
    too_old = ServerRecord(name="B-TOO-OLD", exsetup_version="15.2.2562.41", build_source=BuildSource.EXSETUP)
    inventory = Inventory(OrgInfo("O", True), (unreachable, too_old))
    report = evaluate(inventory, ruleset, today=TODAY, generated_at=GENERATED)
    assert [(s.server.name, s.receives, s.worst.value) for s in report.servers] == [
        ("B-TOO-OLD", "no", "error"),
        ("A-UNREACHABLE", "unknown", "critical"),
    ]


def test_among_servers_with_other_problems_the_worst_comes_first(ruleset: RuleSet) -> None:
    # A-WARN: SE Aug26SU, one update behind (warning); B-ERR: 2019 CU15 past its last ESU period (error); both
    # still receive mitigations. C-FINE: SE Sep26SUv2, nothing to fix. Names sort the other way on purpose.
    inventory = read_inventory(FIXTURES / "inventories" / "other-problems.json")
    report = evaluate(inventory, ruleset, today=TODAY, generated_at=GENERATED)
    assert [s.server.name for s in report.servers] == ["B-ERR", "A-WARN", "C-FINE"]
    rows = csv_rows(ruleset, FIXTURES / "inventories" / "other-problems.json")
    assert [r["server"] for r in rows] == ["B-ERR", "A-WARN", "C-FINE"]


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>x</script>", "JAVASCRIPT:x", "//evil"])
def test_a_saved_report_with_a_non_web_link_is_re_rendered_without_a_live_link(url: str) -> None:
    # `send` and `--compare-to` re-render saved reports, which anyone may have edited: only http(s) is a link.
    from eems_check.render.html_report import HtmlRenderer
    from eems_check.report_io import report_from_document

    doc = json.loads(GOLDEN.read_text(encoding="utf-8"))
    finding = next(f for r in doc["results"] for f in r["findings"] if f.get("remediation"))
    finding["remediation"]["url"] = url
    for result in doc["results"]:
        if result.get("fix", {}).get("build"):
            result["fix"]["build"]["release_post"] = url
    html = HtmlRenderer().render(report_from_document(doc, "edited.json"))
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs and not [h for h in hrefs if not h.startswith(("https://", "http://", "#"))]


def test_an_interrupted_scans_inventory_says_so_in_the_report_and_the_mail(ruleset: RuleSet) -> None:
    import dataclasses

    from eems_check.mail.message import build_message
    from eems_check.mail.settings import MailSettings
    from eems_check.render.html_report import HtmlRenderer

    why = "interrupted (Ctrl+C) after 9 of 13 servers"
    inventory = dataclasses.replace(read_inventory(SAMPLE), incomplete=why)
    report = evaluate(inventory, ruleset, today=TODAY, generated_at=GENERATED)
    html = HtmlRenderer().render(report)
    assert "This scan did not finish" in html and why in html
    settings = MailSettings(mail_to=("ops@contoso.com",), mail_from="eems@contoso.com", smtp_host="127.0.0.1")
    message = build_message(report, {}, settings, host="admin01")
    parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
    assert len(parts) == 2 and all("did not finish" in p and why in p for p in parts)
