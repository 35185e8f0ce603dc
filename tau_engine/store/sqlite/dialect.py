"""How SQLite spells what the shared store code leaves to each backend
(``store/sql/protocol.py``'s ``Dialect``)."""

from __future__ import annotations

import sqlite3

from tau_engine.store.sql.jobs_dialect import JobsDialect
from tau_engine.store.sql.protocol import Dialect
from tau_engine.store.sqlite.schema import PINNED_CANDIDATE


def _json_text(column: str, path: str) -> str:
    return f"json_extract({column}, '$.{path}')"


def _truthy(column: str, key: str) -> str:
    """Python's truthiness of ``meta[key]`` in a message body (JSON), with a cheap
    substring test first so that most rows skip the JSON parse."""
    value = f"json_extract({column}, '$.meta.{key}')"
    return (
        f"(instr({column}, '\"{key}\"') > 0 AND {value} IS NOT NULL "
        f"AND {value} NOT IN (0, '', '[]', '{{}}'))"
    )


def _is_unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.IntegrityError) or isinstance(
        exc.__cause__, sqlite3.IntegrityError
    )


SQLITE = Dialect(
    name="sqlite",
    order="rowid",
    json_text=_json_text,
    truthy=_truthy,
    pinned_candidate=PINNED_CANDIDATE,
    is_unique_violation=_is_unique_violation,
)

SQLITE_JOBS = JobsDialect(name="sqlite", order="rowid")
"""The job queue's SQLite fragments: one writer at a time, so no row locks and no
wake-up statement (idle workers watch ``PRAGMA data_version``)."""
