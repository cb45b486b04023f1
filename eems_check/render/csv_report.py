"""The CSV report: one row per server, for spreadsheets and ticketing imports."""

from __future__ import annotations

import csv
import io

from ..display import visible
from ..model import Report
from .common import role_text, source_word, verdict_word

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    """Text safe to open in a spreadsheet: a leading formula character is neutralised, control and bidi
    characters are written visibly."""
    text = "" if value is None else visible(str(value), one_line=False)
    return "'" + text if text.startswith(_FORMULA_START) else text


class CsvRenderer:
    def render(self, report: Report) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        overview = report.run.overview_rules
        writer.writerow(
            [
                "server",
                "fqdn",
                "site",
                "roles",
                "version",
                "build",
                "build_source",
                "http_version",
                "released",
                "age_days",
                "eems_state",
                "receives_new_mitigations",
                "why",
                *[label for _, label in overview],
                "worst_severity",
                "collection_status",
                "fix",
                "fix_build",
                "fix_kb",
                "problems",
            ]
        )
        for s in report.servers:
            problems = "; ".join(f"{f.severity.word} {f.rule_id}: {f.message}" for f in s.problems)
            writer.writerow(
                [
                    _cell(v)
                    for v in (
                        s.server.name,
                        s.server.fqdn,
                        s.server.site,
                        role_text(s),
                        s.build.name,
                        s.build.number or "",
                        source_word(s),
                        s.server.http_version,
                        s.build.released,
                        s.build.age_days,
                        s.eems_state,
                        s.receives,
                        s.reason,
                        *[verdict_word(s.finding(rule_id)) for rule_id, _ in overview],
                        s.worst.word,
                        s.server.collection.status.value,
                        s.fix.text,
                        s.fix.build.number if s.fix.build else "",
                        (s.fix.build.kb or "") if s.fix.build else "",
                        problems,
                    )
                ]
            )
        return out.getvalue()
