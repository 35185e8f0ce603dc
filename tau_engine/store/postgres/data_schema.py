"""The PostgreSQL tables of sessions, missions and memory (migration steps of
``schema.py``), shaped as SQLite's (``store/sqlite/schema.py``) so the two backends hold
the same records and ``tau store migrate`` copies one into the other column for column.

Differences from SQLite, each for a reason: ``seq`` columns give the insertion order
SQLite reads from its rowid; message bodies stay ``text`` (parsed by pydantic, as
SQLite's are) and are read as ``jsonb`` only where a query looks inside them; memory's
full-text index is a generated ``tsvector`` column with its GIN index, in the same row
as the entry, so it can never disagree with it.
"""

from __future__ import annotations

import psycopg

from tau_engine.store.postgres.connection import Connection

SESSIONS_SCHEMA = (
    """CREATE TABLE sessions (
        seq bigserial UNIQUE,
        id text PRIMARY KEY,
        title text NOT NULL DEFAULT '',
        model text NOT NULL DEFAULT '',
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        head_id text,
        workspace text NOT NULL DEFAULT '',
        input_tokens bigint NOT NULL DEFAULT 0,
        output_tokens bigint NOT NULL DEFAULT 0,
        cached_input_tokens bigint NOT NULL DEFAULT 0,
        cache_write_tokens bigint NOT NULL DEFAULT 0,
        reasoning_tokens bigint NOT NULL DEFAULT 0,
        cost_usd double precision,
        meta text NOT NULL DEFAULT '{}',
        usage_estimated boolean NOT NULL DEFAULT false
    )""",
    "CREATE INDEX sessions_by_update ON sessions (updated_at)",
    """CREATE TABLE messages (
        seq bigserial UNIQUE,
        id text PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        parent_id text REFERENCES messages (id),
        created_at double precision NOT NULL,
        role text NOT NULL,
        body text NOT NULL,
        usage text,
        cost_usd double precision,
        model text
    )""",
    "CREATE INDEX messages_by_session ON messages (session_id, seq)",
    "CREATE INDEX messages_by_parent ON messages (parent_id)",
    "CREATE INDEX messages_tool_results ON messages (session_id) WHERE role = 'tool'",
    "CREATE INDEX messages_pinned ON messages (session_id) WHERE strpos(body, '\"pinned\"') > 0",
    """CREATE TABLE events (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        type text NOT NULL,
        ts double precision NOT NULL,
        json text NOT NULL,
        PRIMARY KEY (session_id, seq)
    )""",
    """CREATE TABLE checkpoints (
        seq bigserial PRIMARY KEY,
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        path text NOT NULL,
        blob text,
        mode integer,
        created_at double precision NOT NULL,
        UNIQUE (message_id, path)
    )""",
    "CREATE INDEX checkpoints_by_session ON checkpoints (session_id)",
    "CREATE INDEX checkpoints_by_blob ON checkpoints (blob)",
    """CREATE TABLE redo_stack (
        session_id text NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        pos integer NOT NULL,
        undone_head text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        restored_head text,
        created_at double precision NOT NULL,
        PRIMARY KEY (session_id, pos)
    )""",
    """CREATE TABLE redo_files (
        session_id text NOT NULL,
        pos integer NOT NULL,
        path text NOT NULL,
        blob text,
        mode integer,
        PRIMARY KEY (session_id, pos, path),
        FOREIGN KEY (session_id, pos) REFERENCES redo_stack (session_id, pos) ON DELETE CASCADE
    )""",
    "CREATE INDEX redo_files_by_blob ON redo_files (blob)",
)

MISSIONS_SCHEMA = (
    """CREATE TABLE missions (
        id text PRIMARY KEY,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        title text NOT NULL DEFAULT '',
        phase text NOT NULL,
        outcome text,
        reason text,
        commit_sha text,
        revision integer NOT NULL DEFAULT 0,
        state text NOT NULL
    )""",
    "CREATE INDEX missions_by_created ON missions (created_at)",
)

TEXT_SEARCH_CONFIG = "tau_english"
"""English stemming with no stop words: SQLite's porter tokenizer drops no word either,
so a search for "the" or "will" finds what it finds there."""

