"""Glob patterns as regular expressions over '/'-separated relative paths.

The translation is compiled with RE2 (``linear_regex``): a glob such as
``*a*a*a*a*a*a*b`` would make a backtracking engine take exponential time on a
long file name. Which files are looked at is ``workspace_files``' job.
"""

from __future__ import annotations

from tau_engine.tools.linear_regex import LinearRegex, compile_path_pattern

_GLOB_CHARS = frozenset("*?[{")


def _literal(char: str) -> str:
    """``char`` matched literally, in syntax both RE2 and Python accept."""
    if char.isalnum() or char == "_" or ord(char) > 127:
        return char
    if char.isprintable():
        return "\\" + char  # ASCII punctuation or space
    return f"\\x{ord(char):02x}"


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
                head, tail = pattern[:start], pattern[i + 1 :]
                return [
                    expanded
                    for option in options
                    for expanded in _expand_braces(head + option + tail)
                ]
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
                out.append(_literal(char))
            else:
                body = segment[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        else:
            out.append(_literal(char))
        i += 1
    return "".join(out)


def glob_regex(pattern: str) -> LinearRegex:
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
    return compile_path_pattern("^(?:" + "|".join(alternatives) + ")$", pattern)
