"""The scan history: every scan and evaluation of an organisation recorded in one SQLite file, so that a report
can say how remediation is going, which servers were left behind and since when.

Modules: `store` (the file: schema, migrations, append, read, prune), `trend` (runs reduced to the trend and
per-server facts), `views` (the trend laid out for the templates: SVG chart geometry, mail bars) and `command`
(the command-line options and `eems-check history`). Templates: `templates/_trend.html.j2` (report),
`_trend_mail.html.j2` and `_trend.txt.j2` (mail).
"""

from __future__ import annotations

from .store import APPLICATION_ID, SCHEMA_VERSION, History, HistoryError, open_history
from .trend import TREND_RUNS, Point, ServerTrend, Trend, build_trend

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "TREND_RUNS",
    "History",
    "HistoryError",
    "Point",
    "ServerTrend",
    "Trend",
    "build_trend",
    "open_history",
]
