"""The `scan:` section of `--config FILE`: everything a scheduled `eems-check scan` needs, in the file beside `mail:`.

What it does: reads the section (keys spelled like the flags, `_` or `-`), checks each value and fills the parsed
arguments where the command line left the flag at its default, so flags win. A scheduled task then runs
`eems-check scan --config FILE` and nothing else. Errors name the file, line and key: `task.yaml:7: scan.auth: ...`.

What it must not do: take a password (it comes from the environment or the keyring, as for the flags), or scan.
"""

from __future__ import annotations

import argparse
import difflib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .config_file import read_section
from .errors import InputError
from .yamlload import LList

# Config key -> (attribute on the parsed args, kind). Lists take one value or a YAML list.
_KEYS: dict[str, tuple[str, str]] = {
    "discovery_server": ("discovery_server", "text"),
    "servers": ("server", "list"),
    "sites": ("site", "list"),
    "roles": ("role", "list"),
    "auth": ("auth", "choice"),
    "username": ("username", "text"),
    "password_env": ("password_env", "text"),
    "https": ("https", "bool"),
    "ca_bundle": ("ca_bundle", "path"),
    "output_dir": ("output_dir", "path"),
    "save_inventory": ("save_inventory", "path"),
    "probe_ocs": ("probe_ocs", "bool"),
    "get_mitigations": ("get_mitigations", "bool"),
    "http_check": ("http_check", "bool"),
    "max_events": ("max_events", "int"),
    "event_days": ("event_days", "int"),
    "max_log_lines": ("max_log_lines", "int"),
    "fail_on": ("fail_on", "choice"),
}
_ALIASES = {
    "server": "servers",
    "site": "sites",
    "role": "roles",
    "output": "output_dir",
    "output_folder": "output_dir",
}
_FORBIDDEN = ("password", "pass", "secret")


def apply_scan_config(
    args: argparse.Namespace, default_of: Callable[[str], Any], choices: Mapping[str, Sequence[str]]
) -> None:
    """Fill `args` from the `scan:` section of `args.config` where the flag still has its default (`default_of`);
    `choices` lists the allowed values of the choice flags (auth, fail_on) as the parser has them."""
    path: Path | None = getattr(args, "config", None)
    if path is None:
        return
    section = read_section(path, "scan")
    if section is None:
        return
    for raw_key, value in section.items():
        line = section.line_of(raw_key)
        where = f"{path}:{line}: scan.{raw_key}"
        key = _ALIASES.get(str(raw_key).replace("-", "_"), str(raw_key).replace("-", "_"))
        if key in _FORBIDDEN:
            raise InputError(f"{where}: a password does not belong in a file; name its variable with password_env")
        if key not in _KEYS:
            close = difflib.get_close_matches(key, [*_KEYS, *_ALIASES], n=1)
            hint = f"did you mean {close[0]}?" if close else f"known: {', '.join(_KEYS)}"
            raise InputError(f"{where}: unknown setting ({hint})")
        attr, kind = _KEYS[key]
        if not hasattr(args, attr):
            raise InputError(f"{where}: not a setting of this command")
        if getattr(args, attr) != default_of(attr):
            continue  # the command line gave it: flags win
        setattr(args, attr, _value(value, kind, where, path, raw_key, tuple(choices.get(attr, ()))))


def _value(value: Any, kind: str, where: str, path: Path, key: Any, choices: tuple[str, ...]) -> Any:
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputError(f"{where}: must be true or false, not {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"{where}: must be a whole number from 0, not {value!r}")
        return value
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            at = f"{path}:{value.line_of(i)}: scan.{key}[{i}]" if isinstance(value, LList) else where
            out.append(_text(item, at))
        if not out:
            raise InputError(f"{where}: empty list")
        return out
    text = _text(value, where)
    if kind == "choice":
        lowered = text.lower()
        if lowered not in choices:
            raise InputError(f"{where}: must be one of {', '.join(choices)}, not {value!r}")
        return lowered
    if kind == "path":
        return (path.parent / Path(text).expanduser()).resolve()  # relative to the config file, not the cwd
    return text


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{where}: must be a non-empty text, not {value!r}")
    if any(c in value for c in "\r\n\0"):
        raise InputError(f"{where}: must be one line")
    return value.strip()
