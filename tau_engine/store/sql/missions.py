"""``SqlMissionStore``: the ``MissionStore`` (``store/api.py``) on either backend.

A mission's state machine saves its whole record (``MissionRow.state``, the
mission's JSON) in one transaction before and after every phase; the other
columns repeat what lists and status views sort and filter on. ``save`` is a
compare-and-swap on ``revision`` (``UPDATE ... WHERE revision = ?``).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from tau_engine.errors import StoreError
from tau_engine.store.models import MissionRow
from tau_engine.store.sql.protocol import Dialect, SqlDatabase

_COLUMNS = "id, created_at, updated_at, title, phase, outcome, reason, commit_sha, revision, state"


def _row(raw: tuple[Any, ...]) -> MissionRow:
    try:
        state = json.loads(raw[9])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"mission {raw[0]}: its stored state is not JSON ({exc})") from exc
    if not isinstance(state, dict):
        raise StoreError(f"mission {raw[0]}: its stored state is not a JSON object")
    return MissionRow(
        id=raw[0],
        created_at=raw[1],
        updated_at=raw[2],
        title=raw[3],
        phase=raw[4],
        outcome=raw[5],
        reason=raw[6],
        commit=raw[7],
        revision=raw[8],
        state=state,
    )


class SqlMissionStore:
    """Missions in a store's database (the backend opens it and hands it in)."""

    def __init__(self, db: SqlDatabase, dialect: Dialect) -> None:
        self._db = db
        self._dialect = dialect

    def close(self) -> None:
        self._db.close()

    async def create(self, row: MissionRow) -> MissionRow:
        return await asyncio.to_thread(self._create, row)

    def _create(self, row: MissionRow) -> MissionRow:
        stored = replace(row, revision=1)
        try:
            with self._db.write() as conn:
                conn.execute(
                    f"INSERT INTO missions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.id,
                        row.created_at,
                        row.updated_at,
                        row.title,
                        row.phase,
                        row.outcome,
                        row.reason,
                        row.commit,
                        1,
                        json.dumps(row.state),
                    ),
                )
        except StoreError as exc:
            if self._dialect.is_unique_violation(exc):
                raise StoreError(f"a mission with id {row.id} already exists") from exc
            raise
        return stored

    async def save(self, row: MissionRow) -> MissionRow:
        return await asyncio.to_thread(self._save, row)

    def _save(self, row: MissionRow) -> MissionRow:
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE missions SET updated_at = ?, title = ?, phase = ?, outcome = ?, "
                "reason = ?, commit_sha = ?, revision = revision + 1, state = ? "
                "WHERE id = ? AND revision = ?",
                (
                    row.updated_at,
                    row.title,
                    row.phase,
                    row.outcome,
                    row.reason,
                    row.commit,
                    json.dumps(row.state),
                    row.id,
                    row.revision,
                ),
            )
            if cursor.rowcount != 1:
                found = conn.execute(
                    "SELECT revision FROM missions WHERE id = ?", (row.id,)
                ).fetchone()
                if found is None:
                    raise StoreError(f"mission {row.id} is not in the store")
                raise StoreError(
                    f"mission {row.id} was changed by another process "
                    f"(revision {found[0]}, expected {row.revision})"
                )
        return replace(row, revision=row.revision + 1)

    async def get(self, mission_id: str) -> MissionRow | None:
        return await asyncio.to_thread(self._get, mission_id)

    def _get(self, mission_id: str) -> MissionRow | None:
        with self._db.read() as conn:
            raw = conn.execute(
                f"SELECT {_COLUMNS} FROM missions WHERE id = ?", (mission_id,)
            ).fetchone()
        return _row(raw) if raw is not None else None

    async def match(self, prefix: str, limit: int = 2) -> list[str]:
        return await asyncio.to_thread(self._match, prefix, limit)

    def _match(self, prefix: str, limit: int) -> list[str]:
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT id FROM missions WHERE id LIKE ? ESCAPE '\\' ORDER BY id LIMIT ?",
                (escaped + "%", limit),
            ).fetchall()
        return [r[0] for r in rows]

    async def recent(self, limit: int = 50) -> list[MissionRow]:
        return await asyncio.to_thread(self._recent, limit)

    def _recent(self, limit: int) -> list[MissionRow]:
        with self._db.read() as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM missions ORDER BY created_at DESC, id LIMIT ?", (limit,)
            ).fetchall()
        return [_row(r) for r in rows]
