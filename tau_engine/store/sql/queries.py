"""Reading sessions and message paths out of a store (synchronous helpers, both backends).

A conversation is the path from a head message back to its root. It is walked
with a recursive CTE that follows ``parent_id`` one primary-key lookup per
step, so loading the last N messages costs O(N) however long the session is.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.errors import SessionNotFoundError, UsageError
from tau_engine.store.models import SessionInfo
from tau_engine.store.sql.protocol import Dialect, SqlConnection

SESSION_COLUMNS = (
    "s.id, s.title, s.model, s.created_at, s.updated_at, s.head_id, s.workspace, "
    "s.input_tokens, s.output_tokens, s.cached_input_tokens, s.cache_write_tokens, "
    "s.reasoning_tokens, s.cost_usd, s.meta, "
    "(SELECT count(*) FROM messages c WHERE c.session_id = s.id), s.usage_estimated"
)
SELECT_SESSION = f"SELECT {SESSION_COLUMNS} FROM sessions s"

MESSAGE_COLUMNS = (
    "m.id, m.session_id, m.parent_id, m.created_at, m.body, m.usage, m.cost_usd, m.model"
)

# Walks from a head towards the root; ``depth`` 0 is the head. The limit is
# applied inside the recursion so that a short read never walks the whole path,
# and the columns ride along so that no row is looked up twice.
_PATH_FROM = """
WITH RECURSIVE path(id, session_id, parent_id, created_at, body, usage, cost_usd, model,
                    depth) AS (
    SELECT id, session_id, parent_id, created_at, body, usage, cost_usd, model, 0
    FROM messages WHERE id = :head AND session_id = :session
    UNION ALL
    SELECT m.id, m.session_id, m.parent_id, m.created_at, m.body, m.usage, m.cost_usd,
           m.model, p.depth + 1
    FROM messages m JOIN path p ON m.id = p.parent_id
    WHERE p.depth + 1 < :limit
)
SELECT id, session_id, parent_id, created_at, body, usage, cost_usd, model
FROM path ORDER BY depth DESC
"""

_NO_LIMIT = 1 << 62


# The part of a path a request needs (``agent.compaction.request_view``): walking
# from the head, ``phase`` 0 is after the last compaction, 1 the compaction and the
# messages it kept verbatim (back to its ``keep_from``), 2 what it summarized, of
# which only pinned messages are read (``wanted``).
_CONTINUES_KEPT = "p.phase = 1 AND p.keep_from IS NOT NULL AND p.id != p.keep_from"


@cache
def _request_path_sql(dialect: Dialect) -> str:
    _truthy, keep_from = dialect.truthy, dialect.json_text
    return f"""
