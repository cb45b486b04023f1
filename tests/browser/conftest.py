"""Browser fixtures: one headless Debian Chromium per session, real reports on disk, and tabs that record
every request, console message, page error and dialog.

The tests need `/usr/bin/chromium` (CI installs it with apt) and Playwright's Python package; they never
download a browser. Without `/usr/bin/chromium` every test that opens a page is skipped, with the reason, except
in CI (`CI` set), where it fails.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest

from eems_check.diff import compare
from eems_check.evaluate import evaluate
from eems_check.inventory import read_inventory
from eems_check.model import Report
from eems_check.render import Format
from eems_check.ruleset import RuleSet

from ..conftest import FIXTURES, GENERATED, TODAY

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize

HERE = Path(__file__).parent
ARTIFACTS = HERE.parent / "artifacts"  # gitignored
SAMPLE = HERE.parents[1] / "eems_check" / "data" / "sample-inventory.json"
HOSTILE = FIXTURES / "inventories" / "hostile.json"
LOCAL_SCHEMES = ("file:", "data:", "about:")
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
NARROW: ViewportSize = {"width": 420, "height": 900}
Media = Literal["screen", "print"]
FIX_FIRST_LIMIT = 25  # the template lists at most this many servers under "Fix first"
A4_LANDSCAPE: ViewportSize = {"width": 1047, "height": 740}  # 277 x 190 mm at 96 px per inch: A4 less 10 mm margins
LAPTOP: ViewportSize = {"width": 1366, "height": 768}


# --- reports on disk -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    """A rendered HTML report and what the browser should find in it."""

    key: str
    path: Path
    org: str
    servers: tuple[str, ...]  # every server of the inventory, in report order
    fix_first: tuple[str, ...]  # the servers the "Fix first" list names, in order
    changes: bool  # has a "Changes since ..." section (--compare-to)

    @property
    def url(self) -> str:
        return self.path.as_uri()


def _report_file(key: str, report: Report, html: str | None, path: Path) -> ReportFile:
    if html is not None:
        path.write_text(html, encoding="utf-8")
    urgent = [s.server.name for s in report.servers if s.group < 2]  # cannot receive, then other problems
    return ReportFile(
        key=key,
        path=path,
        org=report.inventory.org.name,
        servers=tuple(s.server.name for s in report.servers),
        fix_first=tuple(urgent[:FIX_FIRST_LIMIT]),
        changes=report.changes is not None,
    )


def _render(key: str, inventory: Path, ruleset: RuleSet, folder: Path) -> ReportFile:
    report = evaluate(read_inventory(inventory), ruleset, today=TODAY, generated_at=GENERATED)
    return _report_file(key, report, Format.HTML.renderer().render(report), folder / f"{key}.html")


@pytest.fixture(scope="session")
def report_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser-reports")


@pytest.fixture(scope="session")
def sample_report(ruleset: RuleSet, report_folder: Path) -> ReportFile:
    """The bundled sample inventory (what `eems-check demo --offline` reports on)."""
    return _render("sample", SAMPLE, ruleset, report_folder)


@pytest.fixture(scope="session")
def hostile_report(ruleset: RuleSet, report_folder: Path) -> ReportFile:
    """Markup, quotes, formulas and a 5,000-character value in every field the report shows."""
    return _render("hostile", HOSTILE, ruleset, report_folder)


@pytest.fixture(scope="session")
def demo_scan_report(ruleset: RuleSet, tmp_path_factory: pytest.TempPathFactory) -> ReportFile:
    """`eems-check demo`: the CLI scans the simulated organisation on loopback and writes the report itself."""
    out = tmp_path_factory.mktemp("demo-scan")
    cmd = [sys.executable, "-m", "eems_check", "demo", "--today", TODAY.isoformat(), "-o", str(out), "-q"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    (html,) = out.glob("eems-report-*.html")
    report = evaluate(read_inventory(out / "inventory.json"), ruleset, today=TODAY, generated_at=GENERATED)
    return _report_file("demo-scan", report, None, html)


@pytest.fixture(scope="session")
def changes_report(ruleset: RuleSet, report_folder: Path) -> ReportFile:
    """The sample compared with a report of it from 2025-06-01 that lacked its last server (`--compare-to`):
    the "Changes since" section with new findings and an added server, linked to their sections."""
    inventory = read_inventory(SAMPLE)
    earlier = dt.datetime(2025, 6, 1, 7, 0, tzinfo=dt.timezone.utc)
    old = evaluate(
        dataclasses.replace(inventory, servers=inventory.servers[:-1]),
        ruleset,
        today=earlier.date(),
        generated_at=earlier,
    )
    new = evaluate(inventory, ruleset, today=TODAY, generated_at=GENERATED)
    changes = compare(old, new, old_label="old.json")
    assert changes.counts.added_servers == 1 and changes.counts.new_findings
    report = dataclasses.replace(new, changes=changes)
    return _report_file("changes", report, Format.HTML.renderer().render(report), report_folder / "changes.html")


@pytest.fixture(scope="session")
def trend_report(ruleset: RuleSet, report_folder: Path) -> ReportFile:
    """The last of 26 weekly runs of the sample organisation patched server by server (tests/history), recorded
    in a real history file: the "Remediation progress" section, with "Changes since" four runs before."""
    from ..history.halfyear import half_year
    from .trend import recorded_report

    report = recorded_report(half_year(ruleset), report_folder / "eems-history-Contoso.sqlite")
    return _report_file("trend", report, Format.HTML.renderer().render(report), report_folder / "trend.html")


REPORT_FIXTURES = {
    "sample": "sample_report",
    "demo-scan": "demo_scan_report",
    "hostile": "hostile_report",
    "changes": "changes_report",
    "trend": "trend_report",
}


@pytest.fixture(scope="session")
def report(request: pytest.FixtureRequest) -> ReportFile:
    """Parametrise indirectly with a key of REPORT_FIXTURES. Session scope makes pytest run the tests of one
    report together, so read-only tests can share a loaded page (see open_report)."""
    return request.getfixturevalue(REPORT_FIXTURES[request.param])


# --- the browser -------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(chromium: Browser) -> Browser:
    return chromium


@dataclass
class Tab:
    """A page showing a report, and everything it did since the report was (re)loaded."""

    page: Page
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    popups: list[str] = field(default_factory=list)
    media: Media = "screen"
    pristine: str | None = None  # the URL loaded for a read-only test, untouched since

    def reset(self) -> None:
        for log in (self.requests, self.console_errors, self.page_errors, self.dialogs, self.popups):
            log.clear()

    def emulate(self, media: Media) -> None:
        if self.media != media:
            self.page.emulate_media(media=media)
            self.media = media

    def non_local_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    def js(self, expression: str, arg: Any = None) -> Any:
        return self.page.evaluate(expression, arg)


def _new_tab(browser: Browser, javascript: bool) -> tuple[BrowserContext, Tab]:
    """A context (JavaScript on or off) whose every request is recorded; any request that is not
    file:/data:/about: is aborted, so a report that reaches for the network fails a test instead of waiting."""
    context = browser.new_context(java_script_enabled=javascript, viewport=DESKTOP, service_workers="block")
    page = context.new_page()
    tab = Tab(page)

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            tab.console_errors.append(f"{msg.text} @ {msg.location}")

    def on_dialog(dialog: Any) -> None:
        tab.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def route(r: Any) -> None:
        if r.request.url.startswith(LOCAL_SCHEMES):
            r.continue_()
        else:
            r.abort()

    context.on("request", lambda req: tab.requests.append(req.url))
    context.on("page", lambda p: tab.popups.append(p.url))
    context.route("**/*", route)
    page.on("console", on_console)
    page.on("pageerror", lambda exc: tab.page_errors.append(str(exc)))
    page.on("dialog", on_dialog)
    page.on("websocket", lambda ws: tab.requests.append(ws.url))
    return context, tab


@pytest.fixture(scope="session")
def _tabs(browser: Browser) -> Iterator[dict[bool, Tab]]:
    """One page with JavaScript and one without, reused by every test (a new page costs ~0.5 s)."""
    contexts, tabs = {}, {}
    for javascript in (True, False):
        contexts[javascript], tabs[javascript] = _new_tab(browser, javascript)
    yield tabs
    for context in contexts.values():
        context.close()


OpenReport = Callable[..., Tab]


@pytest.fixture
def open_report(_tabs: dict[bool, Tab]) -> OpenReport:
    """open_report(report, javascript=True, viewport=DESKTOP, media="screen", readonly=False) -> Tab showing the
    report from its file:// URL, with empty logs.

    The report is loaded afresh (going to the same URL again is a new navigation in Chromium: no filter text,
    sort order or scroll position carries over) unless the test says it only reads the page (`readonly=True`)
    and the page still shows that report untouched since another read-only test loaded it. Resizing and media
    emulation change no DOM state, so read-only tests may do them."""

    def _open(
        report_file: ReportFile,
        *,
        javascript: bool = True,
        viewport: ViewportSize = DESKTOP,
        media: Media = "screen",
        readonly: bool = False,
    ) -> Tab:
        tab = _tabs[javascript]
        if tab.page.viewport_size != viewport:
            tab.page.set_viewport_size(viewport)
        tab.emulate(media)
        tab.reset()
        if not (readonly and tab.pristine == report_file.url):
            tab.page.goto(report_file.url, wait_until="load")
        tab.pristine = report_file.url if readonly else None
        return tab

    return _open
