"""``TableRows``: one table's rows as a backend hands them to another (``tau store
migrate``): the columns by name and the rows in insertion order, read lazily."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

COPIED_TABLES = (
    "sessions",
    "messages",
    "events",
    "checkpoints",
    "redo_stack",
    "redo_files",
    "missions",
    "memory_entries",
    "jobs",
    "job_attempts",
    "job_events",
)
"""Every table of a store's records, parents before the rows that name them (the
indexes, such as SQLite's FTS5 table, are rebuilt by the target, not copied)."""


@dataclass
class TableRows:
    """One table's rows: ``columns`` names each row's values, in order."""

    name: str
    columns: tuple[str, ...]
    rows: Iterator[tuple[Any, ...]]
