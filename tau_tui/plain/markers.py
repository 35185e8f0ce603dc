"""``tau status`` markers: one sorted ``control_plane.PATH=VALUE`` line per JSON leaf.

A script greps them, so a value never holds a space, a newline, ``=`` or anything outside
printable ASCII: those bytes (and ``%``) are written ``%XX`` (UTF-8), as in a URL. A missing
value is ``none``; a string that *is* "none" is written ``%6Eone``, an empty string ``""``
and a literal ``"`` as ``%22``, so every value reads back to one JSON leaf. Key segments are
escaped the same way, plus ``.`` (a memory namespace is the user's text). Lists are indexed
(``jobs.recent.0.id``); an empty list or object is ``[]`` or ``{}``.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

PREFIX = "control_plane"
_SAFE_VALUE = frozenset(chr(c) for c in range(0x21, 0x7F)) - {"%", "=", '"'}
_SAFE_KEY = _SAFE_VALUE - {"."}


def _escape(text: str, safe: frozenset[str]) -> str:
    if all(ch in safe for ch in text):
        return text
    return "".join(ch if ch in safe else "".join(f"%{b:02X}" for b in ch.encode()) for ch in text)


def escape_value(value: object) -> str:
    """One JSON leaf as a marker value."""
    if value is None:
        return "none"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[]"
    if isinstance(value, dict):
        return "{}"
    text = str(value)
    if text == "":
        return '""'
    if text == "none":
        return "%6Eone"
    return _escape(text, _SAFE_VALUE)


def escape_key(key: object) -> str:
    """One path segment (a field name, a list index or a user's namespace)."""
    text = str(key)
    return _escape(text, _SAFE_KEY) if text else '""'


def leaves(data: object, path: str = PREFIX) -> Iterator[tuple[str, object]]:
    """Every leaf of ``data`` with its dotted, escaped path (empty containers are leaves)."""
    if isinstance(data, dict) and data:
        for key, value in data.items():
            yield from leaves(value, f"{path}.{escape_key(key)}")
    elif isinstance(data, list | tuple) and data:
        for index, value in enumerate(data):
            yield from leaves(value, f"{path}.{index}")
    else:
        yield path, data


def marker_lines(data: dict[str, object]) -> list[str]:
    """The sorted ``PATH=VALUE`` lines of the snapshot's JSON."""
    return sorted(f"{path}={escape_value(value)}" for path, value in leaves(data))
