"""Export a session to JSONL and import it back, losslessly.

Format ``tau-session`` version 1, one JSON object per line:

1. a header ``{"format": "tau-session", "version": 1, "session": {...}}`` with the
   session row (id, title, model, times, head, workspace, usage totals, cost, meta);
2. every message of every branch, parents before children:
   ``{"kind": "message", "id", "parent_id", "created_at", "model", "cost_usd",
   "usage", "message"}``;
3. every event in ``seq`` order: ``{"kind": "event", "event": {...}}``.

File checkpoints and the redo stack are not exported: they describe one
workspace's files at one time and mean nothing elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from tau_engine.conversation import Message, Usage
from tau_engine.errors import UsageError
from tau_engine.events import EventReader
from tau_engine.store.models import SessionInfo
from tau_engine.store.sql.protocol import Dialect, SqlConnection, SqlDatabase
from tau_engine.store.sql.queries import require_session

FORMAT_NAME = "tau-session"
FORMAT_VERSION = 1


class _MessageRecord(BaseModel):
    kind: Literal["message"]
    id: str
    parent_id: str | None
    created_at: float
    model: str | None = None
    cost_usd: float | None = None
    usage: Usage | None = None
    message: Message


def export_session(
    db: SqlDatabase,
    dialect: Dialect,
    session_id: str,
    dest: Path,
    redact: Callable[[Any], Any] | None = None,
) -> int:
    """Write the session to ``dest`` (atomically); return the number of lines. ``redact``
    (the redaction funnel) sees every message and event before it is written."""
    tmp = dest.with_name(f".{dest.name}.tmp-{os.getpid()}")
    lines = 0
    try:
        with db.read() as conn, open(tmp, "w", encoding="utf-8") as out:
            info = require_session(conn, session_id)
            header = {
                "format": FORMAT_NAME,
                "version": FORMAT_VERSION,
                "session": info.model_dump(mode="json", exclude={"message_count"}),
            }
            out.write(json.dumps(header, ensure_ascii=False) + "\n")
            lines += 1
            for row in conn.execute(
                "SELECT id, parent_id, created_at, model, cost_usd, usage, body FROM messages "
                f"WHERE session_id = ? ORDER BY {dialect.order}",
                (session_id,),
            ):
                record = {
                    "kind": "message",
                    "id": row[0],
                    "parent_id": row[1],
                    "created_at": row[2],
                    "model": row[3],
                    "cost_usd": row[4],
                    "usage": json.loads(row[5]) if row[5] is not None else None,
                    "message": json.loads(row[6]),
                }
                if redact is not None:
                    record["message"] = redact(record["message"])
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
                lines += 1
            for (event_json,) in conn.execute(
                "SELECT json FROM events WHERE session_id = ? ORDER BY seq", (session_id,)
            ):
                if redact is not None:
                    event_json = json.dumps(redact(json.loads(event_json)), ensure_ascii=False)
                # The stored event is already JSON: embed it as is.
                out.write(f'{{"kind": "event", "event": {event_json}}}\n')
                lines += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except OSError as exc:
        raise UsageError(f"cannot write {dest}: {exc.strerror or exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)
    return lines


def import_session(db: SqlDatabase, dialect: Dialect, src: Path) -> str:
    """Recreate the session in ``src`` with its ids; return its id.

    Everything is validated before anything is written, and written in one
    transaction, so a bad file leaves the store untouched. An id that is
    already in this workspace is refused: delete that session first.
    """
    info, messages, events = _read_export(src)
    with db.write() as conn:
        if conn.execute("SELECT 1 FROM sessions WHERE id = ?", (info.id,)).fetchone():
            raise UsageError(
                f"{src}: session {info.id} already exists in this workspace; "
                "delete it first to import this copy"
            )
        _insert_session(conn, info)
        for lineno, record in messages:
            try:
                conn.execute(
                    "INSERT INTO messages (id, session_id, parent_id, created_at, role, body, "
                    "usage, cost_usd, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        record.id,
                        info.id,
                        record.parent_id,
                        record.created_at,
                        record.message.role,
                        record.message.model_dump_json(),
                        record.usage.model_dump_json() if record.usage else None,
                        record.cost_usd,
                        record.model,
                    ),
                )
            except Exception as exc:
                if not dialect.is_unique_violation(exc):
                    raise
                raise UsageError(
                    f"{src}:{lineno}: message {record.id} clashes with this workspace ({exc})"
                ) from exc
        conn.executemany(
            "INSERT INTO events (session_id, seq, type, ts, json) VALUES (?, ?, ?, ?, ?)",
            [(info.id, seq, kind, ts, body) for seq, kind, ts, body in events],
        )
    return info.id


def _insert_session(conn: SqlConnection, info: SessionInfo) -> None:
    usage = info.usage
    conn.execute(
        "INSERT INTO sessions (id, title, model, created_at, updated_at, head_id, workspace, "
        "input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, "
        "reasoning_tokens, cost_usd, meta, usage_estimated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            info.id,
            info.title,
            info.model,
            info.created_at,
            info.updated_at,
            info.head_id,
            info.workspace,
            usage.input_tokens,
            usage.output_tokens,
            usage.cached_input_tokens,
            usage.cache_write_tokens,
            usage.reasoning_tokens,
            info.cost_usd,
            json.dumps(info.meta),
            usage.estimated,
        ),
    )


def _read_export(
    src: Path,
) -> tuple[SessionInfo, list[tuple[int, _MessageRecord]], list[tuple[int, str, float, str]]]:
    """Parse and check the whole file; ``UsageError`` naming the first bad line."""
    info: SessionInfo | None = None
    messages: list[tuple[int, _MessageRecord]] = []
    events: list[tuple[int, str, float, str]] = []
    seen_ids: set[str] = set()
    seen_seqs: set[int] = set()
    # One reader for the file: an export of a v1 log is upgraded as it is read, each
    # run's end getting its start's id (the imported copy is stored as v2).
    reader = EventReader()
    try:
        handle = open(src, "rb")  # noqa: SIM115 - closed by the with below
    except OSError as exc:
        raise UsageError(f"cannot read {src}: {exc.strerror or exc}") from exc
    with handle:
        for lineno, raw in enumerate(handle, 1):
            try:
                line = raw.decode("utf-8")
                if not line.strip():
                    continue
                data = _json_object(src, lineno, line)
                if info is None:
                    info = _header(src, lineno, data)
                    continue
                kind = data.get("kind")
                if kind == "message":
                    record = _MessageRecord.model_validate(data)
                    if record.id in seen_ids:
                        raise UsageError(f"{src}:{lineno}: message {record.id} appears twice")
                    if record.parent_id is not None and record.parent_id not in seen_ids:
                        raise UsageError(
                            f"{src}:{lineno}: parent {record.parent_id} is not an earlier message"
                        )
                    seen_ids.add(record.id)
                    messages.append((lineno, record))
                elif kind == "event":
                    payload = data.get("event")
                    if not isinstance(payload, dict):
                        raise UsageError(f"{src}:{lineno}: event record has no event object")
                    event = reader.read(payload)
                    if event.seq <= 0:
                        raise UsageError(f"{src}:{lineno}: event seq must be positive")
                    if event.seq in seen_seqs:
                        raise UsageError(f"{src}:{lineno}: event seq {event.seq} appears twice")
                    seen_seqs.add(event.seq)
                    event.session_id = info.id
                    events.append((event.seq, event.type, event.ts, event.model_dump_json()))
                else:
                    raise UsageError(f"{src}:{lineno}: unknown record kind {kind!r}")
            except ValidationError as exc:
                raise UsageError(f"{src}:{lineno}: {_first_error(exc)}") from exc
            except UnicodeDecodeError as exc:
                raise UsageError(f"{src}:{lineno}: not UTF-8 text") from exc
    if info is None:
        raise UsageError(f"{src}: empty file, not a tau session export")
    if info.head_id is not None and info.head_id not in seen_ids:
        raise UsageError(f"{src}:1: head {info.head_id} is not one of the file's messages")
    return info, messages, events


def _json_object(src: Path, lineno: int, line: str) -> dict[str, Any]:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{src}:{lineno}: not valid JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{src}:{lineno}: expected a JSON object")
    return data


def _header(src: Path, lineno: int, data: dict[str, Any]) -> SessionInfo:
    if data.get("format") != FORMAT_NAME:
        raise UsageError(f"{src}:{lineno}: not a tau session export (no tau-session header)")
    if data.get("version") != FORMAT_VERSION:
        raise UsageError(
            f"{src}:{lineno}: export format version {data.get('version')!r} is not supported "
            f"(this tau reads version {FORMAT_VERSION})"
        )
    info = SessionInfo.model_validate(data.get("session"))
    if len(info.id) != 32 or any(ch not in "0123456789abcdef" for ch in info.id):
        raise UsageError(f"{src}:{lineno}: session id {info.id!r} is not 32 hex digits")
    return info


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg']}" if where else str(error["msg"])
