"""The error hierarchy. Every error a user can cause prints as one line and maps to an exit code.

A failure on one server is never an exception: it is data in the inventory. Only what stops the whole run
(bad input, bad rules, a report that cannot be written, mail that cannot be sent) raises one of these.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Inventory


class EemsCheckError(Exception):
    """Base of every error the CLI reports as one line."""

    exit_code = 3


class InputError(EemsCheckError):
    """Bad usage or input: a file, field or value the user supplied is wrong."""

    exit_code = 2


class RulesError(InputError):
    """A rules file is malformed; the message names the file and line."""


class InventoryError(InputError):
    """An inventory or report document is malformed; the message names the file and field."""


class BuildParseError(InputError):
    """A string is not an Exchange build number in any known spelling."""


class RunError(EemsCheckError):
    """The run itself failed (cannot write output, cannot start a service)."""

    exit_code = 3


class MailError(EemsCheckError):
    """The report was written but could not be mailed."""

    exit_code = 4


class ScanInterrupted(KeyboardInterrupt):
    """Ctrl+C during a scan, carrying what was collected so far (marked incomplete) for the CLI to save."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__("scan interrupted")
        self.inventory = inventory
