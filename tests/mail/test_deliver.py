"""What the CLI calls: `deliver` after the reports are written, and `send_saved_report` for a saved JSON."""

from __future__ import annotations

import dataclasses
import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from eems_check.errors import InventoryError, MailError
from eems_check.mail import deliver, send_saved_report
from eems_check.model import Report, Severity
from eems_check.render import Format
from eems_check.report_io import read_report

from ..conftest import FIXTURES
from .conftest import ServerFactory, big_report, make_report, make_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def received(server_messages: list[bytes]) -> EmailMessage:
    [raw] = server_messages
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_deliver_mails_the_written_reports_over_verified_starttls(
    smtp_server: ServerFactory, sample_report: Report, written: dict[Format, Path]
) -> None:
    server = smtp_server()
    summary = deliver(sample_report, written, server.settings, Severity.ERROR)
    assert summary is not None and "\n" not in summary
    assert summary.startswith(
        "Mailed '[ERROR] Exchange EEMS check (Contoso): 8 of 12 servers cannot receive new EEMS mitigations; "
        "11 ERROR' "
        f"to ops@contoso.com, exadmins@contoso.com via 127.0.0.1:{server.port} (starttls); attached: "
    )
    [got] = server.recorder.messages
    assert got.tls and got.authenticated
    msg = received([got.content])
    assert msg["Subject"].strip().startswith("[ERROR] Exchange EEMS check (Contoso): 8 of 12 servers")
    files = {p.get_filename(): (p.get_content_type(), p.get_payload(decode=True)) for p in msg.iter_attachments()}
    assert files == {
        written[Format.HTML].name: ("text/html", written[Format.HTML].read_bytes()),
        written[Format.JSON].name: ("application/json", written[Format.JSON].read_bytes()),
        written[Format.CSV].name: ("text/csv", written[Format.CSV].read_bytes()),
    }


def test_alerts_only_sends_nothing_when_nothing_reaches_the_threshold(
    smtp_server: ServerFactory, tmp_path: Path
) -> None:
    server = smtp_server()
    clean = make_report([make_server("EX01", {}), make_server("EX02", {"PRODUCT-SUPPORT": "fail/warning"})])
    quiet = dataclasses.replace(server.settings, alerts_only=True)
    assert deliver(clean, {}, quiet, Severity.ERROR) is None
    assert server.recorder.messages == []
    assert deliver(clean, {}, quiet, Severity.WARNING) is not None  # a lower threshold: mailed
    assert len(server.recorder.messages) == 1


def test_a_failed_send_is_a_mail_error_and_the_files_stay(
    smtp_server: ServerFactory, sample_report: Report, written: dict[Format, Path], tls: object
) -> None:
    server = smtp_server()
    wrong = dataclasses.replace(server.settings, password="not-it")
    with pytest.raises(MailError) as caught:
        deliver(sample_report, written, wrong, Severity.ERROR)
    assert caught.value.exit_code == 4 and "not-it" not in str(caught.value)
    assert all(p.is_file() for p in written.values())


def test_send_saved_report_re_renders_html_and_csv_and_leaves_no_files(
    smtp_server: ServerFactory, sample_report: Report, written: dict[Format, Path]
) -> None:
    server = smtp_server()
    json_path = written[Format.JSON]
    for fmt in (Format.HTML, Format.CSV):
        written[fmt].unlink()  # only the JSON is left, as when a report is mailed later from another host
    before = set(json_path.parent.iterdir())
    summary = send_saved_report(json_path, server.settings, Severity.ERROR)
    assert summary is not None and "8 of 12 servers cannot receive new EEMS mitigations" in summary
    assert set(json_path.parent.iterdir()) == before
    msg = received([server.recorder.messages[0].content])
    again = read_report(json_path)
    files = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert files == {
        f"{json_path.stem}.html": Format.HTML.renderer().render(again).encode(),
        json_path.name: json_path.read_bytes(),
        f"{json_path.stem}.csv": Format.CSV.renderer().render(again).encode(),
    }


def test_send_saved_report_can_keep_the_rendered_files_beside_the_json(
    smtp_server: ServerFactory, tmp_path: Path
) -> None:
    server = smtp_server()
    json_path = tmp_path / "fabrikam.json"
    json_path.write_text(Format.JSON.renderer().render(big_report(30)), encoding="utf-8")
    send_saved_report(json_path, server.settings, Severity.ERROR, beside=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fabrikam.csv", "fabrikam.html", "fabrikam.json"]


def test_send_saved_report_refuses_an_inventory(smtp_server: ServerFactory, tmp_path: Path) -> None:
    server = smtp_server()
    path = tmp_path / "inv.json"
    path.write_text('{"schema": "eems-check/inventory", "schema_version": 1}', encoding="utf-8")
    for inventory in (path, FIXTURES / "inventories" / "minimal.json"):  # with a schema id, and without one
        with pytest.raises(InventoryError, match="schema: this is an inventory, not a report"):
            send_saved_report(inventory, server.settings)
    assert server.recorder.messages == []
