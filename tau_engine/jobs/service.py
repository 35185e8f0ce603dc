"""``JobService``: what ``tau jobs`` does, over a ``JobQueue`` and the job kinds.

Submitting validates the inputs with the job's kind, copies the files they name
into the job's folder (so the recorded inputs are enough to run it again), and
signs them with the user's key. Replaying makes a new job linked to the old one
from its recorded inputs. ``detail`` gathers one job's whole record for
``tau jobs show``: the row, its attempts, its own log, the engine's events of
each attempt's session, and the operator's view.
"""

from __future__ import annotations

import re
import shutil
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tau_engine.errors import StoreError, TauError, UsageError
from tau_engine.jobs.kinds import JobKind, job_dir
from tau_engine.jobs.liveness import owner_alive, same_machine
from tau_engine.jobs.mission_kind import MissionKind
from tau_engine.jobs.operator import STUCK_AFTER_S, OperatorView, operator_view
from tau_engine.jobs.prompt_kind import PromptKind
from tau_engine.jobs.queue import retry_busy
from tau_engine.jobs.signing import JobSigner
from tau_engine.jobs.worker import LogFn, Worker, WorkerConfig
from tau_engine.paths import WorkspacePaths
from tau_engine.store.api import JobQueue
from tau_engine.store.job_fence import child_store_environ
from tau_engine.store.job_models import (
    AttemptRecord,
    JobEvent,
    JobRecord,
    JobState,
    NewJob,
    Reason,
    RecoveryReport,
    SubmitResult,
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_ATTEMPTS_LIMIT = 100


def parse_duration(text: str) -> float:
    """``45s``, ``30m``, ``12h``, ``7d``, ``2w`` in seconds (``UsageError`` otherwise)."""
    match = _DURATION.match(text)
    if not match:
        raise UsageError(f"'{text}' is not a duration; use e.g. 45s, 30m, 12h, 7d or 2w")
    return float(match.group(1)) * _UNIT_S[match.group(2)]


def default_kinds() -> dict[str, JobKind]:
    return {"prompt": PromptKind(), "mission": MissionKind()}


@dataclass
class JobDetail:
    """One job's whole record, for ``tau jobs show``."""

    job: JobRecord
    view: OperatorView
    attempts: list[AttemptRecord]
    events: list[JobEvent]
    sessions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    submit_argv: list[str] | None = None


class JobService:
    """The operator's verbs over one workspace's job queue."""

    def __init__(
        self,
        queue: JobQueue,
        paths: WorkspacePaths,
        *,
        kinds: Mapping[str, JobKind] | None = None,
        signer: JobSigner | None = None,
        clock: Callable[[], float] = time.time,
        store_url: str | None = None,
    ) -> None:
        self.queue = queue
        self.paths = paths
        self.store_url = store_url
        self.kinds = dict(kinds) if kinds is not None else default_kinds()
        self.signer = signer or JobSigner()
        self._clock = clock

    @classmethod
    def open(
        cls, paths: WorkspacePaths, *, store_url: str | None = None, **kwargs: Any
    ) -> JobService:
        """The service over the job queue of the store ``store_url`` names (default: the
        workspace's SQLite file; ``store.open_store``). Blocking: call it at start-up."""
        from tau_engine.store import open_store

        queue = open_store(paths, store_url).open_jobs()
        return cls(queue, paths, store_url=store_url, **kwargs)

    def close(self) -> None:
        self.queue.close()

    def kind(self, name: str) -> JobKind:
        found = self.kinds.get(name)
        if found is None:
            raise UsageError(f"this tau does not know job kind '{name}'")
        return found

    # -- submitting --------------------------------------------------------------
    async def submit(
        self,
        kind_name: str,
        inputs: dict[str, Any],
        *,
        key: str | None = None,
        priority: int = 0,
        max_attempts: int = 1,
    ) -> SubmitResult:
        """Validate, copy what the inputs name into the job's folder, sign and queue."""
        if not 1 <= max_attempts <= MAX_ATTEMPTS_LIMIT:
            raise UsageError(f"--max-attempts must be between 1 and {MAX_ATTEMPTS_LIMIT}")
        if key is not None and not key.strip():
            raise UsageError("--key must not be empty")
        kind = self.kind(kind_name)
        job_id = uuid.uuid4().hex
        folder = job_dir(self.paths, job_id)
        try:
            ready = kind.prepare(kind.validate(inputs), folder)
            return await self._queue(
                NewJob(
                    id=job_id,
                    kind=kind_name,
                    inputs=ready,
                    signature=self.signer.sign(job_id, kind_name, ready),
                    key=key,
                    priority=priority,
                    max_attempts=max_attempts,
                ),
                folder,
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    async def _queue(self, job: NewJob, folder: Any) -> SubmitResult:
        result = await retry_busy(lambda: self.queue.submit(job))
        if not result.created:
            shutil.rmtree(folder, ignore_errors=True)
        return result

    async def replay(self, id_or_prefix: str, *, offline: bool = False) -> SubmitResult:
        """A new job from ``id``'s recorded inputs, linked to it (``replay_of``)."""
        source = await self.get(id_or_prefix)
        if source.live:
            raise UsageError(
                f"job {source.id[:8]} is {source.state}; replay a job once it "
                f"has ended (or cancel it first: tau jobs cancel {source.id[:8]})"
            )
        if not self.signer.verify(source.id, source.kind, source.inputs, source.signature):
            raise UsageError(
                f"job {source.id[:8]}'s inputs were not submitted by you; read "
                f"them (tau jobs show {source.id[:8]}) and submit them yourself"
            )
        kind = self.kind(source.kind)
        attempts = await self.queue.attempts(source.id)
        job_id = uuid.uuid4().hex
        folder = job_dir(self.paths, job_id)
        try:
            inputs = kind.replay_inputs(
                source, attempts, offline=offline, paths=self.paths, new_job_dir=folder
            )
            result = await self._queue(
                NewJob(
                    id=job_id,
                    kind=source.kind,
                    inputs=inputs,
                    signature=self.signer.sign(job_id, source.kind, inputs),
                    key=source.key,
                    priority=source.priority,
                    max_attempts=source.max_attempts,
                    reason=Reason.REPLAY,
                    replay_of=source.id,
                ),
                folder,
            )
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        if result.created:
            await retry_busy(
                lambda: self.queue.append_event(
                    source.id, "replayed", {"job_id": job_id, "offline": offline}
                )
            )
        return result

    # -- reading -----------------------------------------------------------------------
    async def get(self, id_or_prefix: str) -> JobRecord:
        return await self.queue.get(id_or_prefix)

    async def list_jobs(
        self, *, states: set[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        return await self.queue.list_jobs(states=states, limit=limit)

    def summary(self, job: JobRecord) -> str:
        kind = self.kinds.get(job.kind)
        try:
            return kind.summary(job.inputs) if kind is not None else job.kind
        except TauError:
            return "(inputs this tau cannot read)"

    def submit_argv(self, job: JobRecord) -> list[str] | None:
        kind = self.kinds.get(job.kind)
        try:  # a planted job may have an id or inputs tau would never make
            return (
                None if kind is None else kind.submit_argv(job.inputs, job_dir(self.paths, job.id))
            )
        except TauError:
            return None

    def view(
        self, job: JobRecord, attempts: list[AttemptRecord], *, stuck_after_s: float = STUCK_AFTER_S
    ) -> OperatorView:
        kind = self.kinds.get(job.kind)
        safe = kind is not None and kind.replay_safe(job, attempts)
        return operator_view(
            job,
            attempts,
            now=self._clock(),
            is_alive=owner_alive,
            same_machine=same_machine,
            replay_safe=safe,
            submit_argv=self.submit_argv(job),
            stuck_after_s=stuck_after_s,
        )

    async def views(
        self, jobs: list[JobRecord], *, stuck_after_s: float = STUCK_AFTER_S
    ) -> list[OperatorView]:
        views = []
        for job in jobs:
            # Attempts matter only to tell a safe replay from an unsafe one.
            attempts = await self.queue.attempts(job.id) if job.settled else []
            views.append(self.view(job, attempts, stuck_after_s=stuck_after_s))
        return views

    async def detail(self, id_or_prefix: str, *, stuck_after_s: float = STUCK_AFTER_S) -> JobDetail:
        job = await self.get(id_or_prefix)
        attempts = await self.queue.attempts(job.id)
        events = await self.queue.events(job.id)
        detail = JobDetail(
            job=job,
            view=self.view(job, attempts, stuck_after_s=stuck_after_s),
            attempts=attempts,
            events=events,
            submit_argv=self.submit_argv(job),
        )
        sessions = [a.session_id for a in attempts if a.session_id]
        if sessions:
            detail.sessions = await self._session_events(sessions)
        return detail

    async def _session_events(self, session_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        import asyncio

        from tau_engine.store import open_store

        store = await asyncio.to_thread(open_store(self.paths, self.store_url).open_sessions)
        found: dict[str, list[dict[str, Any]]] = {}
        try:
            for session_id in session_ids:
                try:
                    events = await store.events(session_id)
                except (StoreError, ValueError):
                    continue  # deleted since, or written by a newer tau
                found[session_id] = [e.model_dump(mode="json") for e in events]
        finally:
            store.close()
        return found

    # -- the operator's verbs ------------------------------------------------------------
    async def recover(self) -> RecoveryReport:
        return await retry_busy(lambda: self.queue.recover(owner_alive))

    async def cancel(self, id_or_prefix: str) -> JobRecord:
        job = await self.get(id_or_prefix)
        return await retry_busy(lambda: self.queue.request_cancel(job.id, owner_alive))

    async def block(self, id_or_prefix: str, reason: str) -> JobRecord:
        if not reason.strip():
            raise UsageError("--reason must say why the job is blocked")
        job = await self.get(id_or_prefix)
        return await retry_busy(lambda: self.queue.block(job.id, reason.strip()))

    async def prune(self, older_than: str) -> list[str]:
        cutoff = self._clock() - parse_duration(older_than)
        pruned = await retry_busy(lambda: self.queue.prune(cutoff))
        for job_id in pruned:
            try:
                folder = job_dir(self.paths, job_id)
            except StoreError:
                continue  # not an id tau made: never a path to delete
            shutil.rmtree(folder, ignore_errors=True)
        return pruned

    def worker(
        self, config: WorkerConfig, *, environ: Mapping[str, str], log: LogFn | None = None
    ) -> Worker:
        """A worker over this queue. Its jobs' children get the store in their environment
        (``job_fence.STORE_URL_ENV``, never in their arguments, which anyone on the
        machine may read), so a child's fence check asks the store its worker claims from."""
        return Worker(
            self.queue,
            self.paths,
            self.kinds,
            config,
            signer=self.signer,
            environ=child_store_environ(environ, self.store_url),
            log=log,
        )
