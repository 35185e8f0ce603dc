"""A job's fence as its own child process sees it, for a last check before an irreversible step.

The worker gives a job's child process ``TAU_JOB_ID``, ``TAU_JOB_FENCE`` and
``TAU_JOB_ATTEMPT``. Right before a step that cannot be taken back (a mission's
``git commit``), the child reads its fence here and asks the store
(``StoreBackend.check_job_fence``): if the job has been recovered or cancelled since
its attempt began, the token in the database has moved on, and the step is not taken.
The worker names its store in ``TAU_STORE_URL`` too (``child_store_environ``), so the
check asks the database the job lives in: PostgreSQL for a PostgreSQL worker.
"""

from __future__ import annotations

from collections.abc import Mapping

from tau_engine.config.store_setting import STORE_URL_ENV
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


def child_store_environ(environ: Mapping[str, str], store_url: str | None) -> dict[str, str]:
    """``environ`` naming the store a worker claims from (``sqlite`` when none is given), for
    its jobs' children: a child's own settings then open that store (the environment
    beats the config files), and its fence check asks the database that holds the job."""
    env = dict(environ)
    env[STORE_URL_ENV] = store_url.strip() if store_url and store_url.strip() else "sqlite"
    return env


def job_store_url(environ: Mapping[str, str]) -> str | None:
    """The store a job's worker named for its child (None: the workspace's SQLite file)."""
    return environ.get(STORE_URL_ENV, "").strip() or None
