"""A job's fence as its own child process sees it, for a last check before an irreversible step.

The worker gives a job's child process ``TAU_JOB_ID``, ``TAU_JOB_FENCE`` and
``TAU_JOB_ATTEMPT``. Right before a step that cannot be taken back (a mission's
``git commit``), the child reads its fence here and asks the store
(``StoreBackend.check_job_fence``): if the job has been recovered or cancelled since
its attempt began, the token in the database has moved on, and the step is not taken.
"""

from __future__ import annotations

from collections.abc import Mapping

from tau_engine.store.job_models import Fence

JOB_ID_ENV, JOB_FENCE_ENV, JOB_ATTEMPT_ENV = "TAU_JOB_ID", "TAU_JOB_FENCE", "TAU_JOB_ATTEMPT"


def fence_from_environ(environ: Mapping[str, str]) -> Fence | None:
    """The fence of the job this process runs for, or ``None`` outside a job."""
    job_id = environ.get(JOB_ID_ENV, "")
    token = environ.get(JOB_FENCE_ENV, "")
    if not job_id or not token.isdigit():
        return None
    attempt = environ.get(JOB_ATTEMPT_ENV, "0")
    return Fence(job_id=job_id, token=int(token), attempt=int(attempt) if attempt.isdigit() else 0)
