"""Reading one TOML settings file, with errors that name the file and the line.

Its own module so that settings, profiles and the credentials file all read TOML the
same way without importing each other.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from pathlib import Path
from typing import Any

from tau_engine.errors import ConfigError


def display_path(path: Path) -> str:
    """``path`` relative to the current folder where it is inside it (shorter messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _read_regular(path: Path) -> str:
    """The file's text, refusing anything but a regular file.

    A workspace's ``.tau/config.toml`` is untrusted: a named pipe planted there would block
    a plain ``open`` for ever (every ``tau`` run in that folder hung), and a device could be
    read without end. Opened non-blocking, then checked on the open descriptor (no race).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    with open(fd, "rb", closefd=True) as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file")
        return handle.read().decode("utf-8")


def read_toml(path: Path) -> dict[str, Any]:
    """Read one TOML file; a syntax error names the file and line."""
    try:
        text = _read_regular(path)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display_path(path)}: cannot read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        line = re.search(r"line (\d+)", msg)
        if line:
            where = f":{line.group(1)}"
        else:  # "at end of document": the last line
            where = f":{max(1, text.count(chr(10)) + (0 if text.endswith(chr(10)) else 1))}"
        reason = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", msg)
        raise ConfigError(f"{display_path(path)}{where}: invalid TOML: {reason}") from exc
