"""The schema of ``.tau/tau.db`` and the connection settings every opener uses.

The schema is versioned with ``PRAGMA user_version``: ``MIGRATIONS[i]`` takes a
database from version ``i`` to ``i + 1``. Migrations are append-only; a shipped
one is never edited, so a database created by any older tau upgrades the same
way. Opening a database newer than this tau knows is refused rather than
guessed at.
"""

from __future__ import annotations

import os
import sqlite3
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from tau_engine.errors import StoreError
from tau_engine.store.sqlite.errors import is_damage, refuse_if_damaged, store_error

BUSY_TIMEOUT_MS = 5_000
"""How long a writer waits for another process (TUI, headless run, live-watch)."""


def _v1_conversations(conn: sqlite3.Connection) -> None:
    """Sessions, their message DAG and their event log.

    The parent link has no ``ON DELETE CASCADE``: deleting a long chain would
    recurse once per message, past SQLite's trigger depth limit. A session's
    messages are deleted together, through the cascade on ``session_id``.
    """
    _run_script(
        conn,
        """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            head_id TEXT,
            workspace TEXT NOT NULL DEFAULT '',
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cached_input_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            reasoning_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL,
            meta TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX sessions_by_update ON sessions(updated_at);

        CREATE TABLE messages (
            id TEXT PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            parent_id TEXT REFERENCES messages(id),
            created_at REAL NOT NULL,
            role TEXT NOT NULL,
            body TEXT NOT NULL,
            usage TEXT,
            cost_usd REAL,
            model TEXT
        );
        CREATE INDEX messages_by_session ON messages(session_id);
        CREATE INDEX messages_by_parent ON messages(parent_id);

        CREATE TABLE events (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            ts REAL NOT NULL,
            json TEXT NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID;
        """,
    )


def _v2_checkpoints(conn: sqlite3.Connection) -> None:
    """File checkpoints of each turn, and the redo stack that undo fills."""
    _run_script(
        conn,
        """
        CREATE TABLE checkpoints (
            seq INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            path TEXT NOT NULL,
            blob TEXT,
            mode INTEGER,
            created_at REAL NOT NULL,
            UNIQUE (message_id, path)
        );
        CREATE INDEX checkpoints_by_session ON checkpoints(session_id);
        CREATE INDEX checkpoints_by_blob ON checkpoints(blob);

        CREATE TABLE redo_stack (
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            pos INTEGER NOT NULL,
            undone_head TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
            restored_head TEXT,
            created_at REAL NOT NULL,
            PRIMARY KEY (session_id, pos)
        );
        CREATE TABLE redo_files (
            session_id TEXT NOT NULL,
            pos INTEGER NOT NULL,
            path TEXT NOT NULL,
            blob TEXT,
            mode INTEGER,
            PRIMARY KEY (session_id, pos, path),
            FOREIGN KEY (session_id, pos) REFERENCES redo_stack(session_id, pos)
                ON DELETE CASCADE
        );
        CREATE INDEX redo_files_by_blob ON redo_files(blob);
        """,
    )


def _v3_missions(conn: sqlite3.Connection) -> None:
    """Coding missions: one row each, the state machine's record in ``state`` (JSON).

    The columns beside ``state`` repeat what listing and status views filter and sort
    on; ``revision`` counts saves, so a writer can tell it read the latest state.
    """
    _run_script(
        conn,
        """
        CREATE TABLE missions (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            phase TEXT NOT NULL,
            outcome TEXT,
            reason TEXT,
            commit_sha TEXT,
            revision INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL
        );
        CREATE INDEX missions_by_created ON missions(created_at)
        """,
    )


