"""Errors of `eems-check rules update`: all are input errors (exit code 2) that print as one line.

Every message starts with the source file and, for a problem in one row, where the row is: `row N` for the CSV
(the header is row 1, as in a spreadsheet) or `table N (title), row N (line N)` for the saved Learn page.
"""

from __future__ import annotations

from ..errors import InputError


class SourceError(InputError):
    """A build list that cannot be imported."""


class SourceFormatError(SourceError):
    """The file is empty, not text, or neither Microsoft's CSV nor a saved Learn page."""


class SourceColumnError(SourceError):
    """A required column is missing (the CSV header, or the header row of a build table on the Learn page)."""


class SourceRowError(SourceError):
    """One row is malformed: bad build, bad date, a name without an Exchange version, missing cells."""


class OutputExistsError(InputError):
    """The output file exists and `--force` was not given."""
