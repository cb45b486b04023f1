"""The report mail as a MIME message: shape, subject, headers, attachments, the Outlook-safe HTML and its size."""

from __future__ import annotations

import dataclasses
import email
import re
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml

from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.mail.message import HTML_BUDGET, build_message
from eems_check.mail.settings import MailSettings
from eems_check.model import Report
from eems_check.render import Format
from eems_check.ruleset import RuleSet

from ..conftest import FIXTURES, GENERATED, TODAY
from .conftest import ARTIFACTS, MAIL_FIXTURES, big_report, make_report, make_server

SETTINGS = MailSettings(
    mail_to=("ops@contoso.com", "Exchange Admins <exadmins@contoso.com>"),
    mail_from="EEMS check <eems-check@contoso.com>",
    smtp_host="smtp.contoso.com",
    reply_to="exchange-team@contoso.com",
)
STATUS_WORDS = {"PASS", "ERROR", "WARNING", "CRITICAL", "INFO", "UNKNOWN", "N/A", "YES", "NO"}


def attachments_of(written: dict[Format, Path]) -> dict[str, Path]:
    return {written[f].name: written[f] for f in (Format.HTML, Format.JSON, Format.CSV)}


def roundtrip(msg: EmailMessage) -> EmailMessage:
    """What a receiving server would parse: the message as bytes on the wire, parsed back."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def html_part(msg: EmailMessage) -> str:
    body = msg.get_body(("html",))
    assert body is not None
    return str(body.get_content())


def text_part(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


class Cells(HTMLParser):
    """Every <td> with its attributes and text (header cells are left out), and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[dict[str, str], str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self._open: dict[str, str] | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag == "td":
            self._open, self._text = a, ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._open is not None:
            self.cells.append((self._open, self._text.strip()))
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text += data


def parse_cells(html: str) -> Cells:
    p = Cells()
    p.feed(html)
    return p


def test_message_has_the_documented_mime_shape(sample_report: Report, written: dict[Format, Path]) -> None:
    msg = roundtrip(build_message(sample_report, attachments_of(written), SETTINGS, host="scanhost"))
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in parts[0].iter_parts()] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts[0].iter_parts()] == ["utf-8", "utf-8"]
    attached = [(p.get_content_type(), p.get_filename(), p.get_content_disposition()) for p in parts[1:]]
    assert attached == [
        ("text/html", written[Format.HTML].name, "attachment"),
        ("application/json", written[Format.JSON].name, "attachment"),
        ("text/csv", written[Format.CSV].name, "attachment"),
    ]
    for part, fmt in zip(parts[1:], (Format.HTML, Format.JSON, Format.CSV), strict=True):
        assert part.get_payload(decode=True) == written[fmt].read_bytes()


def test_headers_name_sender_recipients_and_suppress_auto_replies(
    sample_report: Report, written: dict[Format, Path]
) -> None:
    msg = roundtrip(build_message(sample_report, attachments_of(written), SETTINGS, host="scanhost"))
    assert [a.addr_spec for a in msg["To"].addresses] == ["ops@contoso.com", "exadmins@contoso.com"]
    assert msg["From"].addresses[0].addr_spec == "eems-check@contoso.com"
    assert msg["Reply-To"].addresses[0].addr_spec == "exchange-team@contoso.com"
    assert re.fullmatch(r"<[^@<>\s]+@contoso\.com>", str(msg["Message-ID"]))
    assert msg["Date"].datetime is not None
    assert msg["Auto-Submitted"] == "auto-generated" and msg["X-Auto-Response-Suppress"] == "All"
    no_reply = dataclasses.replace(SETTINGS, reply_to=None)
    assert build_message(sample_report, {}, no_reply)["Reply-To"] is None


def test_sample_subject_counts_servers_that_cannot_receive_mitigations(sample_report: Report) -> None:
    msg = build_message(sample_report, {}, SETTINGS)
    # EX16-22A, EX19-12A fail Mar 2023; five more fail only Jun 2026; EX13-01 has no EEMS at all (EEMS-PRESENT
    # fails at error level); EDGE01 is Edge Transport (N/A).
    assert msg["Subject"] == (
        "[ERROR] Exchange EEMS check (Contoso): 8 of 12 servers cannot receive new EEMS mitigations; 11 ERROR"
    )


