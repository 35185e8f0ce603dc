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
from tau_engine.store.schema import migrate
from tau_engine.store.session_lock import StoreLock
from tau_engine.store.sqlite_errors import forget_damage

# Parents before children; each table's key orders the forward and backward scans.
_TABLES: list[tuple[str, str]] = [
    ("sessions", "rowid"), ("messages", "rowid"), ("events", "session_id, seq"),
    ("checkpoints", "seq"), ("redo_stack", "rowid"), ("redo_files", "rowid"),
]
_WITHOUT_ROWID = {"events"}

# Repairs of what the damage broke: (table counted as dropped or fixed, statement).
_REPAIRS: list[tuple[str, str]] = [
    ("sessions", "INSERT INTO sessions (id, title, model, created_at, updated_at, workspace, "
                 "meta) SELECT session_id, '(recovered)', coalesce(max(model), ''), "
                 "min(created_at), max(created_at), :workspace, '{\"recovered\": true}' "
                 "FROM messages WHERE session_id NOT IN (SELECT id FROM sessions) "
                 "GROUP BY session_id"),
    ("messages", "UPDATE messages SET parent_id = NULL WHERE parent_id IS NOT NULL AND "
                 "parent_id NOT IN (SELECT id FROM messages)"),
    ("sessions", "UPDATE sessions SET head_id = (SELECT m.id FROM messages m WHERE "
                 "m.session_id = sessions.id AND NOT EXISTS (SELECT 1 FROM messages c WHERE "
                 "c.parent_id = m.id) ORDER BY m.rowid DESC LIMIT 1) WHERE head_id IS NULL "
                 "OR head_id NOT IN (SELECT id FROM messages WHERE session_id = sessions.id)"),
    ("events", "DELETE FROM events WHERE session_id NOT IN (SELECT id FROM sessions)"),
    ("checkpoints", "DELETE FROM checkpoints WHERE session_id NOT IN (SELECT id FROM "
                    "sessions) OR message_id NOT IN (SELECT id FROM messages)"),
    ("redo_stack", "DELETE FROM redo_stack WHERE session_id NOT IN (SELECT id FROM sessions) "
                   "OR undone_head NOT IN (SELECT id FROM messages)"),
    ("redo_files", "DELETE FROM redo_files WHERE NOT EXISTS (SELECT 1 FROM redo_stack r "
                   "WHERE r.session_id = redo_files.session_id AND r.pos = redo_files.pos)"),
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
        lines = [f"recovered {self.db_path}: {sessions} session(s), "
                 f"{kept['messages']} message(s), {kept['events']} event(s)"]
        if not self.opened:
            lines.append("nothing could be read from the damaged file; the store is now empty")
        for name, table in self.tables.items():
            if table.unreadable:
                lines.append(f"part of {name} could not be read: the rows there are lost")
            if table.dropped:
                lines.append(f"dropped {table.dropped} {name} row(s) that were unreadable or "
                             "pointed at lost rows")
            if table.repaired:
                lines.append(f"repaired {table.repaired} {name} row(s) whose links were lost")
            if table.recreated:
                lines.append(f"recreated {table.recreated} lost {name} row(s) (untitled, "
                             "usage not known) for the messages that survived them")
        lines.append(f"the damaged files are kept in {self.backup_dir}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"db_path": str(self.db_path), "backup_dir": str(self.backup_dir),
                "opened": self.opened,
                "tables": {name: {"read": t.read, "kept": t.kept, "dropped": t.dropped,
                                  "repaired": t.repaired, "recreated": t.recreated,
                                  "unreadable": t.unreadable}
                           for name, t in self.tables.items()}}


def recover_store(paths: WorkspacePaths, *, clock: Callable[[], float] = time.time
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
        columns = {name: [row[1] for row in out.execute(f"PRAGMA table_info({name})")]
                   for name, _key in _TABLES}
        out.execute("BEGIN")
        try:
            damaged = sqlite3.connect(f"file:{urllib.parse.quote(str(source))}?mode=rw",
                                      uri=True)
            damaged.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            report.opened = False
            report.tables = {name: TableRecovery(unreadable=True) for name, _ in _TABLES}
        else:
            try:
                for name, key in _TABLES:
                    report.tables[name] = _copy_table(damaged, out, name, key, columns[name])
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
        out.execute("COMMIT")
        if out.execute("PRAGMA integrity_check").fetchone()[0] != "ok" or \
                out.execute("PRAGMA foreign_key_check").fetchall():
            raise StoreError(f"the rebuilt store failed its checks; {rebuilt} is left for a "
                             "look, and tau.db was not replaced")
    finally:
        out.close()


def _copy_table(damaged: sqlite3.Connection, out: sqlite3.Connection, name: str, key: str,
                columns: list[str]) -> TableRecovery:
    table = TableRecovery()
    try:
        # A database from an older tau lacks the newer columns: they keep their defaults.
        present = {row[1] for row in damaged.execute(f"PRAGMA table_info({name})")}
    except sqlite3.DatabaseError:
        table.unreadable = True
        return table
    columns = [column for column in columns if column in present]
    select = ", ".join(columns if name in _WITHOUT_ROWID else ["rowid", *columns])
    rows: dict[Any, tuple[Any, ...]] = {}
    for descending in (False, True):
        order = ", ".join(f"{part.strip()} {'DESC' if descending else 'ASC'}"
                          for part in key.split(","))
        for row in _scan(damaged, f"SELECT {select} FROM {name} ORDER BY {order}", table):
            row_key = row[:2] if name in _WITHOUT_ROWID else row[0]
            rows.setdefault(row_key, row)
        if not table.unreadable:
            break  # the forward scan read everything
    table.read = len(rows)
    names = columns if name in _WITHOUT_ROWID else ["rowid", *columns]
    insert = (f"INSERT OR IGNORE INTO {name} ({', '.join(names)}) "
              f"VALUES ({', '.join('?' for _ in names)})")
    for row_key in sorted(rows, key=lambda k: (k if isinstance(k, tuple) else (k,))):
        checked = _checked(name, dict(zip(names, rows[row_key], strict=True)))
        if checked is None:
            table.dropped += 1
            continue
        out.execute(insert, [checked[n] for n in names])
    return table


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
    except (ValidationError, ValueError, TypeError):
        return None
    return row
