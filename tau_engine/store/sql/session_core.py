"""``SessionCore``: the synchronous work behind ``SqlSessionStore``'s coroutines (run on
worker threads): creating, listing, updating and deleting sessions, appending messages,
moving the head, forking, reading the event log. Each method is one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tau_engine.conversation import StoredMessage, Usage
from tau_engine.events import BaseEvent, EventReader
from tau_engine.events_v1 import RUN_BOUNDARY_TYPES
from tau_engine.paths import WorkspacePaths
from tau_engine.store.models import HEAD, NewMessage, ParentRef, SessionInfo, title_from_prompt
from tau_engine.store.sql.checkpoints import Checkpoints
from tau_engine.store.sql.forking import copy_path_as_session
from tau_engine.store.sql.protocol import Dialect, SqlDatabase
from tau_engine.store.sql.queries import (
    SELECT_SESSION,
    lock_session_row,
    require_message,
    require_session,
    session_from_row,
    session_head,
)


class SessionCore:
    """The session store's transactions (see the module)."""

    paths: WorkspacePaths
    _db: SqlDatabase
    _dialect: Dialect
    _clock: Callable[[], float]
    _checkpoints: Checkpoints

    @contextmanager
    def _write_session(self, session_id: str, *, locks_row: bool = False) -> Iterator[Any]:
        """A write transaction on ``session_id``'s rows, opened by ``_check_writer``
        (``locks_row``: the write takes the session's row with ``lock_session_row``)."""
        with self._db.write() as conn:
            self._check_writer(conn, session_id, locks_row=locks_row)
            yield conn

    def _check_writer(self, conn: Any, session_id: str, *, locks_row: bool = False) -> None:
        """Raise ``SessionLockLostError`` if this store took the session's lock and has
        lost it since; first statement of every write of the session's rows (see
        ``SqlSessionStore``). Empty here, and so on SQLite: its lock is an ``flock`` on
        a file, which the kernel holds until this process closes it or dies, so it cannot
        be lost while the process lives to write. PostgreSQL's lock lives on a connection
        the server may drop (``store/postgres/session_lock.py``): its store fills this."""

    def _create_session(
        self, model: str, title: str, meta: dict[str, Any], session_id: str
    ) -> SessionInfo:
        now = self._clock()
        with self._write_session(session_id) as conn:
            conn.execute(
                "INSERT INTO sessions (id, title, model, created_at, updated_at, workspace, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (session_id, title, model, now, now, str(self.paths.root), json.dumps(meta)),
            )
            return require_session(conn, session_id)

    def _list_sessions(self, limit: int) -> list[SessionInfo]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"{SELECT_SESSION} ORDER BY s.updated_at DESC, s.{self._dialect.order} DESC "
                "LIMIT ?",
                (limit,),
            ).fetchall()
        return [session_from_row(row) for row in rows]

    def _delete_session(self, session_id: str) -> None:
        with self._write_session(session_id, locks_row=True) as conn:
            lock_session_row(conn, self._dialect, session_id)
            require_session(conn, session_id)
            digests = [
                row[0]
                for row in conn.execute(
                    "SELECT blob FROM checkpoints WHERE session_id = ? UNION "
                    "SELECT blob FROM redo_files WHERE session_id = ?",
                    (session_id, session_id),
                )
            ]
            # The cascade removes messages, events, checkpoints and the redo stack.
            conn.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self._checkpoints.release_blobs(conn, digests)

    def _update_session(self, session_id: str, column: str, value: str) -> None:
        if column not in ("title", "model", "meta"):
            raise ValueError(column)
        with self._write_session(session_id) as conn:
            cursor = conn.execute(
                f"UPDATE sessions SET {column} = ?, updated_at = ? WHERE id = ?",
                (value, self._clock(), session_id),
            )
            if cursor.rowcount == 0:
                require_session(conn, session_id)

    def _append(
        self, session_id: str, items: list[NewMessage], parent_id: ParentRef
    ) -> list[StoredMessage]:
        if not items:
            return []
        with self._write_session(session_id, locks_row=True) as conn:
            lock_session_row(conn, self._dialect, session_id)
            row = conn.execute(
                "SELECT head_id, title FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                require_session(conn, session_id)
            head, title = row
            parent = head if parent_id is HEAD else parent_id
            if parent is not None and parent != head:
                require_message(conn, session_id, parent)
            now = self._clock()
            spent = Usage()
            cost: float | None = None
            stored: list[StoredMessage] = []
            for item in items:
                message_id = uuid.uuid4().hex
                body = item.message.model_dump_json()
                usage_json = item.usage.model_dump_json() if item.usage is not None else None
                conn.execute(
                    "INSERT INTO messages (id, session_id, parent_id, created_at, role, body, "
                    "usage, cost_usd, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        message_id,
                        session_id,
                        parent,
                        now,
                        item.message.role,
                        body,
                        usage_json,
                        item.cost_usd,
                        item.model,
                    ),
                )
                if item.usage is not None:
                    spent = spent + item.usage
                if item.cost_usd is not None:
                    cost = (cost or 0.0) + item.cost_usd
                if not title and item.message.role == "user":
                    title = title_from_prompt(item.message.content)
                stored.append(
                    StoredMessage(
                        id=message_id,
                        session_id=session_id,
                        parent_id=parent,
                        created_at=now,
                        message=item.message,
                        usage=item.usage,
                        cost_usd=item.cost_usd,
                        model=item.model,
                    )
                )
                parent = message_id
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ?, title = ?, "
                "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                "cached_input_tokens = cached_input_tokens + ?, "
                "cache_write_tokens = cache_write_tokens + ?, "
                "reasoning_tokens = reasoning_tokens + ?, "
                "cost_usd = coalesce(cost_usd + ?, cost_usd, ?), "
                "usage_estimated = usage_estimated OR ? "
                "WHERE id = ?",
                (
                    parent,
                    now,
                    title,
                    spent.input_tokens,
                    spent.output_tokens,
                    spent.cached_input_tokens,
                    spent.cache_write_tokens,
                    spent.reasoning_tokens,
                    cost,
                    cost,
                    spent.estimated,
                    session_id,
                ),
            )
            self._checkpoints.clear_redo(conn, session_id)
        return stored

    def _set_head(self, session_id: str, message_id: str) -> None:
        with self._write_session(session_id, locks_row=True) as conn:
            lock_session_row(conn, self._dialect, session_id)
            session_head(conn, session_id)
            require_message(conn, session_id, message_id)
            conn.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                (message_id, self._clock(), session_id),
            )
            self._checkpoints.clear_redo(conn, session_id)

    def _fork(
        self, session_id: str, at_message_id: str, title: str | None, fork_id: str
    ) -> SessionInfo:
        with self._db.write() as conn:
            lock_session_row(conn, self._dialect, session_id)
            return copy_path_as_session(
                conn, session_id, at_message_id, fork_id, title=title, now=self._clock()
            )

    def _events(self, session_id: str, after_seq: int, limit: int | None) -> list[BaseEvent]:
        with self._db.read() as conn:
            sql = "SELECT json FROM events WHERE session_id = ? AND seq > ? ORDER BY seq"
            params: tuple[Any, ...] = (session_id, after_seq)
            if limit is not None:
                sql, params = f"{sql} LIMIT ?", (*params, limit)
            rows = conn.execute(sql, params).fetchall()
            # A v1 run's end is read with its start's id: a read from the middle of a
            # run needs the event that opened it.
            boundary = (
                conn.execute(
                    "SELECT json FROM events WHERE session_id = ? AND seq <= ? AND type IN "
                    f"({','.join('?' * len(RUN_BOUNDARY_TYPES))}) ORDER BY seq DESC LIMIT 1",
                    (session_id, after_seq, *RUN_BOUNDARY_TYPES),
                ).fetchone()
                if rows and after_seq > 0
                else None
            )
        reader = EventReader.after(boundary[0] if boundary else None)
        return [reader.read(row[0]) for row in rows]
