"""Forking: a new session whose history is a copy of another's path up to a message."""

from __future__ import annotations

import json
import uuid

from tau_engine.conversation import Usage
from tau_engine.store.models import SessionInfo
from tau_engine.store.sql.protocol import SqlConnection
from tau_engine.store.sql.queries import path_to, require_message, require_session


def copy_path_as_session(
    conn: SqlConnection,
    session_id: str,
    at_message_id: str,
    fork_id: str,
    *,
    title: str | None,
    now: float,
) -> SessionInfo:
    """Copy the path from the root to ``at_message_id`` into a new session ``fork_id``.

    Messages get new ids (the two sessions share nothing and either can be
    deleted) and keep their file checkpoints, so undo works in the fork too.
    Runs inside the caller's write transaction.
    """
    source = require_session(conn, session_id)
    require_message(conn, session_id, at_message_id)
    path = path_to(conn, session_id, at_message_id)
    new_ids = {message.id: uuid.uuid4().hex for message in path}
    spent = Usage()
    cost: float | None = None
    for message in path:
        if message.usage is not None:
            spent = spent + message.usage
        if message.cost_usd is not None:
            cost = (cost or 0.0) + message.cost_usd
    meta = {"forked_from": {"session_id": session_id, "message_id": at_message_id}}
    conn.execute(
        "INSERT INTO sessions (id, title, model, created_at, updated_at, head_id, "
        "workspace, input_tokens, output_tokens, cached_input_tokens, "
        "cache_write_tokens, reasoning_tokens, cost_usd, meta, usage_estimated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            fork_id,
            source.title if title is None else title,
            source.model,
            now,
            now,
            new_ids[at_message_id],
            source.workspace,
            spent.input_tokens,
            spent.output_tokens,
            spent.cached_input_tokens,
            spent.cache_write_tokens,
            spent.reasoning_tokens,
            cost,
            json.dumps(meta),
            spent.estimated,
        ),
    )
    for message in path:
        conn.execute(
            "INSERT INTO messages (id, session_id, parent_id, created_at, role, body, "
            "usage, cost_usd, model) SELECT ?, ?, ?, created_at, role, body, usage, "
            "cost_usd, model FROM messages WHERE id = ?",
            (
                new_ids[message.id],
                fork_id,
                new_ids[message.parent_id] if message.parent_id else None,
                message.id,
            ),
        )
        conn.execute(
            "INSERT INTO checkpoints (session_id, message_id, path, blob, mode, "
            "created_at) SELECT ?, ?, path, blob, mode, created_at FROM checkpoints "
            "WHERE message_id = ? ORDER BY seq",
            (fork_id, new_ids[message.id], message.id),
        )
    return require_session(conn, fork_id)
