"""``tau sessions recover``: rebuild a damaged ``tau.db`` from what can still be read.

The damaged files (``tau.db`` and its ``-wal``/``-shm``) are first copied to
``.tau/backups/tau-<time>/``. A scratch copy of them is then read table by
table, forwards and backwards in key order, so the rows before and after a
damaged region both come back; rows whose content no longer parses are
dropped. The rows are written into a fresh database with the current schema,
the links the damage broke are repaired (a message whose parent was lost
starts a branch; a session whose head was lost ends at its newest message;
records pointing at lost rows go), and only when that database passes
SQLite's integrity and foreign-key checks does it replace ``tau.db``.

No other tau process may have the store open meanwhile (``StoreLock``).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from tau_engine.conversation import Message, Usage
from tau_engine.errors import StoreError
from tau_engine.events import parse_event
from tau_engine.paths import WorkspacePaths
from tau_engine.store.job_rows import JOB_COLUMNS, job_from_row
from tau_engine.store.session_lock import StoreLock
from tau_engine.store.sqlite.errors import forget_damage
from tau_engine.store.sqlite.schema import migrate

# Parents before children; the other tables of the schema (missions, memory) follow.
_FIRST = ["sessions", "messages", "events", "checkpoints", "redo_stack", "redo_files"]


@dataclass(frozen=True)
class _Table:
    """A table to copy: its columns and the key its scans are ordered by."""

    name: str
    columns: list[str]
    key: list[str]  # ["rowid"], or the primary key of a WITHOUT ROWID table

    @property
    def rowid(self) -> bool:
        return self.key == ["rowid"]


def _tables(conn: sqlite3.Connection) -> list[_Table]:
    """Every ordinary table of the schema in ``conn`` (not SQLite's own, not virtual
    tables nor the tables they keep their data in: those are rebuilt)."""
    rows = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    virtual = [name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL")]
    names = [
        name
        for name, _sql in rows
        if name not in virtual and not any(name.startswith(f"{v}_") for v in virtual)
    ]
    names.sort(key=lambda n: (_FIRST.index(n) if n in _FIRST else len(_FIRST), n))
    tables = []
    for name in names:
        info = conn.execute(f"PRAGMA table_info({name})").fetchall()
        sql = next(sql for n, sql in rows if n == name)
        key = ["rowid"]
        if "WITHOUT ROWID" in sql.upper():
            key = [row[1] for row in sorted(info, key=lambda r: r[5]) if row[5]]
        tables.append(_Table(name, [row[1] for row in info], key))
    return tables


# Repairs of what the damage broke: (table counted as dropped or fixed, statement).
_REPAIRS: list[tuple[str, str]] = [
    (
        "sessions",
        "INSERT INTO sessions (id, title, model, created_at, updated_at, workspace, "
        "meta) SELECT session_id, '(recovered)', coalesce(max(model), ''), "
        "min(created_at), max(created_at), :workspace, '{\"recovered\": true}' "
        "FROM messages WHERE session_id NOT IN (SELECT id FROM sessions) "
        "GROUP BY session_id",
    ),
    (
        "messages",
        "UPDATE messages SET parent_id = NULL WHERE parent_id IS NOT NULL AND "
        "parent_id NOT IN (SELECT id FROM messages)",
    ),
    (
        "sessions",
        "UPDATE sessions SET head_id = (SELECT m.id FROM messages m WHERE "
        "m.session_id = sessions.id AND NOT EXISTS (SELECT 1 FROM messages c WHERE "
        "c.parent_id = m.id) ORDER BY m.rowid DESC LIMIT 1) WHERE head_id IS NULL "
        "OR head_id NOT IN (SELECT id FROM messages WHERE session_id = sessions.id)",
    ),
    ("events", "DELETE FROM events WHERE session_id NOT IN (SELECT id FROM sessions)"),
    (
        "checkpoints",
        "DELETE FROM checkpoints WHERE session_id NOT IN (SELECT id FROM "
        "sessions) OR message_id NOT IN (SELECT id FROM messages)",
    ),
    (
        "redo_stack",
        "DELETE FROM redo_stack WHERE session_id NOT IN (SELECT id FROM sessions) "
        "OR undone_head NOT IN (SELECT id FROM messages)",
    ),
    (
        "redo_files",
        "DELETE FROM redo_files WHERE NOT EXISTS (SELECT 1 FROM redo_stack r "
        "WHERE r.session_id = redo_files.session_id AND r.pos = redo_files.pos)",
    ),
    # A job's attempts and log go with it (its log refuses deletes only while it exists).
    ("job_attempts", "DELETE FROM job_attempts WHERE job_id NOT IN (SELECT id FROM jobs)"),
    ("job_events", "DELETE FROM job_events WHERE job_id NOT IN (SELECT id FROM jobs)"),
]


@dataclass
class TableRecovery:
    """What came back of one table."""

    read: int = 0  # rows read from the damaged database
    unreadable: bool = False  # a scan hit the damage: rows in the damaged part are lost
    dropped: int = 0  # rows read but not kept (content unreadable, or pointing at lost rows)
    repaired: int = 0  # rows kept with a broken link repaired
    recreated: int = 0  # rows made up for lost ones (a session whose messages survived)

    @property
    def kept(self) -> int:
        return self.read - self.dropped


@dataclass
class RecoveryReport:
    """The outcome of ``recover_store``."""

    db_path: Path
    backup_dir: Path
    tables: dict[str, TableRecovery] = field(default_factory=dict)
    opened: bool = True  # False when nothing of the damaged file could be read

    def summary(self) -> str:
        """Plain lines for the terminal."""
        kept = {name: t.kept for name, t in self.tables.items()}
        sessions = kept["sessions"] + self.tables["sessions"].recreated
        lines = [
            f"recovered {self.db_path}: {sessions} session(s), "
            f"{kept['messages']} message(s), {kept['events']} event(s)"
        ]
        if not self.opened:
            lines.append("nothing could be read from the damaged file; the store is now empty")
        for name, table in self.tables.items():
            if table.unreadable:
                lines.append(f"part of {name} could not be read: the rows there are lost")
            if table.dropped:
                lines.append(
                    f"dropped {table.dropped} {name} row(s) that were unreadable or "
                    "pointed at lost rows"
                )
            if table.repaired:
                lines.append(f"repaired {table.repaired} {name} row(s) whose links were lost")
            if table.recreated:
                lines.append(
                    f"recreated {table.recreated} lost {name} row(s) (untitled, "
                    "usage not known) for the messages that survived them"
                )
        lines.append(f"the damaged files are kept in {self.backup_dir}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "db_path": str(self.db_path),
            "backup_dir": str(self.backup_dir),
            "opened": self.opened,
            "tables": {
                name: {
                    "read": t.read,
                    "kept": t.kept,
                    "dropped": t.dropped,
                    "repaired": t.repaired,
                    "recreated": t.recreated,
                    "unreadable": t.unreadable,
                }
                for name, t in self.tables.items()
            },
        }


def recover_store(
    paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
) -> RecoveryReport:
    """Back up ``tau.db``, rebuild it from its readable rows and put the result in place."""
    db_path = paths.db_path
    if not db_path.exists():
        raise StoreError(f"there is no {db_path} to recover")
    store_lock = StoreLock.exclusive(paths.locks_dir)
    try:
        backup_dir = _back_up(db_path, paths.state_dir / "backups", clock())
        report = RecoveryReport(db_path=db_path, backup_dir=backup_dir)
        rebuilt = paths.state_dir / "tau.db.recovering"
        rebuilt.unlink(missing_ok=True)
        with tempfile.TemporaryDirectory(dir=paths.state_dir, prefix=".recover-") as scratch:
            source = Path(scratch) / "damaged.db"
            for suffix in ("", "-wal"):
                if Path(f"{backup_dir / db_path.name}{suffix}").exists():
                    shutil.copyfile(f"{backup_dir / db_path.name}{suffix}", f"{source}{suffix}")
            _rebuild(source, rebuilt, report, str(paths.root))
        for suffix in ("-wal", "-shm"):  # they belong to the damaged file
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        os.replace(rebuilt, db_path)
        forget_damage(db_path)
        return report
    finally:
        store_lock.release()


def _back_up(db_path: Path, backups: Path, now: float) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    target = backups / f"tau-{stamp}"
    suffix = 1
    while target.exists():
        suffix += 1
        target = backups / f"tau-{stamp}-{suffix}"
    target.mkdir(parents=True)
    for extra in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{extra}")
        if path.exists():
            shutil.copy2(path, target / path.name)
    return target


def _rebuild(source: Path, rebuilt: Path, report: RecoveryReport, workspace: str) -> None:
    out = sqlite3.connect(rebuilt, isolation_level=None)
    try:
        migrate(out, rebuilt)
        tables = _tables(out)
        out.execute("BEGIN")
        try:
            damaged = sqlite3.connect(f"file:{urllib.parse.quote(str(source))}?mode=rw", uri=True)
            damaged.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            report.opened = False
            report.tables = {t.name: TableRecovery(unreadable=True) for t in tables}
        else:
            try:
                for table in tables:
                    report.tables[table.name] = _copy_table(damaged, out, table)
                _carry_sequences(damaged, out)
            finally:
                damaged.close()
            for name, statement in _REPAIRS:
                changed = max(out.execute(statement, {"workspace": workspace}).rowcount, 0)
                verb = statement.split(" ", 1)[0]
                if verb == "DELETE":
                    report.tables[name].dropped += changed
                elif verb == "INSERT":
                    report.tables[name].recreated += changed
                else:
                    report.tables[name].repaired += changed
        _rebuild_full_text_indexes(out)
        out.execute("COMMIT")
        if (
            out.execute("PRAGMA integrity_check").fetchone()[0] != "ok"
            or out.execute("PRAGMA foreign_key_check").fetchall()
        ):
            raise StoreError(
                f"the rebuilt store failed its checks; {rebuilt} is left for a "
                "look, and tau.db was not replaced"
            )
    finally:
        out.close()


def _carry_sequences(damaged: sqlite3.Connection, out: sqlite3.Connection) -> None:
    """Keep AUTOINCREMENT counters where they were, so no id is ever handed out twice."""
    try:
        sequences = damaged.execute("SELECT name, seq FROM sqlite_sequence").fetchall()
    except sqlite3.DatabaseError:
        return  # the copied rows set them as far as they go
    for name, seq in sequences:
        if (
            out.execute(
                "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name)
            ).rowcount
            == 0
        ):
            out.execute(
                "INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE EXISTS "
                "(SELECT 1 FROM sqlite_master WHERE name = ?)",
                (name, seq, name),
            )


def _rebuild_full_text_indexes(out: sqlite3.Connection) -> None:
    for (name,) in out.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND "
        "sql LIKE 'CREATE VIRTUAL TABLE%USING fts5%'"
    ).fetchall():
        out.execute(f"INSERT INTO {name}({name}) VALUES ('rebuild')")


def _copy_table(
    damaged: sqlite3.Connection, out: sqlite3.Connection, spec: _Table
) -> TableRecovery:
    table = TableRecovery()
    name = spec.name
    try:
        # A database from an older tau lacks the newer columns (they keep their
        # defaults) or tables (nothing to read).
        present = {row[1] for row in damaged.execute(f"PRAGMA table_info({name})")}
    except sqlite3.DatabaseError:
        table.unreadable = True
        return table
    if not present:
        return table
    columns = [column for column in spec.columns if column in present]
    names = [*columns] if not spec.rowid else ["rowid", *columns]
    key_at = [names.index(k) for k in spec.key]
    rows: dict[Any, tuple[Any, ...]] = {}
    for descending in (False, True):
        order = ", ".join(f"{k} {'DESC' if descending else 'ASC'}" for k in spec.key)
        for row in _scan(damaged, f"SELECT {', '.join(names)} FROM {name} ORDER BY {order}", table):
            rows.setdefault(tuple(row[i] for i in key_at), row)
        if not table.unreadable:
            break  # the forward scan read everything
    table.read = len(rows)
    insert = (
        f"INSERT OR IGNORE INTO {name} ({', '.join(names)}) "
        f"VALUES ({', '.join('?' for _ in names)})"
    )
    for row_key in sorted(rows, key=_sortable):
        checked = _checked(name, dict(zip(names, rows[row_key], strict=True)))
        if checked is None:
            table.dropped += 1
            continue
        out.execute(insert, [checked[n] for n in names])
    return table


def _sortable(key: tuple[Any, ...]) -> tuple[Any, ...]:
    # Key columns may mix types in a damaged file: order by type first.
    return tuple((type(part).__name__, part) for part in key)


def _scan(conn: sqlite3.Connection, sql: str, table: TableRecovery) -> Iterator[tuple[Any, ...]]:
    """Rows of ``sql`` until the end or the first damaged page (then ``unreadable``)."""
    try:
        cursor = conn.execute(sql)
        while True:
            row = cursor.fetchone()
            if row is None:
                return
            yield row
    except sqlite3.DatabaseError:
        table.unreadable = True


def _checked(name: str, row: dict[str, Any]) -> dict[str, Any] | None:
    """The row if its content still parses (sessions' metadata is reset instead)."""
    try:
        if name == "messages":
            Message.model_validate_json(row["body"])
            if row["usage"] is not None:
                Usage.model_validate_json(row["usage"])
        elif name == "events":
            parse_event(row["json"])
        elif name == "sessions":
            try:
                json.loads(row["meta"])
            except (TypeError, ValueError):
                row["meta"] = '{"recovered": true}'
        elif name == "jobs":
            job_from_row(tuple(row[c] for c in JOB_COLUMNS.split(", ")))
    except (ValidationError, ValueError, TypeError, StoreError):
        return None
    return row
