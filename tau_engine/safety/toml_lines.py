"""Where each key and list item of a TOML document sits: the line numbers behind "from FILE:LINE".

``tomllib`` gives values, not positions. Safety data must explain itself (a refusal names the
file and line of the rule that decided it), so this scans the text once and records the line of
every ``key = value`` under its table (``[shell]``, ``[[rule]]``), and of every string item of a
multi-line array. It understands the TOML that tau's own profile and permission files use
(bare or quoted keys, tables, arrays of tables, arrays of strings); for anything fancier the
lookup falls back to the line of the nearest enclosing key, which is still the right place to
look.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.errors import ConfigError

_TABLE = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_.-]+)\s*=\s*(.*)$""")
_STRING = re.compile(r""""((?:[^"\\]|\\.)*)"|'([^']*)'""")


def _unquote_key(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        return raw[1:-1]
    return raw


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value came from: a file (as shown to users) and a 1-based line, if known."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


def display_path(path: Path) -> str:
    """A path as users see it in messages: relative to the current folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


@dataclass
class LineIndex:
    """Line numbers of keys (dotted, with ``[[table]]`` entries numbered) and list items."""

    keys: dict[str, int] = field(default_factory=dict)
    items: dict[tuple[str, str], int] = field(default_factory=dict)

    def key_line(self, dotted: str) -> int | None:
        """The line of ``dotted`` or, failing that, of its nearest enclosing key or table."""
        parts = dotted.split(".")
        while parts:
            line = self.keys.get(".".join(parts))
            if line is not None:
                return line
            parts.pop()
        return None

    def item_line(self, dotted: str, item: str) -> int | None:
        """The line of the string ``item`` in the array at ``dotted`` (else the key's line)."""
        return self.items.get((dotted, item)) or self.key_line(dotted)


def index_lines(text: str) -> LineIndex:
    """Scan ``text`` once and return the line of every key, table and string list item."""
    index = LineIndex()
    table = ""
    counters: dict[str, int] = {}
    open_array: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0] if '"' not in line and "'" not in line else line
        if open_array is not None:
            for match in _STRING.finditer(stripped):
                value = match.group(1) if match.group(1) is not None else match.group(2)
                index.items.setdefault((open_array, value), number)
            if "]" in _STRING.sub("", stripped):
                open_array = None
            continue
        header = _TABLE.match(line)
        if header:
            name = ".".join(_unquote_key(p) for p in header.group(2).split("."))
            if header.group(1) == "[[":
                position = counters.get(name, 0)
                counters[name] = position + 1
                name = f"{name}.{position}"
            table = name
            index.keys.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if not key:
            continue
        dotted = ".".join(p for p in (table, _unquote_key(key.group(1))) if p)
        index.keys.setdefault(dotted, number)
        rest = key.group(2)
        if rest.lstrip().startswith("["):
            for match in _STRING.finditer(rest):
                value = match.group(1) if match.group(1) is not None else match.group(2)
                index.items.setdefault((dotted, value), number)
            if "]" not in _STRING.sub("", rest):
                open_array = dotted
    return index


def toml_error_where(message: str, text: str) -> tuple[int, str]:
    """The line and the reason of a ``tomllib`` error message (3.11 has no ``lineno``)."""
    found = re.search(r"line (\d+)", message)
    if found:
        line = int(found.group(1))
    else:  # "at end of document": the last line
        line = max(1, text.count("\n") + (0 if text.endswith("\n") else 1))
    reason = re.sub(r"\s*\((at line \d+, column \d+|at end of document)\)", "", message)
    return line, reason


def load_toml_text(text: str, shown: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes ``ConfigError('FILE:LINE: invalid TOML: …')``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line, reason = toml_error_where(str(exc), text)
        raise ConfigError(f"{shown}:{line}: invalid TOML: {reason}") from exc
