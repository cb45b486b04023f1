"""Renderers: one module per output format, registered here. A new format is one module and one line.

A renderer turns a `Report` into text; it never writes files or prints. The CLI chooses where the text goes.
"""

from __future__ import annotations

from enum import Enum
from typing import Protocol

from ..model import Report


class Renderer(Protocol):
    def render(self, report: Report) -> str: ...


class Format(str, Enum):
    HTML = "html"
    JSON = "json"
    CSV = "csv"

    def renderer(self) -> Renderer:
        from . import csv_report, html_report, json_report

        renderers: dict[Format, type[Renderer]] = {
            Format.HTML: html_report.HtmlRenderer,
            Format.JSON: json_report.JsonRenderer,
            Format.CSV: csv_report.CsvRenderer,
        }
        return renderers[self]()