def _v4_memory(conn: sqlite3.Connection) -> None:
    """Learned memory (issue 15): entries, and an FTS5 index over the live ones.

    Entries are never deleted; a retired one leaves the index (the ``memory_live`` view is
    the index's content, so ``rebuild`` indexes live entries only). One live entry per
    normalized text, and one live trusted entry per namespace and subject key. Ids are
    ``AUTOINCREMENT`` so that "memory #12" never names two entries. The tokenizer is
    porter over unicode61 (diacritics folded); see docs/memory.md for why no trigram index.
    The trigger bodies hold ';', so each statement runs alone.
    """
    columns = "text, tags, namespace, identifier_parts"
    new_values = "new.id, new.text, new.tags, new.namespace, new.identifier_parts"
    old_values = "old.id, old.text, old.tags, old.namespace, old.identifier_parts"
    statements = [
        """
        CREATE TABLE memory_entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            namespace TEXT NOT NULL,
            subject TEXT,
            text TEXT NOT NULL,
            tags TEXT NOT NULL DEFAULT '',
            identifier_parts TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('user', 'model', 'tool', 'import')),
            session_id TEXT,
            tool_call_id TEXT,
            trust TEXT NOT NULL CHECK (trust IN ('trusted', 'untrusted')),
            trust_reason TEXT,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            approved_at REAL,
            retired_at REAL,
            retired_reason TEXT,
            supersedes INTEGER,
            superseded_by INTEGER,
            content_hash TEXT NOT NULL
        )
        """,
        "CREATE UNIQUE INDEX memory_live_text ON memory_entries(content_hash) "
        "WHERE retired_at IS NULL",
        "CREATE UNIQUE INDEX memory_live_subject ON memory_entries(namespace, subject) "
        "WHERE retired_at IS NULL AND subject IS NOT NULL AND trust = 'trusted'",
        "CREATE INDEX memory_by_namespace ON memory_entries(namespace)",
        f"CREATE VIEW memory_live AS SELECT id, {columns} FROM memory_entries "
        "WHERE retired_at IS NULL",
        f"CREATE VIRTUAL TABLE memory_fts USING fts5({columns}, content='memory_live', "
        "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')",
        f"""
        CREATE TRIGGER memory_fts_insert AFTER INSERT ON memory_entries
        WHEN new.retired_at IS NULL BEGIN
            INSERT INTO memory_fts(rowid, {columns}) VALUES ({new_values});
        END
        """,
        f"""
        CREATE TRIGGER memory_fts_update AFTER UPDATE OF {columns}, retired_at
        ON memory_entries BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, {columns})
                SELECT 'delete', {old_values} WHERE old.retired_at IS NULL;
            INSERT INTO memory_fts(rowid, {columns})
                SELECT {new_values} WHERE new.retired_at IS NULL;
        END
        """,
        f"""
        CREATE TRIGGER memory_fts_delete AFTER DELETE ON memory_entries
        WHEN old.retired_at IS NULL BEGIN
            INSERT INTO memory_fts(memory_fts, rowid, {columns}) VALUES ('delete', {old_values});
        END
        """,
    ]
    for statement in statements:
        conn.execute(statement)


PINNED_CANDIDATE = "instr(body, '\"pinned\"') > 0"
"""A message whose body mentions ``pinned`` (the ``messages_pinned`` index's condition)."""


def _v5_loading_from_compaction(conn: sqlite3.Connection) -> None:
    """What lets a session load from its last compaction on, without reading the
    summarized history: a small partial index of the messages that may be pinned
    (usually none; they are the only older messages a request needs), one of the tool
    results, and whether the session's usage totals include estimated figures (they were
    read back from every message before)."""
    conn.execute(f"CREATE INDEX messages_pinned ON messages(session_id) WHERE {PINNED_CANDIDATE}")
    # Tool results alone, for what must look at the whole session (memory's taint).
    conn.execute("CREATE INDEX messages_tool_results ON messages(session_id) WHERE role = 'tool'")
    conn.execute("ALTER TABLE sessions ADD COLUMN usage_estimated INTEGER NOT NULL DEFAULT 0")
    conn.execute(
        "UPDATE sessions SET usage_estimated = 1 WHERE id IN (SELECT session_id FROM messages "
        "WHERE usage IS NOT NULL AND json_extract(usage, '$.estimated') = 1)"
    )


def _v6_jobs(conn: sqlite3.Connection) -> None:
    """Background jobs: the queue, each job's attempts and its append-only log.

    Only a live job (queued, running, recovering) holds its dedup key, so the
    unique index on the key covers just those rows. The log refuses updates, and
    deletes while its job exists: rows go only with their job (``tau jobs prune``).
    Statements run one by one: the triggers' bodies contain ``;``.
    """
    for statement in _JOBS_SCHEMA:
        conn.execute(statement)


_JOBS_SCHEMA = (
    """CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        inputs TEXT NOT NULL,
        signature TEXT NOT NULL DEFAULT '',
        dedup_key TEXT,
        priority INTEGER NOT NULL DEFAULT 0,
        state TEXT NOT NULL,
        reason TEXT NOT NULL,
        message TEXT NOT NULL DEFAULT '',
        attempt INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 1,
        fence INTEGER NOT NULL DEFAULT 0,
        owner TEXT,
        lease_expires_at REAL,
        heartbeat_at REAL,
        progress_at REAL,
        phase TEXT NOT NULL DEFAULT '',
        last_line TEXT NOT NULL DEFAULT '',
        last_error TEXT NOT NULL DEFAULT '',
        next_run_at REAL,
        cancel_requested_at REAL,
        replay_of TEXT,
        session_id TEXT,
        result TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        started_at REAL,
        finished_at REAL
    )""",
    """CREATE UNIQUE INDEX jobs_live_key ON jobs(dedup_key)
        WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running', 'recovering')""",
    # Entries of an index end with the rowid: this one is in claim order (priority,
    # then submission), so a claim reads the first waiting row instead of sorting them all.
    """CREATE INDEX jobs_claimable ON jobs(priority DESC)
        WHERE state IN ('queued', 'recovering')""",
    "CREATE INDEX jobs_running ON jobs(lease_expires_at) WHERE state = 'running'",
    "CREATE INDEX jobs_by_created ON jobs(created_at)",
    """CREATE TABLE job_attempts (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        attempt INTEGER NOT NULL,
        fence INTEGER NOT NULL,
        reason TEXT NOT NULL,
        owner TEXT NOT NULL,
        started_at REAL NOT NULL,
        finished_at REAL,
        outcome TEXT,
        end_reason TEXT,
        error TEXT NOT NULL DEFAULT '',
        session_id TEXT,
        child_pid INTEGER,
        exit_code INTEGER,
        side_effects INTEGER NOT NULL DEFAULT 0,
        detail TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (job_id, attempt)
    ) WITHOUT ROWID""",
    """CREATE TABLE job_events (
        job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        ts REAL NOT NULL,
        type TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        data TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (job_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TRIGGER job_events_append_only BEFORE UPDATE ON job_events
        BEGIN SELECT RAISE(ABORT, 'job events are append-only'); END""",
    """CREATE TRIGGER job_events_kept BEFORE DELETE ON job_events
        WHEN EXISTS (SELECT 1 FROM jobs WHERE id = OLD.job_id)
        BEGIN SELECT RAISE(ABORT, 'job events are append-only'); END""",
)


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    # ``executescript`` would commit the migration's open transaction first,
    # so the statements run one by one inside it (no ';' inside the SQL text).
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_conversations,
    _v2_checkpoints,
    _v3_missions,
    _v4_memory,
    _v5_loading_from_compaction,
    _v6_jobs,
]
SCHEMA_VERSION = len(MIGRATIONS)


