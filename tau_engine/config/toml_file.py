"""Reading one TOML settings file, with errors that name the file and the line.

Its own module so that settings, profiles and the credentials file all read TOML the
same way without importing each other.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from tau_engine.errors import ConfigError
from tau_engine.regular_file import read_regular_bytes


def display_path(path: Path) -> str:
    """``path`` relative to the current folder where it is inside it (shorter messages)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_toml(path: Path) -> dict[str, Any]:
    """Read one TOML file; a syntax error names the file and line."""
    try:
        text = read_regular_bytes(path).decode("utf-8")
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
