"""Reading the files a user names: regular files only, within a size cap, and quoting what they hold safely.

Shared by every reader (inventories, saved reports, rules, the mail config, downloaded build lists), so that a
FIFO, `/dev/zero` or a 10 MB value behaves the same everywhere: one line naming the file, never a hang.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from .errors import InputError

MIB = 1024 * 1024
JSON_LIMIT = 512 * MIB  # a 5,000-server JSON report is about 32 MB
YAML_LIMIT = 8 * MIB  # the bundled rules are about 40 KB
CONFIG_LIMIT = 1 * MIB
SHOWN = 60  # characters of a value an error message quotes


def shown(value: object, limit: int = SHOWN) -> str:
    """`repr(value)`, shortened to about `limit` characters (an error line quotes values, never whole files)."""
    text = repr(value) if not isinstance(value, str) or len(value) <= limit * 4 else repr(value[: limit * 4])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown_path(where: str, limit: int = 120) -> str:
    """A field path for an error line, its middle elided when a key is huge."""
    return where if len(where) <= limit else where[: limit // 2] + "..." + where[-(limit // 2) :]


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_regular(path: Path, *, limit: int, error: type[InputError] = InputError) -> bytes:
    """The bytes of `path`, which must be a regular file (after symbolic links) of at most `limit` bytes.

    Opened without blocking, so a FIFO is refused instead of waiting for a writer that never comes; the size is
    checked on the open file and the read stops one byte past the cap, so a growing file cannot slip past it.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # before fdopen, which refuses a folder with an exception of its own
        os.close(fd)
        raise error(f"{path}: is {_kind(info.st_mode)}, not a regular file")
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > limit:
            raise error(f"{path}: is {_size(info.st_size)}, more than the {_size(limit)} this file may have")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise error(f"{path}: is more than the {_size(limit)} this file may have")
    return data


def _size(n: int) -> str:
    return f"{n / MIB:.1f} MB" if n >= MIB else f"{n} bytes"
