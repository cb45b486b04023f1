"""The `eems-check rules update` subcommand: `add_arguments(parser)` and `run(args) -> int`.

The lead's CLI adds `--rules` (the rules to compare with) and the common options; `run` reads `args.rules`,
`args.quiet` and `args.verbose` when they exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..display import visible
from ..ruleset import load_ruleset
from .report import format_diff
from .update import update_rules


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `rules update` (all but `--rules` and the common ones) to `parser`."""
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="FILE",
        help="Microsoft's ExchangeBuildNumbers.csv (microsoft/Get-ExchangeBuildNumber) or a saved copy of the Learn "
        "page 'Exchange Server build numbers and release dates' (HTML); read locally, never downloaded",
    )
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="the override rules file to write (default: rules-import-YYYYMMDD.yaml in the current directory)",
    )
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--dry-run", action="store_true", help="print the differences, write nothing")
    parser.add_argument(
        "--skip-bad-rows",
        action="store_true",
        help="leave malformed rows out and report them instead of stopping at the first one",
    )


def run(args: argparse.Namespace) -> int:
    """Import, print the differences, write the override; 0 on success (errors raise, exit code 2 or 3)."""
    base = load_ruleset(getattr(args, "rules", None) or [])
    result = update_rules(
        args.source,
        base=base,
        output=args.output,
        force=args.force,
        write=not args.dry_run,
        strict=not args.skip_bad_rows,
    )
    if not getattr(args, "quiet", False):
        print(visible(format_diff(result, verbose=bool(getattr(args, "verbose", False))), one_line=False))
    return 0
