"""Read the plain subset of TOML that config files are written in, or say it cannot.

``tau status`` reads the user's ``config.toml`` (and a profile's, the trust file, the
workspace's) on every run, and importing ``tomllib`` (with ``typing``, ``string`` and
``contextlib``) costs it about a third of a bare interpreter's start-up. Most config
files are a few lines of ``key = "value"``, numbers, booleans, offset date-times (the
trust file's ``decided``), one-line arrays and ``[table]`` headers: ``loads_plain``
reads exactly those and returns None for anything
else, and the caller then reads the file with ``tomllib`` (``safety_view._toml``). It
never guesses: a line outside the subset, a key defined twice, a table opened twice or
a character it does not expect all return None, so every file it accepts is one
``tomllib`` accepts with the same result (a test compares the two over generated files).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_BARE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_DIGITS = frozenset("0123456789")
_MAX_INT_DIGITS = 18  # within TOML's 64-bit integers; longer ones go to tomllib


class _NotPlain(Exception):
    """The text is outside the subset (not necessarily invalid TOML)."""


def loads_plain(text: str) -> dict[str, Any] | None:
    """``text`` as ``tomllib.loads`` reads it, or None when it is outside the subset."""
    try:
        return _document(text)
    except _NotPlain:
        return None


def _document(text: str) -> dict[str, Any]:
    root: dict[str, Any] = {}
    table = root
    for line in text.replace("\r\n", "\n").split("\n"):
        # Tabs are TOML whitespace; anything else unprintable (control characters, a
        # lone CR, a BOM, bidi marks) is left to tomllib.
        if not line.replace("\t", " ").isprintable():
            raise _NotPlain
        rest = line.strip(" \t")
        if not rest or rest[0] == "#":
            continue
        if rest[0] == "[":
            table = _open_table(root, rest)
            continue
        key, at = _key(rest, 0)
        at = _skip_space(rest, at)
        if rest[at : at + 1] != "=" or key in table:
            raise _NotPlain
        value, at = _value(rest, _skip_space(rest, at + 1))
        _end(rest, at)
        table[key] = value
    return root


def _open_table(root: dict[str, Any], line: str) -> dict[str, Any]:
    """``[a.b]``: a new table (its parents made as needed); anything already there (a
    value, or a table defined before) is left to tomllib."""
    if line[1:2] == "[":
        raise _NotPlain  # arrays of tables
    parts: list[str] = []
    at = 1
    while True:
        part, at = _key(line, at)
        parts.append(part)
        if line[at : at + 1] != ".":
            break
        at += 1
    if line[at : at + 1] != "]":
        raise _NotPlain
    _end(line, at + 1)
    node = root
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _NotPlain
        node = child
    if parts[-1] in node:
        raise _NotPlain
    table: dict[str, Any] = {}
    node[parts[-1]] = table
    return table


def _key(line: str, at: int) -> tuple[str, int]:
    """A bare, "quoted" or 'literal' key (no escapes) starting at ``at``."""
    first = line[at : at + 1]
    if first in ('"', "'"):
        close = line.find(first, at + 1)
        if close < 0 or (first == '"' and "\\" in line[at + 1 : close]):
            raise _NotPlain
        return line[at + 1 : close], close + 1
    end = at
    while end < len(line) and line[end] in _BARE:
        end += 1
    if end == at:
        raise _NotPlain
    return line[at:end], end


def _skip_space(line: str, at: int) -> int:
    while line[at : at + 1] in (" ", "\t"):
        at += 1
    return at


def _end(line: str, at: int) -> None:
    """Only whitespace and a comment may follow."""
    at = _skip_space(line, at)
    if at < len(line) and line[at] != "#":
        raise _NotPlain


def _value(line: str, at: int) -> tuple[Any, int]:
    first = line[at : at + 1]
    if first == "[":
        return _array(line, at + 1)
    if first in ('"', "'"):
        close = line.find(first, at + 1)
        if close < 0 or (first == '"' and "\\" in line[at + 1 : close]):
            raise _NotPlain
        return line[at + 1 : close], close + 1
    if line[at : at + 1] in _DIGITS and line[at + 4 : at + 5] == "-":
        return _datetime(line, at)
    end = at
    while end < len(line) and line[end] not in " \t,]#":
        end += 1
    word = line[at:end]
    if word in ("true", "false"):
        return word == "true", end
    return _number(word), end


def _number(word: str) -> int | float:
    """A decimal integer or float with no underscores, leading zeros, inf or nan."""
    body = word[1:] if word[:1] in ("+", "-") else word
    mantissa, _, exponent = body.replace("E", "e").partition("e")
    whole, dot, fraction = mantissa.partition(".")
    if not whole or not set(whole) <= _DIGITS or (len(whole) > 1 and whole[0] == "0"):
        raise _NotPlain
    if dot and (not fraction or not set(fraction) <= _DIGITS):
        raise _NotPlain
    if "e" in body.lower():
        digits = exponent[1:] if exponent[:1] in ("+", "-") else exponent
        if not digits or not set(digits) <= _DIGITS:
            raise _NotPlain
    if dot or "e" in body.lower():
        return float(word)
    if len(whole) > _MAX_INT_DIGITS:
        raise _NotPlain
    return int(word)


def _datetime(line: str, at: int) -> tuple[Any, int]:
    """An offset date-time, ``1979-05-27 07:32:00.5+02:00`` or ``…Z``, with the limits
    tomllib's ``RE_DATETIME`` and ``datetime`` put on each field; a local date, time or
    date-time is left to tomllib. (By position, not a regex: compiling one costs more
    than the whole file's reading.)"""
    text = line[at:]
    if len(text) < 20 or text[4] + text[7] + text[13] + text[16] != "--::":
        raise _NotPlain
    fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if text[10] not in "Tt " or not set("".join(fields)) <= _DIGITS:
        raise _NotPlain
    end, micros = 19, 0
    if text[end] == ".":
        stop = end + 1
        while stop < len(text) and text[stop] in _DIGITS:
            stop += 1
        if not 1 < stop - end <= 7:
            raise _NotPlain
        micros, end = int(text[end + 1 : stop].ljust(6, "0")), stop
    from datetime import UTC, datetime, timedelta, timezone

    sign, offset = text[end : end + 1], text[end + 1 : end + 6]
    if sign in ("Z", "z"):
        zone, end = UTC, end + 1
    elif sign in ("+", "-") and len(offset) == 5 and offset[2] == ":":
        hours, minutes = offset[:2], offset[3:]
        if not set(hours + minutes) <= _DIGITS or int(hours) > 23 or int(minutes) > 59:
            raise _NotPlain
        direction = 1 if sign == "+" else -1
        zone = timezone(direction * timedelta(hours=int(hours), minutes=int(minutes)))
        end += 6
    else:
        raise _NotPlain
    if text[end : end + 1] in _DIGITS:
        raise _NotPlain
    try:
        year, month, day, hour, minute, second = (int(field) for field in fields)
        value = datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
    except ValueError:  # the 30th of February, hour 24
        raise _NotPlain from None
    return value, at + end


def _array(line: str, at: int) -> tuple[list[Any], int]:
    """A one-line array of plain values (no nested arrays), trailing comma allowed."""
    items: list[Any] = []
    while True:
        at = _skip_space(line, at)
        if line[at : at + 1] == "]":
            return items, at + 1
        if line[at : at + 1] == "[":
            raise _NotPlain
        item, at = _value(line, at)
        items.append(item)
        at = _skip_space(line, at)
        if line[at : at + 1] == ",":
            at += 1
        elif line[at : at + 1] != "]":
            raise _NotPlain
