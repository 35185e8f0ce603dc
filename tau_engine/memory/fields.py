"""What a memory write may hold: namespaces, tags, subject keys, text and reasons.

Every value is cleaned the same way whoever writes it (the model, the CLI, an import),
and a value that cannot be used fails with a ``MemoryInputError`` saying what a good
one looks like, so a model can correct its call from the message alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tau_engine.errors import UsageError

DEFAULT_NAMESPACE = "project"
MAX_TEXT_CHARS = 2_000
MAX_NAMESPACE_CHARS = 80
MAX_NAMESPACE_DEPTH = 6
MAX_TAGS = 12
MAX_TAG_CHARS = 32
MAX_SUBJECT_CHARS = 80
MAX_REASON_CHARS = 300

_SEGMENT = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_TAG = re.compile(r"[^\W_][\w.+#-]*")


class MemoryInputError(UsageError):
    """A memory write's field is not usable; the message says what would be."""


def clean_text(text: str, *, keep_newlines: bool = True) -> str:
    """``text`` without control characters (tabs and, if kept, newlines stay) and lone
    surrogates (they cannot be stored as UTF-8), stripped."""
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            continue
        if (ch == "\n" and keep_newlines) or ch == "\t":
            out.append(ch)
        elif code < 0x20 or 0x7F <= code < 0xA0:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out).strip()


def memory_text(text: str) -> str:
    """The text of an entry: non-empty, at most ``MAX_TEXT_CHARS`` characters."""
    cleaned = clean_text(text)
    if not cleaned:
        raise MemoryInputError(
            "the memory text is empty: write one fact, decision or preference in a sentence or two"
        )
    if len(cleaned) > MAX_TEXT_CHARS:
        raise MemoryInputError(
            f"the memory text is {len(cleaned):,} characters; an entry holds at most "
            f"{MAX_TEXT_CHARS:,}: keep one fact per entry and split longer notes"
        )
    return cleaned


def namespace_path(value: str | None) -> str:
    """A namespace path such as ``project/build``: lowercase words joined by ``/``."""
    if value is None or not value.strip():
        return DEFAULT_NAMESPACE
    raw = clean_text(value, keep_newlines=False).lower().strip("/")
    segments = [segment for segment in raw.split("/") if segment]
    if (
        not segments
        or len(segments) > MAX_NAMESPACE_DEPTH
        or not all(_SEGMENT.fullmatch(s) for s in segments)
        or len("/".join(segments)) > MAX_NAMESPACE_CHARS
    ):
        raise MemoryInputError(
            f"namespace {value[:100]!r} is not a namespace path: use up to "
            f"{MAX_NAMESPACE_DEPTH} lowercase words (letters, digits, '-', '_', '.') joined "
            "by '/', e.g. 'project/build' or 'user/preferences'"
        )
    return "/".join(segments)


def namespace_prefix(value: str | None) -> str | None:
    """A namespace filter (``None`` for all)."""
    if value is None or not value.strip() or value.strip() == "/":
        return None
    return namespace_path(value)


def tag_list(value: str | Iterable[str] | None) -> tuple[str, ...]:
    """Tags from a list or a comma/space separated string: lowercase, ``#`` dropped,
    duplicates removed, in the order given."""
    if value is None:
        return ()
    items = re.split(r"[,\s]+", value) if isinstance(value, str) else list(value)
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise MemoryInputError(
                f'tag {item!r} is not a string: pass tags as a list of words, e.g. ["build", "ci"]'
            )
        tag = clean_text(item, keep_newlines=False).lower().lstrip("#")
        if not tag:
            continue
        if len(tag) > MAX_TAG_CHARS or not _TAG.fullmatch(tag):
            raise MemoryInputError(
                f"tag {item[:60]!r} is not a tag: use one word of letters and digits (also "
                f"'-', '_', '.', '+', '#' after the first), at most {MAX_TAG_CHARS} "
                'characters, e.g. "build" or "c++"'
            )
        if tag not in tags:
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise MemoryInputError(f"{len(tags)} tags given; an entry has at most {MAX_TAGS}")
    return tuple(tags)


def subject_key(value: str | None) -> str | None:
    """A subject key (``test command``): lowercase, spaces collapsed; ``None`` if blank."""
    if value is None:
        return None
    key = " ".join(clean_text(value, keep_newlines=False).lower().split())
    if not key:
        return None
    if len(key) > MAX_SUBJECT_CHARS:
        raise MemoryInputError(
            f"the subject key is {len(key)} characters; use a short "
            f"name for the topic (at most {MAX_SUBJECT_CHARS}), e.g. "
            '"test command"'
        )
    return key


def retire_reason(value: str | None) -> str:
    """Why an entry is retired: a short non-empty line."""
    reason = " ".join(clean_text(value or "", keep_newlines=False).split())
    if not reason:
        raise MemoryInputError(
            'say why the entry is retired (a short reason, e.g. "the build moved to make")'
        )
    return reason[:MAX_REASON_CHARS]


def entry_id(value: object) -> int:
    """An entry id from ``12``, ``"12"`` or ``"#12"``."""
    if isinstance(value, bool):
        raise MemoryInputError(f"{value!r} is not a memory id: pass the number, e.g. 12")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("#").isdigit():
        number = int(value.strip().lstrip("#"))
    else:
        raise MemoryInputError(
            f"{str(value)[:40]!r} is not a memory id: pass the number shown as #12, e.g. 12"
        )
    if not 1 <= number < 2**63:
        raise MemoryInputError(f"{number} is not a memory id: ids are numbers from 1 up")
    return number
