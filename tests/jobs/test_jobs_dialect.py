"""The job SQL both backends share keeps each engine's own fragments: PostgreSQL's claim
skips locked rows of its workspace in ``seq`` order, SQLite's takes the first waiting row
in ``rowid`` order, and the statements PostgreSQL runs are psycopg's after the rewrite."""

from __future__ import annotations

from tau_engine.store.postgres.database import to_format
from tau_engine.store.postgres.dialect import POSTGRES_JOBS
from tau_engine.store.sql.jobs_worker import JobWrites
from tau_engine.store.sqlite.dialect import SQLITE_JOBS


def _claim(writes: JobWrites, scoped: bool) -> str:
    return " ".join(writes._claim[scoped].split())


def test_postgres_claim_skips_locked_rows_of_its_workspace_in_seq_order() -> None:
    sql = _claim(JobWrites(POSTGRES_JOBS), scoped=True)
    assert "AND workspace = :workspace ORDER BY priority DESC, seq LIMIT 1" in sql
    assert sql.endswith("LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id")
    formatted = to_format(sql)
    assert (
        "%(workspace)s" in formatted and "%(lease)s" in formatted and ":workspace" not in formatted
    )


def test_sqlite_claim_takes_the_first_waiting_row_in_rowid_order_without_locks() -> None:
    sql = _claim(JobWrites(SQLITE_JOBS), scoped=False)
    assert "ORDER BY priority DESC, rowid LIMIT 1 ) RETURNING id" in sql
    assert "FOR UPDATE" not in sql and "workspace" not in sql


def test_postgres_fragments_survive_the_placeholder_rewrite() -> None:
    assert to_format(POSTGRES_JOBS.merge_detail) == "detail || %s::jsonb"
    assert to_format(POSTGRES_JOBS.any_side_effects) == "side_effects OR %s"
    assert to_format(POSTGRES_JOBS.notify) == "SELECT pg_notify('tau_jobs', '')"
    assert SQLITE_JOBS.notify == "" and not SQLITE_JOBS.locks_rows