WITH RECURSIVE path(id, parent_id, depth, phase, keep_from, wanted) AS (
    SELECT id, parent_id, 0,
           CASE WHEN {_truthy("body", "compaction")} THEN 1 ELSE 0 END,
           CASE WHEN {_truthy("body", "compaction")}
                THEN {keep_from("body", "meta.keep_from")} END,
           1 = 1
    FROM messages WHERE id = :head AND session_id = :session
    UNION ALL
    SELECT m.id, m.parent_id, p.depth + 1,
           CASE WHEN p.phase = 0 THEN
                    CASE WHEN {_truthy("m.body", "compaction")} THEN 1 ELSE 0 END
                WHEN {_CONTINUES_KEPT} THEN 1
                ELSE 2 END,
           CASE WHEN p.phase != 0 THEN p.keep_from
                WHEN {_truthy("m.body", "compaction")}
                    THEN {keep_from("m.body", "meta.keep_from")} END,
           CASE WHEN p.phase = 0 OR ({_CONTINUES_KEPT}) THEN 1 = 1
                ELSE {_truthy("m.body", "pinned")} END
    FROM messages m JOIN path p ON m.id = p.parent_id
    WHERE p.phase < 2 OR :pinned
)
SELECT {MESSAGE_COLUMNS} FROM path JOIN messages m ON m.id = path.id
WHERE path.wanted
ORDER BY path.depth DESC
"""


def session_from_row(row: tuple[Any, ...]) -> SessionInfo:
    """Build a ``SessionInfo`` from a row selected with ``SESSION_COLUMNS``."""
    return SessionInfo(
        id=row[0],
        title=row[1],
        model=row[2],
        created_at=row[3],
        updated_at=row[4],
        head_id=row[5],
        workspace=row[6],
        usage=Usage(
            input_tokens=row[7],
            output_tokens=row[8],
            cached_input_tokens=row[9],
            cache_write_tokens=row[10],
            reasoning_tokens=row[11],
            estimated=bool(row[15]),
        ),
        cost_usd=row[12],
        meta=json.loads(row[13]),
        message_count=row[14],
    )


def message_from_row(row: tuple[Any, ...]) -> StoredMessage:
    """Build a ``StoredMessage`` from a row selected with ``MESSAGE_COLUMNS``."""
    # The plain constructor: pydantic-core validates these few fields faster
    # than ``model_construct`` skips validation in Python.
    return StoredMessage(
        id=row[0],
        session_id=row[1],
        parent_id=row[2],
        created_at=row[3],
        message=Message.model_validate_json(row[4]),
        usage=Usage.model_validate_json(row[5]) if row[5] is not None else None,
        cost_usd=row[6],
        model=row[7],
    )


def require_session(conn: SqlConnection, session_id: str) -> SessionInfo:
    """The session with exactly this id, or ``SessionNotFoundError``."""
    row = conn.execute(f"{SELECT_SESSION} WHERE s.id = ?", (session_id,)).fetchone()
    if row is None:
        raise SessionNotFoundError(f"no session {session_id!r} in this workspace")
    return session_from_row(row)


def session_head(conn: SqlConnection, session_id: str) -> str | None:
    """The head message id of a session (``SessionNotFoundError`` if there is none)."""
    row = conn.execute("SELECT head_id FROM sessions WHERE id = ?", (session_id,)).fetchone()
    if row is None:
        raise SessionNotFoundError(f"no session {session_id!r} in this workspace")
    head: str | None = row[0]
    return head


def lock_session_row(conn: SqlConnection, dialect: Dialect, session_id: str) -> None:
    """Hold the session's row until the write transaction ends, where the backend needs
    it (``Dialect.locks_rows``), so two writers of one session take turns."""
    if dialect.locks_rows:
        conn.execute("SELECT 1 FROM sessions WHERE id = ? FOR UPDATE", (session_id,))


def require_message(conn: SqlConnection, session_id: str, message_id: str) -> None:
    """Raise ``UsageError`` unless ``message_id`` is a message of ``session_id``."""
    row = conn.execute(
        "SELECT 1 FROM messages WHERE id = ? AND session_id = ?", (message_id, session_id)
    ).fetchone()
    if row is None:
        raise UsageError(f"message {message_id!r} is not in session {session_id[:8]}")


def path_to(
    conn: SqlConnection, session_id: str, head_id: str | None, limit: int | None = None
) -> list[StoredMessage]:
    """The messages from the root (or the ``limit``-th ancestor) down to ``head_id``."""
    if head_id is None or (limit is not None and limit <= 0):
        return []
    rows = conn.execute(
        _PATH_FROM,
        {"head": head_id, "session": session_id, "limit": _NO_LIMIT if limit is None else limit},
    ).fetchall()
    return [message_from_row(row) for row in rows]


def session_path(
    conn: SqlConnection, session_id: str, head_id: str | None, limit: int | None
) -> list[StoredMessage]:
    """The session's path to ``head_id`` (its head by default), the last ``limit`` of it."""
    head = session_head(conn, session_id)
    if head_id is not None:
        require_message(conn, session_id, head_id)
        head = head_id
    return path_to(conn, session_id, head, limit)


