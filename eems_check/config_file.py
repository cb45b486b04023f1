"""The `--config FILE` of a scheduled run: one YAML file, one section per part of eems-check (`mail:`, `scan:`).

What it does: reads the file once per caller, refuses an unknown top-level section (a typo such as `mial:` must not
silently turn a part off in a scheduled task) and hands back one section with the line of each key.

What it must not do: interpret a section (mail/settings.py and scan_config.py do) or hold secrets.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .inputfile import CONFIG_LIMIT, read_regular, shown
from .yamlload import LDict, YamlSyntaxError, load_located

# Top-level sections a config file may hold. A part of eems-check that adds a section adds it here.
CONFIG_SECTIONS = ("mail", "scan")


def read_section(path: Path, name: str) -> LDict | None:
    """The `name:` section of the config file at `path`, or None when the file has no such section."""
    raw = read_regular(path, limit=CONFIG_LIMIT)  # a FIFO or /dev/zero named as the config must not hang the run
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        doc = load_located(text)
    except YamlSyntaxError as exc:
        raise InputError(f"{path}:{exc.line}: {exc.problem}") from exc
    if doc is None:
        return None
    if not isinstance(doc, LDict):
        raise InputError(f"{path}:1: the config file must be a mapping of sections ({', '.join(CONFIG_SECTIONS)})")
    for key in doc:
        if key not in CONFIG_SECTIONS:
            raise InputError(
                f"{path}:{doc.line_of(key)}: unknown section {shown(key)} (known: {', '.join(CONFIG_SECTIONS)})"
            )
    section = doc.get(name)
    if section is None:
        return None
    if not isinstance(section, LDict):
        raise InputError(f"{path}:{doc.line_of(name)}: {name}: must be a mapping of settings")
    return section
