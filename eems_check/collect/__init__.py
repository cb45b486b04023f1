"""Remote collection: discover an Exchange organisation and collect each server over PowerShell Remoting.

Public API: `scan(options, progress=None) -> Inventory`, `ScanOptions`, the CLI glue (`add_scan_arguments`,
`options_from_args`, `ProgressPrinter`) and the discovery errors. Only `remoting` imports pypsrp.
"""

from .cli_args import ProgressPrinter, add_scan_arguments, options_from_args
from .collector import Bounds
from .options import ScanOptions
from .scan import DiscoveryAuthError, DiscoveryError, ProgressCallback, scan

__all__ = [
    "Bounds",
    "DiscoveryAuthError",
    "DiscoveryError",
    "ProgressCallback",
    "ProgressPrinter",
    "ScanOptions",
    "add_scan_arguments",
    "options_from_args",
    "scan",
]
