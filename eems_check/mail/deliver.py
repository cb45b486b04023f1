"""The two calls the command line makes: mail a report just written, or mail a report saved earlier.

What it does: `deliver` applies alerts-only, builds the message with the written files attached and sends it;
`send_saved_report` reads a saved JSON report, renders its HTML and CSV again (into a temporary folder, or beside
the JSON when asked) and delivers those with the JSON itself.

What it must not do: write the run's reports (the CLI has already written them, so a mail failure loses nothing),
evaluate rules, or print: it returns a one-line summary for the CLI to show.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..model import Report, Severity
from ..outputs import write_text_atomic
from ..render import Format
from ..report_io import read_report
from .message import build_message
from .settings import MailSettings, should_send
from .smtp import send

ATTACHMENT_ORDER = (Format.HTML, Format.JSON, Format.CSV)  # what ops open first goes first (and fits first)


def deliver(
    report: Report, written: dict[Format, Path], settings: MailSettings, fail_on: Severity | None
) -> str | None:
    """Mail `report` with the files in `written` attached. Returns a one-line account of what was sent, or None
    when alerts-only suppressed the mail (nothing reached `fail_on`; None means `--fail-on never`, see
    `settings.alert_threshold`). Raises MailError (exit code 4) when it cannot be sent."""
    if not should_send(report, settings, fail_on):
        return None
    files = {written[fmt].name: written[fmt] for fmt in ATTACHMENT_ORDER if fmt in written}
    message = build_message(report, files, settings)
    result = send(message, settings)
    attached = [p.get_filename() for p in message.iter_attachments()]
    retried = " after one retry" if result.attempts > 1 else ""
    return (
        f"Mailed {message['Subject']!r} to {', '.join(result.accepted)} via {settings.endpoint} "
        f"({settings.security.value}){retried}; attached: {', '.join(n for n in attached if n) or 'nothing'}"
    )


def render_beside(report: Report, json_path: Path, folder: Path) -> dict[Format, Path]:
    """HTML and CSV of `report` written into `folder` with the JSON's name stem, plus the JSON itself."""
    written = {Format.JSON: json_path}
    for fmt in (Format.HTML, Format.CSV):
        path = folder / f"{json_path.stem}.{fmt.value}"
        write_text_atomic(path, fmt.renderer().render(report))
        written[fmt] = path
    return written


def send_saved_report(
    path: Path, settings: MailSettings, fail_on: Severity | None = Severity.ERROR, *, beside: bool = False
) -> str | None:
    """`eems-check send REPORT.json`: mail a saved report with freshly rendered HTML and CSV. With `beside`, the
    HTML and CSV are written next to the JSON and kept; otherwise they live in a temporary folder for the send.
    The findings are the saved ones: nothing is evaluated again. Returns what `deliver` returns."""
    report = read_report(path)
    if not should_send(report, settings, fail_on):
        return None
    if beside:
        return deliver(report, render_beside(report, path, path.parent), settings, fail_on)
    with tempfile.TemporaryDirectory(prefix="eems-check-mail-") as tmp:
        return deliver(report, render_beside(report, path, Path(tmp)), settings, fail_on)
