"""The report mail as a MIME message: a text and an Outlook-safe HTML summary, plus the reports as attachments.

What it does: `build_message` renders `templates/mail.txt.j2` and `templates/mail.html.j2`, inlines
`templates/mail.css` into style attributes with css-inline (never fetching anything), keeps the HTML part under
`HTML_BUDGET` by listing fewer servers if it must, and assembles

    multipart/mixed
    ├── multipart/alternative
    │   ├── text/plain   status, counts, one line per server needing action
    │   └── text/html    the same as tables with bgcolor + inline styles
    └── the report files (text/html, application/json, text/csv), each as an attachment

What it must not do: send, read settings from anywhere but `MailSettings`, or put the full report in the body
(Gmail clips HTML over ~102 KB; the detail lives in the attachments, which are also on disk).
"""

from __future__ import annotations

import mimetypes
import socket
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import css_inline

from ..errors import MailError
from ..history.views import trend_view
from ..model import Report
from ..render.html_report import environment
from .settings import MailSettings
from .summary import MailSummary, summarise

HTML_BUDGET = 95_000  # bytes of HTML; Gmail clips at ~102 KB and says "[Message clipped]"
TEXT_LIMIT = 200  # servers listed in the text part (plain text is small; the HTML part lists list_limit)
_TYPES = {
    ".html": ("text", "html", {"charset": "utf-8"}),
    ".htm": ("text", "html", {"charset": "utf-8"}),
    ".json": ("application", "json", {}),
    ".csv": ("text", "csv", {"charset": "utf-8", "header": "present"}),
}


@dataclass(frozen=True)
class Attachment:
    """One report file and whether it fits in the mail."""

    name: str
    path: Path
    bytes: int

    @property
    def size(self) -> str:
        return human_size(self.bytes)


def human_size(n: float) -> str:
    for unit in ("bytes", "KB", "MB"):
        if n < 1024 or unit == "MB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} MB"  # pragma: no cover - the loop returns at MB


def choose_attachments(files: dict[str, Path], limit: int) -> tuple[list[Attachment], list[Attachment]]:
    """(attached, omitted): files in the order given, each attached while the total stays within `limit` bytes."""
    attached: list[Attachment] = []
    omitted: list[Attachment] = []
    total = 0
    for name, path in files.items():
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise MailError(f"{path}: cannot read the report to attach it: {exc.strerror or exc}") from exc
        item = Attachment(name, path, size)
        if total + size <= limit:
            attached.append(item)
            total += size
        else:
            omitted.append(item)
    return attached, omitted


def inline_css(html: str) -> str:
    """Move the template's <style> rules into style attributes. Remote stylesheets are never loaded: the mail is
    built offline and a stray <link> must not become a request (or an SSRF) from the scanning host."""
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_link_tags=False, minify_css=True)
    out = inliner.inline(html)
    # html5ever drops the doctype; without it clients render in quirks mode (table font sizes differ).
    return out if out.lstrip().lower().startswith("<!doctype") else "<!DOCTYPE html>\n" + out


Files = tuple[list[Attachment], list[Attachment]]  # (attached, omitted)


def _context(m: MailSummary, report: Report, settings: MailSettings, host: str, files: Files) -> dict[str, Any]:
    attached, omitted = files
    return {
        "m": m,
        "run": report.run,
        "attached": attached,
        "omitted": omitted,
        "limit": human_size(settings.max_attachment_bytes),
        "host": host,
        "changes": report.changes,
        "changes_mail": True,
        "trend": trend_view(report.trend, mail=True),
    }


def render_text(report: Report, settings: MailSettings, host: str, files: Files) -> str:
    m = summarise(report, max(settings.list_limit, TEXT_LIMIT))
    return environment().get_template("mail.txt.j2").render(_context(m, report, settings, host, files))


def render_html(report: Report, settings: MailSettings, host: str, files: Files) -> str:
    """The inlined HTML summary, listing `settings.list_limit` servers, or fewer if that would pass the budget."""
    limit = settings.list_limit
    while True:
        m = summarise(report, limit)
        html = inline_css(environment().get_template("mail.html.j2").render(_context(m, report, settings, host, files)))
        if len(html.encode("utf-8")) <= HTML_BUDGET or limit == 0:
            return html
        limit //= 2  # long names or many rule columns: list fewer servers rather than be clipped


def subject_for(report: Report) -> str:
    """The subject line, e.g. `[ERROR] Exchange EEMS check (Contoso): 7 of 12 servers cannot receive
    mitigations, 1 undecided; 11 ERROR` or `[OK] ...: all 3 servers can receive mitigations`."""
    return summarise(report, 0).subject


def _mime_type(name: str) -> tuple[str, str, dict[str, str]]:
    suffix = Path(name).suffix.lower()
    if suffix in _TYPES:
        return _TYPES[suffix]
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    maintype, _, subtype = guessed.partition("/")
    return maintype, subtype, {}


def build_message(
    report: Report, attachments: dict[str, Path], settings: MailSettings, *, host: str | None = None
) -> EmailMessage:
    """The report mail. `attachments` maps the file name shown in the mail to the file on disk, attached in that
    order while their total stays within `settings.max_attachment_bytes` (the rest are named, with their path on
    this host, in both parts)."""
    host = host or socket.gethostname()
    files = choose_attachments(attachments, settings.max_attachment_bytes)
    msg = EmailMessage(policy=policy.SMTP)
    msg["Subject"] = subject_for(report)
    msg["From"] = settings.mail_from
    msg["To"] = ", ".join(settings.mail_to)
    if settings.reply_to:
        msg["Reply-To"] = settings.reply_to
    msg["Date"] = formatdate(localtime=True)
    domain = settings.envelope_from.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(idstring="eems-check", domain=domain)
    # A report is machine-sent: no out-of-office or auto-replies to it (RFC 3834; Exchange reads the X- header).
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    # Quoted-printable, never 8bit: an old internal relay without 8BITMIME would mangle "…" or "—".
    msg.set_content(render_text(report, settings, host, files), cte="quoted-printable")
    msg.add_alternative(render_html(report, settings, host, files), subtype="html", cte="quoted-printable")
    for item in files[0]:
        maintype, subtype, params = _mime_type(item.name)
        try:
            data = item.path.read_bytes()
        except OSError as exc:
            raise MailError(f"{item.path}: cannot read the report to attach it: {exc.strerror or exc}") from exc
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=item.name, params=params)
    return msg
