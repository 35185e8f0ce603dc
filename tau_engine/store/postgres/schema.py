"""The PostgreSQL store's tables, created and migrated in numbered steps.

``tau_schema`` holds the version. Migrating runs in one transaction under an advisory
lock, so two processes opening a new database at once never both create the tables; a
database written by a newer tau is refused rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable

from tau_engine.errors import StoreError
from tau_engine.store.postgres.change_triggers import v6_change_triggers
from tau_engine.store.postgres.connection import Connection
from tau_engine.store.postgres.data_schema import v2_sessions, v3_missions, v4_memory

MIGRATE_LOCK = 0x7461755F6D6967  # "tau_mig": the advisory lock key of migrations


def _v1_jobs(conn: Connection) -> None:
    """The job queue, shaped as SQLite's (``store/sqlite/schema.py``'s v6): ``seq`` is
    the submission order SQLite reads from its rowid; times are unix seconds from the
    queue's clock; the log refuses updates, and deletes while its job exists."""
    for statement in _JOBS_SCHEMA:
        conn.execute(statement)


_JOBS_SCHEMA = (
    """CREATE TABLE jobs (
        seq bigserial UNIQUE,
        id text PRIMARY KEY,
        kind text NOT NULL,
        inputs text NOT NULL,
        signature text NOT NULL DEFAULT '',
        dedup_key text,
        priority integer NOT NULL DEFAULT 0,
        state text NOT NULL,
        reason text NOT NULL,
        message text NOT NULL DEFAULT '',
        attempt integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 1,
        fence bigint NOT NULL DEFAULT 0,
        owner text,
        lease_expires_at double precision,
        heartbeat_at double precision,
        progress_at double precision,
        phase text NOT NULL DEFAULT '',
        last_line text NOT NULL DEFAULT '',
        last_error text NOT NULL DEFAULT '',
        next_run_at double precision,
        cancel_requested_at double precision,
        replay_of text,
        session_id text,
        result text,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL,
        started_at double precision,
        finished_at double precision
    )""",
    """CREATE UNIQUE INDEX jobs_live_key ON jobs (dedup_key)
        WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running', 'recovering')""",
    """CREATE INDEX jobs_claimable ON jobs (priority DESC, seq)
        WHERE state IN ('queued', 'recovering')""",
    "CREATE INDEX jobs_running ON jobs (lease_expires_at) WHERE state = 'running'",
    "CREATE INDEX jobs_by_created ON jobs (created_at)",
    """CREATE TABLE job_attempts (
        job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        fence bigint NOT NULL,
        reason text NOT NULL,
        owner text NOT NULL,
        started_at double precision NOT NULL,
        finished_at double precision,
        outcome text,
        end_reason text,
        error text NOT NULL DEFAULT '',
        session_id text,
        child_pid integer,
        exit_code integer,
        side_effects boolean NOT NULL DEFAULT false,
        detail jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (job_id, attempt)
    )""",
    """CREATE TABLE job_events (
        job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
        seq integer NOT NULL,
        ts double precision NOT NULL,
        type text NOT NULL,
        attempt integer NOT NULL DEFAULT 0,
        data text NOT NULL DEFAULT '{}',
        PRIMARY KEY (job_id, seq)
    )""",
    """CREATE FUNCTION tau_job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT 1 FROM jobs WHERE id = OLD.job_id) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'job events are append-only';
    END $$""",
    """CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
        FOR EACH ROW EXECUTE FUNCTION tau_job_events_append_only()""",
)


def _v5_job_workspaces(conn: Connection) -> None:
    """Jobs belong to a workspace (``store/workspace_key.py``), so several repositories
    share one database without seeing or claiming each other's jobs: the column, and the
    indexes of claims, recovery, listings and live keys led by it. Jobs queued before
    this step belong to no workspace ('') and are left as they are."""
    for statement in _WORKSPACE_SCHEMA:
        conn.execute(statement)


_WORKSPACE_SCHEMA = (
    "ALTER TABLE jobs ADD COLUMN workspace text NOT NULL DEFAULT ''",
    "DROP INDEX jobs_live_key",
    """CREATE UNIQUE INDEX jobs_live_key ON jobs (workspace, dedup_key)
        WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running', 'recovering')""",
    "DROP INDEX jobs_claimable",
    """CREATE INDEX jobs_claimable ON jobs (workspace, priority DESC, seq)
        WHERE state IN ('queued', 'recovering')""",
    "DROP INDEX jobs_running",
    """CREATE INDEX jobs_running ON jobs (workspace, lease_expires_at)
        WHERE state = 'running'""",
    "DROP INDEX jobs_by_created",
    "CREATE INDEX jobs_by_created ON jobs (workspace, created_at)",
)

MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_jobs,
    v2_sessions,
    v3_missions,
    v4_memory,
    _v5_job_workspaces,
    v6_change_triggers,
]
SCHEMA_VERSION = len(MIGRATIONS)


def require_current(conn: Connection, where: str) -> None:
    """Refuse, in one line, a database not at ``SCHEMA_VERSION``, changing nothing: what a
    read-only opening checks instead of migrating."""
    exists = conn.execute("SELECT to_regclass('tau_schema') IS NOT NULL").fetchone()
    row = None
    if exists is not None and exists[0]:
        row = conn.execute("SELECT version FROM tau_schema").fetchone()
    current = int(row[0]) if row else 0
    _refuse_newer(current, where)
    if current < SCHEMA_VERSION:
        state = "holds no tau store" if current == 0 else f"holds tau's schema v{current}"
        raise StoreError(
            f"{where} {state} and this command only reads (this tau needs "
            f"v{SCHEMA_VERSION}); create or upgrade it first with a normal tau run "
            "or tau store migrate"
        )


def migrate(conn: Connection, where: str) -> None:
    """Bring the database to ``SCHEMA_VERSION`` (creating it when empty)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS tau_schema ("
            "one boolean PRIMARY KEY DEFAULT true CHECK (one), "
            "version integer NOT NULL)"
        )
        row = conn.execute("SELECT version FROM tau_schema").fetchone()
        current = int(row[0]) if row else 0
        _refuse_newer(current, where)
        for step in MIGRATIONS[current:]:
            step(conn)
        if current != SCHEMA_VERSION:
            conn.execute(
                "INSERT INTO tau_schema (version) VALUES (%s) ON CONFLICT (one) "
                "DO UPDATE SET version = EXCLUDED.version",
                (SCHEMA_VERSION,),
            )


def _refuse_newer(current: int, where: str) -> None:
    if current > SCHEMA_VERSION:
        raise StoreError(
            f"{where} was written by a newer tau (schema v{current}; this "
            f"tau knows v{SCHEMA_VERSION}); upgrade tau to use it"
        )
