"""SQLite's fence check for a job's child process (``StoreBackend.check_job_fence``).

The child opens its own short connection to the workspace's database: it shares no
connection with the worker that started it.
"""

from __future__ import annotations

from pathlib import Path

from tau_engine.errors import LeaseLostError, StoreError
from tau_engine.store.job_models import Fence
from tau_engine.store.sqlite.errors import translate_errors
from tau_engine.store.sqlite.schema import connect


def check_fence(db_path: Path, fence: Fence) -> None:
    """Raise ``LeaseLostError`` unless ``fence`` is still the job's (and it still runs)."""
    if not db_path.is_file():
        raise StoreError(f"cannot check job {fence.job_id[:8]}'s fence: no {db_path}")
    conn = connect(db_path)
    try:
        with translate_errors(db_path):
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND fence = ? AND state = 'running'",
                (fence.job_id, fence.token),
            ).fetchone()
    finally:
        conn.close()
    if row is None:
        raise LeaseLostError(
            f"job {fence.job_id[:8]} no longer holds fence {fence.token} "
            "(it was recovered or cancelled); not going on"
        )
