"""``ThreadedJobQueue``: the ``JobQueue`` protocol's async side, shared by the backends
whose database driver blocks (SQLite's ``sqlite3``, PostgreSQL's psycopg connection).

Every call runs its backend's blocking method in a worker thread (the backend holds
its connection under a lock), so the event loop never waits on the database. Idle
workers wait by polling the backend's change counter from the event loop, not from a
thread blocked on the socket: a worker with many idle slots must not tie up the thread
pool its heartbeats need. A backend supplies its transactions, its reads and its SQL
(``WorkerWrites``: the claim and the fenced writes of a worker), and nothing else.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, ParamSpec, Protocol, TypeVar

from tau_engine.errors import StoreError
from tau_engine.store.api import OwnerAlive
from tau_engine.store.job_models import (
    AttemptDetail,
    AttemptRecord,
    Claim,
    Fence,
    HeartbeatAck,
    JobEvent,
    JobRecord,
    JobState,
    LeaseOwner,
    NewJob,
    Outcome,
    Progress,
    RecoveryReport,
    SubmitResult,
)

P = ParamSpec("P")
T = TypeVar("T")
WAIT_POLL_S = 0.02


class WorkerWrites(Protocol):
    """A backend's SQL for a worker's writes, each inside the caller's transaction
    (``store/sql/jobs_worker.py``'s ``JobWrites`` in the backend's ``JobsDialect``)."""

    def touch(
        self,
        conn: Any,
        fence: Fence,
        now: float,
        lease_s: float | None,
        progress: Progress | None,
        session_id: str | None = None,
    ) -> HeartbeatAck: ...

    def record(
        self,
        conn: Any,
        fence: Fence,
        now: float,
        event_type: str,
        data: dict[str, Any],
        session_id: str | None,
        child_pid: int | None,
        detail: AttemptDetail | None,
    ) -> None: ...

    def finish(self, conn: Any, fence: Fence, outcome: Outcome, now: float) -> JobRecord: ...


class ThreadedJobQueue(ABC):
    """The async ``JobQueue`` over a backend's blocking methods (``_submit``...)."""

    _clock: Callable[[], float]
    _writes: WorkerWrites

    @abstractmethod
    def _writing(self) -> AbstractContextManager[Any]:
        """A write transaction; its connection."""

    @property
    @abstractmethod
    def closed(self) -> bool:
        """Whether ``close`` was called."""

    @abstractmethod
    def describe(self) -> str:
        """The store named in messages (never with a password)."""

    async def _run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.closed:
            raise StoreError(f"the job queue in {self.describe()} is closed")
        return await asyncio.to_thread(func, *args, **kwargs)

    # -- what the backend does, blocking ------------------------------------------------
    @abstractmethod
    def _submit(self, job: NewJob) -> SubmitResult: ...
    @abstractmethod
    def _get(self, id_or_prefix: str) -> JobRecord: ...
    @abstractmethod
    def _list(self, states: set[JobState] | None, limit: int) -> list[JobRecord]: ...
    @abstractmethod
    def _attempts(self, job_id: str) -> list[AttemptRecord]: ...
    @abstractmethod
    def _events(self, job_id: str, after_seq: int) -> list[JobEvent]: ...
    @abstractmethod
    def _claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None: ...

    def _heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        now = self._clock()
        with self._writing() as conn:
            return self._writes.touch(conn, fence, now, lease_s, progress)

    def _record(
        self,
        fence: Fence,
        event_type: str,
        data: dict[str, Any],
        progress: Progress | None,
        session_id: str | None,
        child_pid: int | None,
        detail: AttemptDetail | None,
    ) -> HeartbeatAck:
        now = self._clock()
        with self._writing() as conn:
            ack = self._writes.touch(conn, fence, now, None, progress, session_id)
            self._writes.record(conn, fence, now, event_type, data, session_id, child_pid, detail)
            return ack

    def _finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        now = self._clock()
        with self._writing() as conn:
            return self._writes.finish(conn, fence, outcome, now)

    @abstractmethod
    def _fence_holds(self, fence: Fence) -> bool: ...
    @abstractmethod
    def _recover(self, is_alive: OwnerAlive) -> RecoveryReport: ...
    @abstractmethod
    def _cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord: ...
    @abstractmethod
    def _block(self, job_id: str, message: str) -> JobRecord: ...
    @abstractmethod
    def _append(self, job_id: str, event_type: str, data: dict[str, Any]) -> None: ...
    @abstractmethod
    def _prune(self, finished_before: float) -> list[str]: ...
    @abstractmethod
    def _changes(self) -> int:
        """A number that moves when another connection changed the queue."""

    # -- the JobQueue protocol -------------------------------------------------------------
    async def submit(self, job: NewJob) -> SubmitResult:
        return await self._run(self._submit, job)

    async def get(self, id_or_prefix: str) -> JobRecord:
        return await self._run(self._get, id_or_prefix)

    async def list_jobs(
        self, *, states: set[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        return await self._run(self._list, states, limit)

    async def attempts(self, job_id: str) -> list[AttemptRecord]:
        return await self._run(self._attempts, job_id)

    async def events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        return await self._run(self._events, job_id, after_seq)

    async def claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        return await self._run(self._claim, owner, lease_s)

    async def heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        return await self._run(self._heartbeat, fence, lease_s, progress)

    async def record(
        self,
        fence: Fence,
        event_type: str,
        data: dict[str, Any],
        *,
        progress: Progress | None = None,
        session_id: str | None = None,
        child_pid: int | None = None,
        detail: AttemptDetail | None = None,
    ) -> HeartbeatAck:
        return await self._run(
            self._record, fence, event_type, data, progress, session_id, child_pid, detail
        )

    async def finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        return await self._run(self._finish, fence, outcome)

    async def fence_holds(self, fence: Fence) -> bool:
        return await self._run(self._fence_holds, fence)

    async def recover(self, is_alive: OwnerAlive) -> RecoveryReport:
        return await self._run(self._recover, is_alive)

    async def request_cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        return await self._run(self._cancel, job_id, is_alive)

    async def block(self, job_id: str, message: str) -> JobRecord:
        return await self._run(self._block, job_id, message)

    async def append_event(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        await self._run(self._append, job_id, event_type, data)

    async def prune(self, finished_before: float) -> list[str]:
        return await self._run(self._prune, finished_before)

    async def wait_for_work(self, timeout_s: float) -> None:
        deadline = time.monotonic() + max(0.0, timeout_s)
        start = await self._run(self._changes)
        while time.monotonic() < deadline:
            await asyncio.sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            if await self._run(self._changes) != start:
                return
