"""Regular expressions that run in linear time, for ``grep`` and ``glob``.

A backtracking engine such as Python's ``re`` can take exponential time on a
pattern like ``(a+)+$``, and while it runs inside C code it holds the GIL:
tau would hang and ignore Ctrl+C and SIGTERM. The patterns here are compiled
with RE2 (``google-re2``), whose matching time is linear in the text whatever
the pattern. Its syntax is Python's without lookaround and backreferences;
``\\A``, ``\\Z`` and ``\\z`` mean the start and end of a line here, as they did
when grep matched one line at a time.

``google-re2`` is imported on first use (about 4 ms), not when tau starts.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

from tau_engine.errors import ToolError

SYNTAX_HINT = (
    "grep uses RE2 syntax, which always runs in linear time: no lookahead, "
    "lookbehind or backreferences"
)


class LinearRegex(Protocol):
    """The part of a compiled RE2 pattern tau uses."""

    def search(self, text: Any, pos: int = ...) -> Any: ...

    def match(self, text: Any) -> Any: ...


def _re2() -> Any:
    import re2  # type: ignore[import-untyped]

    return re2


def _options(*, one_line: bool) -> Any:
    options = _re2().Options()
    options.log_errors = False  # RE2 would print parse errors on stderr, over the app
    options.never_nl = one_line
    return options


def _error_text(exc: Exception) -> str:
    message = exc.args[0] if exc.args else str(exc)
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _line_anchors(pattern: str) -> str:
    """Python's ``\\A``/``\\Z`` (and RE2's ``\\z``) as ``^``/``$``: one line is the subject."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern):
            escaped = pattern[i + 1]
            out.append({"A": "^", "Z": "$", "z": "$"}.get(escaped, char + escaped))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def compile_line_pattern(pattern: str, tool: str = "grep") -> LinearRegex:
    """A pattern matched within single lines of a file's bytes (``^``/``$`` at each line).

    Raises ``ToolError`` naming what RE2 could not accept.
    """
    re2 = _re2()
    try:
        compiled: LinearRegex = re2.compile(
            "(?m)" + _line_anchors(pattern), _options(one_line=True)
        )
    except re2.error as exc:
        raise ToolError(
            f"{tool}: invalid regular expression {pattern!r}: {_error_text(exc)} "
            f"({SYNTAX_HINT}; escape ( [ . and other special characters with a "
            "backslash to match them literally)"
        ) from exc
    return compiled


def compile_path_pattern(regex: str, glob: str) -> LinearRegex:
    """A glob's translation (a regex over '/'-separated paths); ``ToolError`` if invalid."""
    re2 = _re2()
    try:
        compiled: LinearRegex = re2.compile(regex, _options(one_line=False))
    except re2.error as exc:
        raise ToolError(f"invalid glob pattern {glob!r}: {_error_text(exc)}") from exc
    return compiled


def matching_lines(regex: LinearRegex, data: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, line without its newline) of each line of ``data`` that matches.

    One pass over the whole text: RE2 finds the next match, and the search goes on
    from the line after it.
    """
    line_number = 1
    counted_to = 0
    pos = 0
    size = len(data)
    while pos < size:
        found = regex.search(data, pos)
        if found is None:
            return
        start = found.start()
        line_start = data.rfind(b"\n", 0, start) + 1
        line_number += data.count(b"\n", counted_to, line_start)
        counted_to = line_start
        line_end = data.find(b"\n", start)
        if line_end == -1:
            line_end = size
        yield line_number, data[line_start:line_end]
        pos = line_end + 1
