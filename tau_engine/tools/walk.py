"""Walking the workspace for glob and grep, and glob patterns as regular expressions.

The walk skips ``JUNK_DIRS`` below the folder it starts from, never follows a
symlinked folder, and leaves out symlinked files that point outside the
workspace, so a search cannot read what the workspace guard would refuse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from tau_engine.tools.fileio import JUNK_DIRS

_GLOB_CHARS = frozenset("*?[{")


def has_glob_chars(text: str) -> bool:
    return any(char in _GLOB_CHARS for char in text)


def _expand_braces(pattern: str) -> list[str]:
    """``a.{py,pyi}`` -> ``a.py``, ``a.pyi`` (nested braces too)."""
    depth = 0
    start = -1
    for i, char in enumerate(pattern):
        if char == "{":
            if depth == 0:
                start = i
            depth += 1
        elif char == "}" and depth:
            depth -= 1
            if depth == 0:
                options, level, begin = [], 0, start + 1
                for j in range(start + 1, i):
                    if pattern[j] == "{":
                        level += 1
                    elif pattern[j] == "}":
                        level -= 1
                    elif pattern[j] == "," and level == 0:
                        options.append(pattern[begin:j])
                        begin = j + 1
                options.append(pattern[begin:i])
                head, tail = pattern[:start], pattern[i + 1:]
                return [expanded for option in options
                        for expanded in _expand_braces(head + option + tail)]
    return [pattern]


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 2)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1:end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex matching '/'-separated relative paths against a glob.

    ``*`` and ``?`` stay within one folder, ``**`` as a whole segment spans any
    number of folders (none included), ``[abc]`` and ``{a,b}`` work as in shells.
    """
    alternatives = []
    for expanded in _expand_braces(pattern):
        parts: list[str] = []
        segments = [s for s in expanded.split("/") if s not in ("", ".")]
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            if segment == "**":
                parts.append(".*" if last else "(?:[^/]+/)*")
            else:
                parts.append(_segment_regex(segment) + ("" if last else "/"))
        alternatives.append("".join(parts))
    return re.compile("^(?:" + "|".join(alternatives) + ")$")


def walk_files(root: Path, start: Path) -> Iterator[Path]:
    """Every file under ``start`` in a stable order, skipping junk folders and escaping links."""
    for folder, dirnames, filenames in os.walk(start):
        dirnames[:] = sorted(d for d in dirnames if d not in JUNK_DIRS)
        for name in sorted(filenames):
            path = Path(folder, name)
            if path.is_symlink():
                target = path.resolve()
                if target != root and root not in target.parents:
                    continue
            if path.is_file():  # not a FIFO, socket or device, which would block a read
                yield path