def request_path(conn: SqlConnection, dialect: Dialect, session_id: str) -> list[StoredMessage]:
    """The messages of the session's path that its next request is built from.

    Everything after the last compaction, the compaction and the messages it kept
    verbatim, and the pinned messages before them, in path order: what
    ``request_view`` reads, without reading the summarized history. Only when the
    session has pinned messages (they can be anywhere) does the walk go on to the
    root, in the database, still parsing only the rows it returns.
    """
    head = session_head(conn, session_id)
    if head is None:
        return []
    # Without pinned messages the walk ends where the summarized history begins.
    may_have_pinned = (
        f"SELECT 1 FROM messages WHERE session_id = ? AND {dialect.pinned_candidate} LIMIT 1"
    )
    pinned = conn.execute(may_have_pinned, (session_id,)).fetchone() is not None
    rows = conn.execute(
        _request_path_sql(dialect), {"head": head, "session": session_id, "pinned": pinned}
    ).fetchall()
    return [message_from_row(row) for row in rows]


def tool_results_of(
    conn: SqlConnection, dialect: Dialect, session_id: str, names: list[str], meta_key: str
) -> list[StoredMessage]:
    """The session's tool results (every branch) from a tool in ``names``, or whose
    ``meta[meta_key]`` is set, oldest first, found without parsing the others."""
    marks = ", ".join("?" for _ in names) or "NULL"
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.session_id = ? "
        f"AND m.role = 'tool' AND ({dialect.json_text('m.body', 'name')} IN ({marks}) "
        f"OR {dialect.truthy('m.body', meta_key)}) ORDER BY m.{dialect.order}",
        (session_id, *names),
    ).fetchall()
    return [message_from_row(row) for row in rows]


def last_event_seq(conn: SqlConnection, session_id: str) -> int:
    """The highest logged ``seq`` of the session, 0 if none."""
    row = conn.execute("SELECT max(seq) FROM events WHERE session_id = ?", (session_id,)).fetchone()
    return int(row[0] or 0)


def branch_tips(conn: SqlConnection, dialect: Dialect, session_id: str) -> list[StoredMessage]:
    """Every message of the session that no other message continues, oldest first."""
    rows = conn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.session_id = ? AND NOT EXISTS "
        f"(SELECT 1 FROM messages c WHERE c.parent_id = m.id) ORDER BY m.{dialect.order}",
        (session_id,),
    ).fetchall()
    return [message_from_row(row) for row in rows]


def find_sessions(conn: SqlConnection, id_or_prefix: str) -> SessionInfo:
    """The one session whose id is or starts with ``id_or_prefix``.

    Raises ``SessionNotFoundError`` when none matches or several do; the
    latter names the candidates so the user can type a longer prefix.
    """
    prefix = id_or_prefix.strip().lower()
    if not prefix or any(ch not in "0123456789abcdef" for ch in prefix):
        raise SessionNotFoundError(f"no session matches {id_or_prefix!r}")
    # Ids are lowercase hex, so every id starting with the prefix sorts
    # below prefix + "g": an index range scan instead of a LIKE.
    rows = conn.execute(
        f"{SELECT_SESSION} WHERE s.id >= ? AND s.id < ? ORDER BY s.updated_at DESC LIMIT 6",
        (prefix, prefix + "g"),
    ).fetchall()
    if not rows:
        raise SessionNotFoundError(f"no session matches {id_or_prefix!r}")
    matches = [session_from_row(row) for row in rows]
    exact = [info for info in matches if info.id == prefix]
    if exact:
        return exact[0]
    if len(matches) > 1:
        shown = ", ".join(f"{info.id[:12]} ({info.title or 'untitled'})" for info in matches[:5])
        more = " and more" if len(matches) > 5 else ""
        raise SessionNotFoundError(f"session prefix {id_or_prefix!r} is ambiguous: {shown}{more}")
    return matches[0]