# Every ASCII character that is neither a letter nor a digit: SQLite's unicode61
# tokenizer splits words there, and so the index does (PostgreSQL's parser would keep
# ``src/main.py`` or ``a_b`` as one token, which a search for ``main`` never finds).
SEPARATORS = r"[!-/:-@\[-`{-~]+"


def words(column: str) -> str:
    """SQL for ``column`` with SQLite's word separators made spaces."""
    return f"regexp_replace({column}, '{SEPARATORS}', ' ', 'g')"


WORD_TOKENS = "asciiword, word, hword_part, hword_asciipart, asciihword, hword"

TEXT_SEARCH_SCHEMA = (
    f"""CREATE TEXT SEARCH DICTIONARY {TEXT_SEARCH_CONFIG}_stem
        (TEMPLATE = snowball, LANGUAGE = english)""",
    f"CREATE TEXT SEARCH CONFIGURATION {TEXT_SEARCH_CONFIG} (COPY = english)",
    f"""ALTER TEXT SEARCH CONFIGURATION {TEXT_SEARCH_CONFIG}
        ALTER MAPPING FOR {WORD_TOKENS} WITH {TEXT_SEARCH_CONFIG}_stem""",
)

MEMORY_SCHEMA = (
    f"""CREATE TABLE memory_entries (
        id bigserial PRIMARY KEY,
        namespace text NOT NULL,
        subject text,
        text text NOT NULL,
        tags text NOT NULL DEFAULT '',
        identifier_parts text NOT NULL DEFAULT '',
        source text NOT NULL CHECK (source IN ('user', 'model', 'tool', 'import')),
        session_id text,
        tool_call_id text,
        trust text NOT NULL CHECK (trust IN ('trusted', 'untrusted')),
        trust_reason text,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        approved_at double precision,
        retired_at double precision,
        retired_reason text,
        supersedes bigint,
        superseded_by bigint,
        content_hash text NOT NULL,
        search tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', {words("text")}), 'A')
            || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', {words("tags")}), 'B')
            || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', {words("namespace")}), 'C')
            || setweight(to_tsvector('{TEXT_SEARCH_CONFIG}', identifier_parts), 'D')
        ) STORED
    )""",
    "CREATE UNIQUE INDEX memory_live_text ON memory_entries (content_hash) "
    "WHERE retired_at IS NULL",
    "CREATE UNIQUE INDEX memory_live_subject ON memory_entries (namespace, subject) "
    "WHERE retired_at IS NULL AND subject IS NOT NULL AND trust = 'trusted'",
    "CREATE INDEX memory_by_namespace ON memory_entries (namespace)",
    "CREATE INDEX memory_search ON memory_entries USING gin (search) WHERE retired_at IS NULL",
)


def _run(conn: Connection, statements: tuple[str, ...]) -> None:
    for statement in statements:
        conn.execute(statement)


def v2_sessions(conn: Connection) -> None:
    """Sessions, their message DAG, event log, file checkpoints and redo stack."""
    _run(conn, SESSIONS_SCHEMA)


def v3_missions(conn: Connection) -> None:
    """Missions: one row each, the state machine's record in ``state`` (JSON)."""
    _run(conn, MISSIONS_SCHEMA)


def v4_memory(conn: Connection) -> None:
    """Learned memory with its full-text index (see ``TEXT_SEARCH_CONFIG``). Accents are
    folded (``unaccent``, as SQLite's ``remove_diacritics``) where the server has that
    extension (PostgreSQL's contrib, a trusted extension); without it, searches match
    accented words exactly."""
    _run(conn, TEXT_SEARCH_SCHEMA)
    try:
        with conn.transaction():  # a savepoint: a server without the extension goes on
            conn.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
            conn.execute(
                f"ALTER TEXT SEARCH CONFIGURATION {TEXT_SEARCH_CONFIG} "
                f"ALTER MAPPING FOR {WORD_TOKENS} WITH unaccent, {TEXT_SEARCH_CONFIG}_stem"
            )
    except psycopg.Error:
        pass
    _run(conn, MEMORY_SCHEMA)
