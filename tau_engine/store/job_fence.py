"""A job's fence as its own child process sees it, for a last check before an irreversible step.

The worker gives a job's child process ``TAU_JOB_ID``, ``TAU_JOB_FENCE`` and
``TAU_JOB_ATTEMPT``. Right before a step that cannot be taken back (a mission's
``git commit``), the child calls ``check_fence``: if the job has been recovered or
cancelled since its attempt began, the token in the database has moved on, and
the step is not taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from tau_engine.errors import LeaseLostError, StoreError
from tau_engine.store.job_models import Fence
from tau_engine.store.sqlite.errors import translate_errors
from tau_engine.store.sqlite.schema import connect

JOB_ID_ENV, JOB_FENCE_ENV, JOB_ATTEMPT_ENV = "TAU_JOB_ID", "TAU_JOB_FENCE", "TAU_JOB_ATTEMPT"


def fence_from_environ(environ: Mapping[str, str]) -> Fence | None:
    """The fence of the job this process runs for, or ``None`` outside a job."""
    job_id = environ.get(JOB_ID_ENV, "")
    token = environ.get(JOB_FENCE_ENV, "")
    if not job_id or not token.isdigit():
        return None
    attempt = environ.get(JOB_ATTEMPT_ENV, "0")
    return Fence(job_id=job_id, token=int(token), attempt=int(attempt) if attempt.isdigit()
                 else 0)


def check_fence(db_path: Path, fence: Fence) -> None:
    """Raise ``LeaseLostError`` unless ``fence`` is still the job's (and it still runs)."""
    if not db_path.is_file():
        raise StoreError(f"cannot check job {fence.job_id[:8]}'s fence: no {db_path}")
    conn = connect(db_path)
    try:
        with translate_errors(db_path):
            row = conn.execute(
                "SELECT 1 FROM jobs WHERE id = ? AND fence = ? AND state = 'running'",
                (fence.job_id, fence.token)).fetchone()
    finally:
        conn.close()
    if row is None:
        raise LeaseLostError(f"job {fence.job_id[:8]} no longer holds fence {fence.token} "
                             "(it was recovered or cancelled); not going on")