def connect(db_path: Path) -> sqlite3.Connection:
    """Open ``db_path`` with tau's settings: WAL, ``synchronous=NORMAL``, busy timeout, FKs.

    The connection is in autocommit mode; callers open transactions themselves
    (``BEGIN IMMEDIATE`` for writes, so that two processes never deadlock on a
    read lock upgrade). It may be used from any thread under the caller's lock.
    """
    refuse_if_damaged(db_path)
    unwritable = [p for p in (db_path, db_path.parent) if p.exists() and not os.access(p, os.W_OK)]
    if unwritable:
        raise StoreError(f"no write permission on {unwritable[0]}")
    try:
        conn = sqlite3.connect(
            db_path,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise store_error(db_path, exc, prefix="cannot open ") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise store_error(db_path, exc, prefix="not a usable tau database: ") from exc
    return conn


def connect_readonly(db_path: Path) -> sqlite3.Connection:
    """Open ``db_path`` for reading only, for a user who may not write it or its folder.

    A WAL database normally needs its ``-shm`` file created; when that is not
    possible and no ``-wal`` file holds pending changes, the file is opened as
    immutable (it then has nothing more to read). The schema must be current:
    a read-only store cannot be migrated.
    """
    refuse_if_damaged(db_path)
    quoted = urllib.parse.quote(str(db_path))
    wal = Path(f"{db_path}-wal")
    try:
        try:
            conn = sqlite3.connect(
                f"file:{quoted}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=BUSY_TIMEOUT_MS / 1000,
            )
            conn.execute("PRAGMA schema_version").fetchone()
        except sqlite3.OperationalError:
            if wal.exists() and wal.stat().st_size > 0:
                raise
            conn = sqlite3.connect(
                f"file:{quoted}?immutable=1",
                uri=True,
                isolation_level=None,
                check_same_thread=False,
            )
        found = _user_version(conn)
    except sqlite3.Error as exc:
        raise store_error(db_path, exc, prefix="cannot read ") from exc
    if found != SCHEMA_VERSION:
        conn.close()
        raise StoreError(
            f"{db_path} has schema version {found}, this tau reads "
            f"{SCHEMA_VERSION}; open it once with write permission to migrate it"
        )
    return conn


def _enable_wal(conn: sqlite3.Connection) -> None:
    # Switching the journal mode needs a moment of exclusive access; when
    # several processes open a fresh database at once, one of them wins and
    # the others find WAL already set.
    for _attempt in range(50):
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.02)
            continue
        if str(mode).lower() == "wal":
            return
        raise StoreError(f"cannot put the state store in WAL mode (got {mode!r})")
    raise StoreError("cannot put the state store in WAL mode: the database stays locked")


def migrate(conn: sqlite3.Connection, db_path: Path, *, target: int = SCHEMA_VERSION) -> int:
    """Bring the database up to ``target``; return the version found before migrating."""
    try:
        found = _user_version(conn)
    except sqlite3.Error as exc:
        raise store_error(db_path, exc) from exc
    if found > SCHEMA_VERSION:
        raise StoreError(
            f"{db_path} has schema version {found}, newer than this tau knows "
            f"({SCHEMA_VERSION}); upgrade tau to open it"
        )
    if found >= target:
        return found
    try:
        conn.execute("BEGIN IMMEDIATE")
        # Another process may have migrated while this one waited for the lock.
        current = _user_version(conn)
        for version in range(current, target):
            MIGRATIONS[version](conn)
        if current < target:
            conn.execute(f"PRAGMA user_version = {target}")
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if is_damage(exc):
            raise store_error(db_path, exc) from exc
        raise StoreError(f"cannot migrate {db_path} to schema version {target}: {exc}") from exc
    return found


def _user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