SUBJECT_CASES = yaml.safe_load((MAIL_FIXTURES / "subject-cases.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", SUBJECT_CASES, ids=[c["name"] for c in SUBJECT_CASES])
def test_subject_carries_worst_status_and_counts(case: dict[str, Any]) -> None:
    extra = case.get("extra", {})
    servers = [
        make_server(name, rules, extra=tuple(extra.get(name, ())), categories=case.get("categories"))
        for name, rules in case["servers"].items()
    ]
    msg = roundtrip(build_message(make_report(servers, org=case.get("org", "Contoso")), {}, SETTINGS))
    # .strip(): CPython folds a subject that fits on a line of its own as "Subject:\r\n [OK] ..." and its parser
    # keeps that leading space; mail clients drop it.
    assert msg["Subject"].strip() == case["subject"]
    assert msg["Bcc"] is None  # nothing in the report can add a header


def test_text_part_has_status_counts_and_one_line_per_server_needing_action(sample_report: Report) -> None:
    text = text_part(build_message(sample_report, {}, SETTINGS))
    lines = text.splitlines()
    assert lines[0] == "ERROR: Exchange EEMS check (Contoso): 8 of 12 servers cannot receive new EEMS mitigations."
    assert "Servers: 12 (0 \u203c CRITICAL, 11 \u2716 ERROR, 0 \u25b2 WARNING, 0 \u2139 INFO, 1 \u2714 PASS)" in lines
    server_lines = [line for line in lines if re.match(r"^  \S (NO|YES|UNKNOWN|N/A) +\S", line)]
    assert len(server_lines) == 11  # every server but EXSE01
    assert not any("EXSE01" in line for line in server_lines)
    groups = [line for line in lines if line.endswith("):") and not line.startswith(" ")]
    assert groups == [
        "\u2716 Cannot receive new EEMS mitigations (8):",
        "\u25b2 Other problems (they receive mitigations, or it cannot be told) (3):",
    ]
    assert server_lines[0].startswith("  \u2716 NO       EX16-22A (New York): Exchange 2016 CU22 Nov22SU")
    assert "EEMS cannot fetch mitigations: the build is older than the March 2023 SU" in server_lines[0]
    assert "Fix: Start MSExchangeMitigation and set it to Automatic;" in server_lines[0]
    assert "install Exchange SE RTM Jun26SU (15.2.2562.43, KB5094139) or newer." in server_lines[0]
    assert "  EX19-14A: No fix for CVE-2026-42897; its mitigation M2 is blocked" in lines  # the exposed servers
    assert "Mitigations: applied PING1; blocked M2" in next(line for line in server_lines if "EX19-14A" in line)
    assert "&amp;" not in text and "<" not in text  # plain text, not escaped HTML


def test_html_is_outlook_safe_with_bgcolor_and_inline_style_on_every_status_cell(sample_report: Report) -> None:
    html = html_part(build_message(sample_report, {}, SETTINGS))
    parsed = parse_cells(html)
    tags = {t for t, _ in parsed.tags}
    assert not tags & {"script", "style", "link", "img", "iframe", "form", "div"}
    assert html.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in html
    coloured = [(a, t) for a, t in parsed.cells if "bgcolor" in a]
    status = [(a, t) for a, t in parsed.cells if t.split(" ")[-1] in STATUS_WORDS and len(t.split(" ")) <= 3]
    assert len(status) >= 11 + 5  # 11 servers' "Receives new mitigations?" answers, plus the counts row
    for attrs, text in status:
        assert "bgcolor" in attrs, text  # colour survives a dropped style attribute
    for attrs, text in coloured:
        bg = attrs["bgcolor"]
        assert re.fullmatch(r"#[0-9A-F]{6}", bg)
        assert f"background-color:{bg}" in attrs["style"], text  # the inlined style says the same
        assert "font-family:" in attrs.get("style", ""), text  # css-inline put the stylesheet on the cell
    for tag, attrs in parsed.tags:
        if tag == "a":
            assert attrs["href"].startswith("https://")
        assert "rgb(" not in attrs.get("style", "") and "var(" not in attrs.get("style", "")


def test_status_words_ride_along_with_colours(sample_report: Report) -> None:
    cells = parse_cells(html_part(build_message(sample_report, {}, SETTINGS))).cells
    by_colour: dict[str, set[str]] = {}
    for attrs, text in cells:
        if "bgcolor" in attrs and 0 < len(text.split(" ")) <= 3:
            by_colour.setdefault(attrs["bgcolor"], set()).add(text.split(" ")[-1])
    assert by_colour["#FF0000"] <= {"ERROR", "NO"}
    assert by_colour["#7FFF00"] <= {"PASS", "YES"}
    assert by_colour.get("#FFE600", set()) <= {"UNKNOWN", "WARNING"}


def test_hostile_values_are_escaped_and_cut_in_the_mail(ruleset: RuleSet) -> None:
    report = evaluate(
        read_inventory(FIXTURES / "inventories" / "hostile.json"), ruleset, today=TODAY, generated_at=GENERATED
    )
    msg = build_message(report, {}, SETTINGS)
    html = html_part(msg)
    assert "<script>alert(" not in html and "<img src=x" not in html
    assert "A" * 161 not in html  # long values are cut in the summary; the attachment keeps them whole
    assert "\n" not in str(msg["Subject"])


def test_attachments_over_the_limit_are_named_not_attached(sample_report: Report, written: dict[Format, Path]) -> None:
    small = dataclasses.replace(SETTINGS, max_attachment_bytes=written[Format.HTML].stat().st_size + 1)
    msg = roundtrip(build_message(sample_report, attachments_of(written), small, host="scanhost"))
    assert [p.get_filename() for p in msg.iter_attachments()] == [written[Format.HTML].name]
    text = text_part(msg)
    for fmt in (Format.JSON, Format.CSV):
        assert f"{written[fmt].name} (" in text and f"saved at {written[fmt]} on scanhost" in text
    assert "NOT attached" in text and "not attached" in html_part(msg)


def test_a_500_server_mail_lists_the_first_50_and_says_the_rest_are_attached() -> None:
    report = big_report(500)
    msg = build_message(report, {}, SETTINGS)
    html = html_part(msg)
    rows = [t for a, t in parse_cells(html).cells if t.startswith("EXMBX-")]
    assert len(rows) == 50
    assert "and 350 more servers needing action." in html  # 400 of 500 need action (one pattern in five is clean)
    assert "The attached report lists all 500 servers" in html
    assert "... and 200 more; the attached report lists all 500 servers." in text_part(msg)  # text lists 200


def test_html_stays_under_budget_even_when_asked_for_every_server() -> None:
    report = big_report(500, name_length=60)
    html = html_part(build_message(report, {}, dataclasses.replace(SETTINGS, list_limit=500)))
    assert len(html.encode()) <= HTML_BUDGET
    assert "more servers needing action" in html


def test_mail_sizes_stay_under_gmail_clipping(sample_report: Report, written: dict[Format, Path]) -> None:
    """Measures the HTML part for the sample org and a 500-server org; both must stay under 100 KB."""
    sizes = {}
    for name, report, files in (
        ("sample org (12 servers)", sample_report, attachments_of(written)),
        ("synthetic org (500 servers)", big_report(500), {}),
    ):
        msg = build_message(report, files, SETTINGS)
        html = html_part(msg).encode()
        text = text_part(msg).encode()
        sizes[name] = (len(html), len(text), len(msg.as_bytes()))
        assert len(html) < 100_000, name
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [
        f"{n}: HTML part {h} bytes, text part {t} bytes, whole message {w} bytes" for n, (h, t, w) in sizes.items()
    ]
    (ARTIFACTS / "mail-sizes.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def test_changes_since_the_previous_report_are_in_both_parts() -> None:
    from eems_check.diff import compare

    now = big_report(15)
    changes = compare(big_report(12), now, old_label="last-week.json")
    msg = build_message(dataclasses.replace(now, changes=changes), {}, SETTINGS)
    line = "Changes since 2026-11-27 07:00 UTC: 3 servers added."
    assert line in text_part(msg).splitlines()
    html = html_part(msg)
    assert "Changes since 2026-11-27 07:00 UTC</p>" in html  # the report's changes section, mail variant
    assert html.index("Changes since") < html.index("Why, and the fix")  # before the server list
