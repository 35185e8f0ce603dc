"""Connections to a PostgreSQL store, and what its failures mean, in one line each.

Messages name the database by name, host and port (``describe``), never by its URL,
which may carry a password.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from tau_engine.errors import QueueBusyError, StoreError, TauError

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT_MS = 2000
"""A write that waits longer than this for a row lock is reported busy (and retried by
the caller with backoff, as on SQLite) instead of stalling a worker's heartbeats."""

Connection = psycopg.Connection[Any]


def describe(url: str) -> str:
    """``PostgreSQL database 'tau' on HOST:PORT``: the store named without secrets."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error:
        return "the PostgreSQL store"
    dbname = info.get("dbname") or info.get("user") or "postgres"
    host = info.get("host") or "localhost"
    return f"PostgreSQL database '{dbname}' on {host}:{info.get('port') or 5432}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def connect(url: str, where: str, *, read_only: bool = False) -> Connection:
    """An autocommit connection (callers open transactions with ``conn.transaction()``).
    ``read_only``: every transaction on it is ``READ ONLY``, so the server itself refuses
    a write that got past tau's own refusal (``PgDatabase.write``)."""
    try:
        conn = psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, application_name="tau"
        )
    except psycopg.Error as exc:
        raise StoreError(f"cannot open {where}: {first_line(exc)}") from None
    try:
        conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")
        if read_only:
            conn.execute("SET default_transaction_read_only = on")
    except psycopg.Error as exc:
        conn.close()
        raise StoreError(f"cannot open {where}: {first_line(exc)}") from None
    return conn


@contextmanager
def translate_errors(where: str) -> Iterator[None]:
    """psycopg's failures as tau's errors: lock waits and conflicts are ``QueueBusyError``
    (retried with backoff), anything else a one-line ``StoreError``."""
    try:
        yield
    except TauError:
        raise
    except (
        pg_errors.LockNotAvailable,
        pg_errors.SerializationFailure,
        pg_errors.DeadlockDetected,
    ) as exc:
        raise QueueBusyError(f"{where} is busy ({first_line(exc)})") from exc
    except psycopg.Error as exc:
        raise StoreError(f"{where}: {first_line(exc)}") from exc
