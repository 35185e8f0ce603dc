"""What SQLite's failures mean for the user, in one line each, and damaged stores.

A database SQLite reports as malformed (or as not a database at all) is
*damaged*: this process then stops writing to it, every later write is
refused before it reaches SQLite, and the message says what to do. A
database the user may not write gets "no write permission on ...". Busy and
locked stores name the other process as the cause.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tau_engine.errors import StoreDamagedError, StoreError, TauError

RECOVER_COMMAND = "tau sessions recover"

_damaged: dict[str, str] = {}  # realpath of a damaged database -> what SQLite said
_damaged_lock = threading.Lock()


def _key(db_path: Path) -> str:
    return os.path.realpath(db_path)


def damaged_message(db_path: Path, detail: str) -> str:
    """The one line that says a store is damaged and what to do about it."""
    return (
        f"{db_path} is damaged ({detail}); tau stopped writing to it. Back it up (copy "
        f"{db_path.name} and {db_path.name}-wal), then run: {RECOVER_COMMAND} "
        "(see docs/sessions.md)"
    )


def mark_damaged(db_path: Path, detail: str) -> StoreDamagedError:
    """Remember that ``db_path`` is damaged (no more writes); return the error to raise."""
    with _damaged_lock:
        _damaged.setdefault(_key(db_path), detail)
    return StoreDamagedError(damaged_message(db_path, detail))


def refuse_if_damaged(db_path: Path) -> None:
    """Raise ``StoreDamagedError`` if this process found ``db_path`` damaged."""
    detail = _damaged.get(_key(db_path))
    if detail is not None:
        raise StoreDamagedError(damaged_message(db_path, detail))


def forget_damage(db_path: Path) -> None:
    """``db_path`` was rebuilt (recovered): writing to it is fine again."""
    with _damaged_lock:
        _damaged.pop(_key(db_path), None)


def is_damage(exc: sqlite3.Error) -> bool:
    """Whether SQLite says the file is corrupt or is not a database."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc).lower()
    return (
        name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB"))
        or "malformed" in text
        or "not a database" in text
    )


def _unwritable(db_path: Path) -> Path | None:
    """The first of the database and its folder that this user may not write."""
    for path in (db_path, db_path.parent):
        if path.exists() and not os.access(path, os.W_OK):
            return path
    return None


def store_error(db_path: Path, exc: sqlite3.Error, *, prefix: str = "") -> StoreError:
    """The one-line ``StoreError`` for a SQLite failure on ``db_path``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if is_damage(exc):
        return mark_damaged(db_path, text)
    if (
        name.startswith("SQLITE_READONLY")
        or "readonly database" in text
        or (name.startswith("SQLITE_CANTOPEN") and _unwritable(db_path) is not None)
    ):
        return StoreError(f"no write permission on {_unwritable(db_path) or db_path}")
    if "locked" in text or "busy" in text:
        return StoreError(f"{db_path} is busy: another tau process held it too long ({text})")
    return StoreError(f"{prefix}{db_path}: {text}")


@contextmanager
def translate_errors(db_path: Path) -> Iterator[None]:
    """Turn SQLite failures into one-line ``StoreError``s; tau's own errors pass through."""
    try:
        yield
    except TauError:
        raise
    except sqlite3.Error as exc:
        raise store_error(db_path, exc) from exc
