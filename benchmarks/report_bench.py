"""The HTML report and the mail for a synthetic organisation: sizes, and how soon headless Chromium paints the
report's overview. Prints medians over several page loads.

    .venv/bin/python benchmarks/report_bench.py [--servers 1000] [--runs 7] [--mail-sizes 12,100,1000,5000]

Goals (issue 12): the overview of a 1,000-server report painted within 1 s; the mail's HTML part under Gmail's
~102 KB clipping limit at any organisation size.

"Overview painted" is measured in the page: an observer installed before the report loads notes when the parser
has inserted the heading after the overview table (so the whole table is in the document), then waits for the
next animation frame, which Chromium runs just before it paints. The time is from the start of navigation. The
`load` event (the whole report parsed and laid out) is printed beside it. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
from pathlib import Path

from eems_check.evaluate import evaluate
from eems_check.mail.message import render_html
from eems_check.mail.settings import MailSettings
from eems_check.render import Format
from eems_check.ruleset import load_ruleset

sys.path.insert(0, str(Path(__file__).parent))
from evaluate_bench import synthetic

CHROMIUM = "/usr/bin/chromium"
NOW = dt.datetime(2026, 11, 27, 7, 0, tzinfo=dt.timezone.utc)
GMAIL_CLIP = 102 * 1024
WATCH_OVERVIEW = """
window.__overviewPainted = new Promise(resolve => {
  const done = () => requestAnimationFrame(() => resolve(performance.now()));
  const seen = () => document.getElementById('details');
  if (seen()) { done(); return; }
  new MutationObserver((_, observer) => { if (seen()) { observer.disconnect(); done(); } })
    .observe(document, {childList: true, subtree: true});
});
"""


def paint_times(path: Path, runs: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    overview, load = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for _ in range(runs + 1):  # the first load warms the disk cache and the browser; it is not counted
            page = browser.new_page(viewport={"width": 1366, "height": 768})
            page.add_init_script(WATCH_OVERVIEW)
            page.goto(path.as_uri(), wait_until="load")
            overview.append(page.evaluate("window.__overviewPainted"))
            load.append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventStart"))
            page.close()
        browser.close()
    return overview[1:], load[1:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--mail-sizes", default="12,100,1000,5000")
    args = parser.parse_args()
    ruleset = load_ruleset()
    report = evaluate(synthetic(args.servers), ruleset, today=NOW.date(), generated_at=NOW)
    html = Format.HTML.renderer().render(report)
    with tempfile.TemporaryDirectory(prefix="eems-bench-") as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(html, encoding="utf-8")
        overview, load = paint_times(path, args.runs)
    size = len(html.encode())
    print(f"servers: {args.servers}, page loads: {args.runs} (after one warm-up), headless Chromium at 1366 px")
    print(f"  HTML report: {size / 1e6:.2f} MB ({size / args.servers / 1e3:.1f} KB per server)")
    print(
        f"  overview painted: median {statistics.median(overview):7.0f} ms   min {min(overview):7.0f} ms   "
        f"goal 1000 ms -> ratio {statistics.median(overview) / 1000:.2f}"
    )
    print(f"  load event:       median {statistics.median(load):7.0f} ms   min {min(load):7.0f} ms")

    settings = MailSettings(mail_to=("ops@contoso.com",), mail_from="eems@contoso.com", smtp_host="smtp.contoso.com")
    print(f"  mail HTML part (goal < {GMAIL_CLIP} bytes, Gmail's clipping limit):")
    for n in (int(x) for x in args.mail_sizes.split(",")):
        org = evaluate(synthetic(n), ruleset, today=NOW.date(), generated_at=NOW)
        part = render_html(org, settings, "scanhost", ([], []))
        size = len(part.encode())
        print(f"    {n:5d} servers: {size:7d} bytes -> ratio {size / GMAIL_CLIP:.2f}")


if __name__ == "__main__":
    main()
