"""How one engine spells the few parts of the job queue's SQL that differ
(``store/sql/jobs_*.py`` hold the rest, once for both backends).

SQL there uses SQLite's placeholders (``?`` and ``:name``), as ``store/sql/protocol.py``
says; the PostgreSQL queue's connection rewrites them for psycopg.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobsDialect:
    """The job queue's engine-specific fragments.

    ``order``: the column giving jobs' submission order (``rowid``, ``seq``).
    ``locks_rows``: writers run side by side (PostgreSQL's ``READ COMMITTED``), so what a
    change depends on is read ``FOR UPDATE`` and a claim skips rows another claimer
    holds; SQLite's ``BEGIN IMMEDIATE`` holds the whole database already.
    ``merge_detail``: an attempt's ``detail`` merged with a JSON object parameter.
    ``any_side_effects``: the attempt's ``side_effects`` or a flag parameter.
    ``notify``: a statement that wakes idle workers when the transaction commits, if any.
    ``read_detail``: an attempt's ``detail`` read back as JSON text.
    ``prefix_order``: how several jobs matching an id prefix are ordered, if at all.
    The defaults are SQLite's.
    """

    name: str
    order: str
    locks_rows: bool = False
    merge_detail: str = "json_patch(detail, ?)"
    any_side_effects: str = "max(side_effects, ?)"
    notify: str = ""
    read_detail: str = "detail"
    prefix_order: str = ""

    @property
    def for_update(self) -> str:
        """Appended to a read whose row the transaction will change."""
        return " FOR UPDATE" if self.locks_rows else ""

    @property
    def claim_lock(self) -> str:
        """Appended to the claim's pick: claimers pass over rows another one holds."""
        return " FOR UPDATE SKIP LOCKED" if self.locks_rows else ""


def in_workspace(workspace: str | None) -> tuple[str, tuple[str, ...]]:
    """The condition keeping a read to one workspace's jobs (``store/workspace_key.py``)
    and its parameter; none for a queue whose jobs are not scoped (SQLite's)."""
    if workspace is None:
        return "", ()
    return " AND workspace = ?", (workspace,)
