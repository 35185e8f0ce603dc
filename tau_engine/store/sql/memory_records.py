"""``MemoryRecords``: the transactions behind ``SqlMemoryStore``'s coroutines (run on
worker threads), in SQL both backends run: reading an entry, finding what a write
replaces, retiring and superseding, inserting, importing. Each runs inside the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from tau_engine.store.memory_model import (
    ImportedMemory,
    ImportReport,
    MemoryEntry,
    MemoryNotFoundError,
    MemoryStateError,
    NewMemory,
    Source,
    Trust,
    WriteOutcome,
    identifier_parts,
)
from tau_engine.store.sql.protocol import SqlConnection

COLUMNS = (
    "id, namespace, subject, text, tags, source, session_id, tool_call_id, trust, "
    "trust_reason, created_at, updated_at, approved_at, retired_at, retired_reason, "
    "supersedes, superseded_by, content_hash"
)
E_COLUMNS = ", ".join(f"e.{name.strip()}" for name in COLUMNS.split(","))


def entry_from_row(row: Sequence[Any]) -> MemoryEntry:
    """The entry in a row selected with ``COLUMNS``."""
    return MemoryEntry(
        id=row[0],
        namespace=row[1],
        subject=row[2],
        text=row[3],
        tags=tuple(row[4].split()) if row[4] else (),
        source=cast(Source, row[5]),
        session_id=row[6],
        tool_call_id=row[7],
        trust=cast(Trust, row[8]),
        trust_reason=row[9],
        created_at=row[10],
        updated_at=row[11],
        approved_at=row[12],
        retired_at=row[13],
        retired_reason=row[14],
        supersedes=row[15],
        superseded_by=row[16],
        content_hash=row[17],
    )


def like_prefix(namespace: str) -> str:
    """A ``LIKE … ESCAPE '\\'`` pattern of every namespace under ``namespace``."""
    escaped = namespace.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"


class MemoryRecords:
    """Entries' reads and writes inside a transaction (see the module)."""

    def _insert_returning_id(self, conn: SqlConnection, sql: str, params: tuple[Any, ...]) -> int:
        """Run an ``INSERT`` of one entry; its new id."""
        row = conn.execute(f"{sql} RETURNING id", params).fetchone()
        return int(row[0])

    def _get(self, conn: SqlConnection, entry_id: int) -> MemoryEntry:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM memory_entries WHERE id = ?", (entry_id,)
        ).fetchone()
        if row is None:
            newest = self._newest(conn)
            shown = f"the newest is #{newest}" if newest else "memory is empty"
            raise MemoryNotFoundError(
                f"no memory #{entry_id} ({shown})", entry_id=entry_id, newest_id=newest
            )
        return entry_from_row(row)

    @staticmethod
    def _newest(conn: SqlConnection) -> int | None:
        row = conn.execute("SELECT max(id) FROM memory_entries").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def _targets(
        self, conn: SqlConnection, supersedes: int | None, namespace: str, subject: str | None
    ) -> list[MemoryEntry]:
        """The live entries a write replaces: its explicit target and the trusted holder
        of its subject key."""
        targets: list[MemoryEntry] = []
        if supersedes is not None:
            target = self._get(conn, supersedes)
            if target.retired_at is not None:
                raise MemoryStateError(not_live(target), entry=target)
            targets.append(target)
        if subject:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM memory_entries WHERE namespace = ? AND subject = ? "
                "AND retired_at IS NULL AND trust = 'trusted'",
                (namespace, subject),
            ).fetchone()
            if row is not None and all(t.id != row[0] for t in targets):
                targets.append(entry_from_row(row))
        return targets

    def _live_with_hash(self, conn: SqlConnection, digest: str) -> MemoryEntry | None:
        row = conn.execute(
            f"SELECT {COLUMNS} FROM memory_entries WHERE content_hash = ? AND retired_at IS NULL",
            (digest,),
        ).fetchone()
        return entry_from_row(row) if row is not None else None

    @staticmethod
    def _mark_retired(
        conn: SqlConnection,
        targets: Sequence[MemoryEntry],
        now: float,
        keep: int | None = None,
    ) -> list[int]:
        """Retire ``targets`` (but ``keep``); ``_supersede`` then says by what. Done first
        because the partial unique index allows one live trusted holder of a subject."""
        ids = [entry_id for entry_id in dict.fromkeys(t.id for t in targets) if entry_id != keep]
        for entry_id in ids:
            conn.execute(
                "UPDATE memory_entries SET retired_at = ?, updated_at = ? WHERE id = ?",
                (now, now, entry_id),
            )
        return ids

    def _supersede(
        self, conn: SqlConnection, ids: Sequence[int], by: int, note: str = ""
    ) -> tuple[MemoryEntry, ...]:
        for entry_id in ids:
            conn.execute(
                "UPDATE memory_entries SET superseded_by = ?, retired_reason = ? WHERE id = ?",
                (by, f"superseded by #{by}{note}", entry_id),
            )
        if ids:
            # An entry that replaced one by its subject key links back to it too.
            conn.execute(
                "UPDATE memory_entries SET supersedes = ? WHERE id = ? AND supersedes IS NULL",
                (ids[0], by),
            )
        return tuple(self._get(conn, entry_id) for entry_id in ids)

    def _insert(
        self,
        conn: SqlConnection,
        new: NewMemory,
        *,
        created_at: float,
        updated_at: float,
        retired_at: float | None = None,
        retired_reason: str | None = None,
    ) -> int:
        return self._insert_returning_id(
            conn,
            "INSERT INTO memory_entries (namespace, subject, text, tags, identifier_parts, "
            "source, session_id, tool_call_id, trust, trust_reason, created_at, updated_at, "
            "retired_at, retired_reason, supersedes, content_hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                new.namespace,
                new.subject,
                new.text,
                " ".join(new.tags),
                identifier_parts(new.text),
                new.source,
                new.session_id,
                new.tool_call_id,
                new.trust,
                new.trust_reason,
                created_at,
                updated_at,
                retired_at,
                retired_reason,
                new.supersedes,
                new.content_hash,
            ),
        )

    def _write(self, conn: SqlConnection, new: NewMemory, now: float) -> WriteOutcome:
        targets = self._targets(conn, new.supersedes, new.namespace, new.subject)
        trusted = new.trust == "trusted"
        same = self._live_with_hash(conn, new.content_hash)
        if same is not None and trusted and any(t.id == same.id for t in targets):
            if (same.namespace, same.subject, same.tags) == (new.namespace, new.subject, new.tags):
                return WriteOutcome(same, created=False)  # a correction that changes nothing
            same = None  # the same text filed again (new tags, namespace): it replaces it
        if same is not None and not (trusted and same.trust == "untrusted"):
            # The text is already stored: nothing new. A trusted write still retires what
            # it was meant to replace, in favour of the entry that says it.
            if not trusted:
                pending = tuple(t.id for t in targets if t.id != same.id)
                return WriteOutcome(same, created=False, pending=pending)
            ids = self._mark_retired(conn, targets, now, keep=same.id)
            retired = self._supersede(conn, ids, same.id)
            return WriteOutcome(self._get(conn, same.id), created=False, retired=retired)
        if not trusted:
            # Quarantined: it changes nothing else until the user approves it.
            new_id = self._insert(conn, new, created_at=now, updated_at=now)
            return WriteOutcome(
                self._get(conn, new_id), created=True, pending=tuple(t.id for t in targets)
            )
        if same is not None:
            # A trusted write of a quarantined entry's text replaces the quarantined copy.
            targets.append(same)
        ids = self._mark_retired(conn, targets, now)
        new_id = self._insert(conn, new, created_at=now, updated_at=now)
        retired = self._supersede(conn, ids, new_id)
        return WriteOutcome(self._get(conn, new_id), created=True, retired=retired)

    def _import(
        self, conn: SqlConnection, records: Sequence[ImportedMemory], now: float
    ) -> ImportReport:
        created: dict[int, int] = {}
        duplicates: dict[int, int] = {}
        retired: list[int] = []
        ordered = sorted(records, key=lambda r: r.old_id)
        for record in ordered:
            new = record.new
            holders: list[int] = []
            if record.retired_at is None:
                same = self._live_with_hash(conn, new.content_hash)
                if same is not None:
                    duplicates[record.old_id] = same.id
                    continue
                if new.trust == "trusted" and new.subject:
                    # The imported entry is the later word on its subject.
                    found = self._targets(conn, None, new.namespace, new.subject)
                    holders = self._mark_retired(conn, found, now)
            new_id = self._insert(
                conn,
                new,
                created_at=record.created_at,
                updated_at=record.updated_at,
                retired_at=record.retired_at,
                retired_reason=record.retired_reason,
            )
            created[record.old_id] = new_id
            self._supersede(conn, holders, new_id, " (import)")
            retired += holders
        # Links inside the file name the file's ids: map them to the new ones.
        for record in ordered:
            made = created.get(record.old_id)
            if made is None:
                continue
            by, target = record.superseded_by, record.new.supersedes
            by_id = (created.get(by) or duplicates.get(by)) if by is not None else None
            target_id = created.get(target) if target is not None else None
            conn.execute(
                "UPDATE memory_entries SET superseded_by = ?, supersedes = ? WHERE id = ?",
                (by_id, target_id, made),
            )
        return ImportReport(created=created, duplicates=duplicates, retired=tuple(retired))


def not_live(entry: MemoryEntry) -> str:
    if entry.superseded_by is not None:
        return f"memory #{entry.id} is retired: superseded by #{entry.superseded_by}"
    reason = f" ({entry.retired_reason})" if entry.retired_reason else ""
    return f"memory #{entry.id} is retired{reason}"
