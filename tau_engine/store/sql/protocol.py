"""The database interface the shared store code (``store/sql/``) runs on, and the
``Dialect`` that says how one engine writes what SQL leaves to each.

SQL handed to ``SqlConnection.execute`` uses SQLite's placeholders (``?`` and ``:name``);
the PostgreSQL backend rewrites them for psycopg. Transactions come from
``SqlDatabase``: ``read`` is one consistent snapshot, ``write`` one transaction that
commits when its block ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol


class SqlCursor(Protocol):
    """What a statement returns: its rows and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection(Protocol):
    """A connection inside a transaction."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> Any: ...


class SqlDatabase(Protocol):
    """A store's connection and its transactions (see the module)."""

    @property
    def closed(self) -> bool: ...

    def close(self) -> None: ...

    def read(self) -> AbstractContextManager[Any]: ...

    def write(self) -> AbstractContextManager[Any]: ...


@dataclass(frozen=True)
class Dialect:
    """How one engine spells what SQL leaves open.

    ``order``: the column giving rows' insertion order (SQLite's ``rowid``, PostgreSQL's
    ``seq``). ``json_text(column, key)``: a message body's ``$.key`` (a dotted path) as
    text. ``truthy(column, key)``: Python's truthiness of ``meta[key]`` in a body.
    ``pinned_candidate``: a cheap test that a body may be pinned (a partial index's
    condition). ``is_unique_violation``: whether a failure was a duplicate key.
    ``locks_rows``: a write transaction must lock the session row it decides on
    (PostgreSQL's ``READ COMMITTED``); SQLite's ``BEGIN IMMEDIATE`` holds the whole
    database already.
    """

    name: str
    order: str
    json_text: Callable[[str, str], str]
    truthy: Callable[[str, str], str]
    pinned_candidate: str
    is_unique_violation: Callable[[BaseException], bool]
    locks_rows: bool = False
