"""The sessions, missions and memory parts of the snapshot, read with SQL both stores run.

Each reader takes a connection whose ``execute(sql, params)`` returns rows (sqlite3's, or
``pg_snapshot.QmarkReader`` over psycopg) and is called inside the caller's read
transaction. The SQL is written once, with ``?`` placeholders, in the dialect both
SQLite and PostgreSQL accept (``CASE`` rather than summing booleans). Which sessions are
running is the caller's to say: a held lock file on SQLite, an advisory lock on
PostgreSQL.
"""

from __future__ import annotations

import json

from tau_engine.status.model import Memory, Missions, MissionSummary, Sessions, SessionSummary

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    class Rows(Protocol):
        def fetchone(self) -> Any: ...
        def fetchall(self) -> list[Any]: ...
        def __iter__(self) -> Any: ...

    class Reader(Protocol):
        def execute(self, sql: str, parameters: Any = ..., /) -> Rows: ...


SESSION_COLUMNS = "id, title, model, updated_at, input_tokens, output_tokens, cost_usd"
MISSION_COLUMNS = "id, title, phase, outcome, reason, commit_sha, updated_at, state"


def read_sessions(
    conn: Reader, limit: int, is_running: Callable[[str], bool] | None, running: int | None
) -> Sessions:
    """The sessions section: ``is_running`` says whether a live process holds a session
    (None: cannot be told), ``running`` how many such locks are held."""
    count = int(conn.execute("SELECT count(*) FROM sessions").fetchone()[0])
    rows = conn.execute(
        f"SELECT {SESSION_COLUMNS} FROM sessions ORDER BY updated_at DESC LIMIT ?",
        (max(1, limit),),
    ).fetchall()
    recent = tuple(
        SessionSummary(
            id=str(r[0]),
            title=str(r[1]),
            model=str(r[2]),
            updated_at=float(r[3]),
            input_tokens=int(r[4]),
            output_tokens=int(r[5]),
            cost_usd=None if r[6] is None else float(r[6]),
            running=None if is_running is None else is_running(str(r[0])),
        )
        for r in rows
    )
    return Sessions(
        count=count, running=running, latest=recent[0] if recent else None, recent=recent[:limit]
    )


def read_missions(conn: Reader, limit: int, notes: list[str]) -> Missions:
    """The missions section (``notes`` collects the records that cannot be read)."""
    count, unfinished, blocked = conn.execute(
        "SELECT count(*), coalesce(sum(CASE WHEN phase != 'done' THEN 1 ELSE 0 END), 0), "
        "coalesce(sum(CASE WHEN outcome = 'blocked' THEN 1 ELSE 0 END), 0) FROM missions"
    ).fetchone()
    rows = conn.execute(
        f"SELECT {MISSION_COLUMNS} FROM missions ORDER BY created_at DESC LIMIT ?",
        (max(1, limit),),
    ).fetchall()
    recent = tuple(mission_summary(row, notes) for row in rows)
    return Missions(
        count=int(count),
        unfinished=int(unfinished),
        blocked=int(blocked),
        latest=recent[0] if recent else None,
        recent=recent[:limit],
    )


def mission_summary(row: tuple[object, ...], notes: list[str]) -> MissionSummary:
    """One mission row (``MISSION_COLUMNS``)."""
    try:
        state = json.loads(str(row[7]))
    except ValueError:
        state = None
    if not isinstance(state, dict):
        notes.append(f"mission {str(row[0])[:8]}: its record is not readable")
        state = {}
    attempts = state.get("attempts")
    attempts = attempts if isinstance(attempts, list) else []
    verifier = None
    last = attempts[-1] if attempts and isinstance(attempts[-1], dict) else {}
    run = last.get("verifier")
    if isinstance(run, dict) and "exit_code" in run:
        verifier = "pass" if run.get("exit_code") == 0 and not run.get("timed_out") else "fail"
    unblock = state.get("unblock_command")
    return MissionSummary(
        id=str(row[0]),
        title=str(row[1]),
        phase=str(row[2]),
        outcome=None if row[3] is None else str(row[3]),
        reason=None if row[4] is None else str(row[4]),
        verifier=verifier,
        attempts=len(attempts),
        commit=None if row[5] is None else str(row[5]),
        unblock_command=unblock if isinstance(unblock, str) and unblock else None,
        updated_at=float(row[6]) if isinstance(row[6], int | float) else 0.0,
    )


def read_memory(conn: Reader) -> Memory:
    """The memory section: live entries by namespace, and how many are retired."""
    namespaces: dict[str, int] = {}
    retired = 0
    for namespace, live, count in conn.execute(
        "SELECT namespace, retired_at IS NULL, count(*) FROM memory_entries "
        "GROUP BY namespace, retired_at IS NULL ORDER BY namespace"
    ):
        if live:
            namespaces[str(namespace)] = int(count)
        else:
            retired += int(count)
    return Memory(entries=sum(namespaces.values()), retired=retired, namespaces=namespaces)
