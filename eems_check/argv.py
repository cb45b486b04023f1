"""Command-line helpers shared by the scan and mail flags."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any


class RefusedSecretFlag(argparse.Action):
    """Claims a flag such as `--password` and refuses it, without echoing what was typed.

    Without it argparse would read `--password x` as an abbreviation of `--password-env` (taking the password as a
    variable name, and maybe echoing it in an error). `advice` says where the secret comes from instead.
    """

    def __init__(self, option_strings: Sequence[str], dest: str, *, advice: str, **kwargs: Any) -> None:
        kwargs.setdefault("nargs", "?")
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)
        self.advice = advice

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        flag = option_string or self.option_strings[0]
        raise argparse.ArgumentError(
            self, f"there is no {flag} flag (argv is visible to every local user): {self.advice}"
        )
