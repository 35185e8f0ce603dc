"""How PostgreSQL spells what the shared store code leaves to each backend
(``store/sql/protocol.py``'s ``Dialect``): message bodies are text, read as ``jsonb``
where a query looks inside them."""

from __future__ import annotations

from psycopg import errors as pg_errors

from tau_engine.store.sql.jobs_dialect import JobsDialect
from tau_engine.store.sql.protocol import Dialect

PINNED_CANDIDATE = "strpos(body, '\"pinned\"') > 0"
"""The ``messages_pinned`` index's condition (``data_schema.py``), written the same way."""


def _path(path: str) -> str:
    return "{" + ",".join(path.split(".")) + "}"


def _json_text(column: str, path: str) -> str:
    return f"({column}::jsonb #>> '{_path(path)}')"


def _truthy(column: str, key: str) -> str:
    value = f"({column}::jsonb #> '{_path('meta.' + key)}')"
    return (
        f"(strpos({column}, '\"{key}\"') > 0 AND {value} IS NOT NULL AND {value} NOT IN "
        "('null'::jsonb, 'false'::jsonb, '0'::jsonb, '\"\"'::jsonb, '[]'::jsonb, '{}'::jsonb))"
    )


def _is_unique_violation(exc: BaseException) -> bool:
    return isinstance(exc, pg_errors.UniqueViolation) or isinstance(
        exc.__cause__, pg_errors.UniqueViolation
    )


POSTGRES = Dialect(
    name="postgresql",
    order="seq",
    json_text=_json_text,
    truthy=_truthy,
    pinned_candidate=PINNED_CANDIDATE,
    is_unique_violation=_is_unique_violation,
    locks_rows=True,
)

POSTGRES_JOBS = JobsDialect(
    name="postgresql",
    order="seq",
    locks_rows=True,
    merge_detail="detail || ?::jsonb",
    any_side_effects="side_effects OR ?",
    notify="SELECT pg_notify('tau_jobs', '')",
    read_detail="detail::text",
    prefix_order=" ORDER BY id",
)
"""The job queue's PostgreSQL fragments: writers run side by side, so reads lock what
they change; ``detail`` is ``jsonb``; commits that add work wake idle workers
(``LISTEN tau_jobs``)."""
