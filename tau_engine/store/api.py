"""The store's interfaces: what the engine, missions, memory and jobs need from a database.

Everything outside ``tau_engine.store`` talks to these protocols and gets an
implementation from ``store.factory.open_store``; SQLite (``store/sqlite/``) implements
them today, and a PostgreSQL backend implements the same ones beside it and runs the
same tests (the ``store_backend`` fixture in ``tests/conftest.py``). Signatures use
backend-neutral types only (``store/models.py``, ``memory_model.py``, the conversation
and event types): nothing here names SQLite.

What every backend guarantees:

* Each write is one transaction: an append inserts the message, moves the head and
  adds the usage to the totals together, so a killed process loses at most what it had
  not committed. Reads see one consistent snapshot.
* Failures are tau's own errors (``StoreError`` and its kinds), one line each; a
  backend's own exceptions never leave it.
* A session is written by one process at a time: the holder of ``lock_session``.
* Async methods never block the caller's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.events import BaseEvent
from tau_engine.paths import WorkspacePaths
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
    SubmitResult,
)
from tau_engine.store.job_models import RecoveryReport as JobRecoveryReport
from tau_engine.store.memory_model import (
    ImportedMemory,
    ImportReport,
    MemoryEntry,
    MemoryHit,
    NamespaceCount,
    NewMemory,
    Trust,
    WriteOutcome,
)
from tau_engine.store.memory_query import CompiledQuery
from tau_engine.store.models import (
    HEAD,
    MissionRow,
    NewMessage,
    ParentRef,
    SessionInfo,
    UndoReport,
)

DELTA_FLUSH_INTERVAL_S = 0.1
"""Buffered deltas reach the event log at most this long after they were written."""


class HeldLock(Protocol):
    """A session's write lock, held by this process until ``release``."""

    session_id: str

    @property
    def held(self) -> bool: ...

    def release(self) -> None:
        """Let another process take the session. Safe to call twice."""

    def release_and_remove(self) -> None:
        """Release, and forget the lock itself (its session was deleted)."""

    def __enter__(self) -> HeldLock: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class EventAppender(Protocol):
    """Appends one session's events to the log, in batches.

    ``write`` only buffers (it runs once per streamed token): events other than deltas
    are written at once, deltas within ``DELTA_FLUSH_INTERVAL_S`` and on ``flush`` and
    ``close``. An
    event with ``seq == 0`` gets the next free one; a stamped event keeps its own.
    """

    session_id: str

    @property
    def pending(self) -> int:
        """Events buffered and not yet written."""

    def write(self, event: BaseEvent) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None:
        """Flush and release the writer. Safe to call twice."""

    def __enter__(self) -> EventAppender: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class EventLog(Protocol):
    """The persisted event stream of every session: what replay, live-watch and mission
    evidence read, and what the bus's first sink writes."""

    def event_writer(self, session_id: str) -> EventAppender:
        """A buffered writer of the session's events (close it at the end of the run)."""

    async def events(
        self, session_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[BaseEvent]:
        """Logged events with ``seq > after_seq``, in order (live-watch polls this)."""

    async def last_seq(self, session_id: str) -> int:
        """The highest logged ``seq`` of the session, 0 if none."""


class SessionStore(EventLog, Protocol):
    """One workspace's sessions: their message DAG, usage totals, file checkpoints and
    event log. ``SessionNotFoundError`` names a session no id or unique prefix matches."""

    paths: WorkspacePaths

    def close(self) -> None:
        """Close open event writers (flushing them) and release the store."""

    # -- sessions -------------------------------------------------------------------
    async def create_session(
        self,
        *,
        model: str,
        title: str = "",
        meta: dict[str, Any] | None = None,
        session_id: str | None = None,
    ) -> SessionInfo:
        """A new empty session, titled from its first user prompt if ``title`` is blank;
        ``session_id`` lets a caller lock the id before the session exists."""

    async def get_session(self, id_or_prefix: str) -> SessionInfo:
        """The session whose id is or starts with ``id_or_prefix`` (several: an error
        naming them)."""

    async def latest_session(self) -> SessionInfo | None:
        """The most recently updated session, if any."""

    async def list_sessions(self, limit: int = 50) -> list[SessionInfo]:
        """Sessions, most recently updated first."""

    async def delete_session(self, session_id: str) -> None:
        """Delete a session with its messages, events and checkpoints."""

    async def set_title(self, session_id: str, title: str) -> None: ...

    async def set_model(self, session_id: str, model: str) -> None: ...

    async def set_meta(self, session_id: str, meta: dict[str, Any]) -> None:
        """Replace the session's free-form metadata."""

    async def totals(self, session_id: str) -> tuple[Usage, float | None]:
        """What the session has spent: summed usage and cost (``None`` if never priced)."""

    # -- messages -------------------------------------------------------------------
    async def append(
        self,
        session_id: str,
        message: Message,
        *,
        parent_id: ParentRef = HEAD,
        usage: Usage | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
    ) -> StoredMessage:
        """Add a message after ``parent_id`` (the head by default) and make it the head,
        adding its cost to the totals and clearing the redo stack in the same
        transaction. Another parent starts a branch; the old line stays reachable."""

    async def append_many(
        self,
        session_id: str,
        messages: Sequence[Message | NewMessage],
        *,
        parent_id: ParentRef = HEAD,
    ) -> list[StoredMessage]:
        """Append a chain of messages (a turn's tool results) in one transaction."""

    async def history(self, session_id: str, head_id: str | None = None) -> list[StoredMessage]:
        """The conversation from the root to ``head_id`` (the session's head by default)."""

    async def request_history(self, session_id: str) -> list[StoredMessage]:
        """What a request is built from: the path from the last compaction on, with the
        messages it kept and the pinned ones (``agent.compaction.request_view``)."""

    async def tool_results_of(
        self, session_id: str, *, names: Collection[str], meta_key: str
    ) -> list[StoredMessage]:
        """Tool results of the session, any branch, from one of ``names`` or with
        ``meta[meta_key]`` set, oldest first."""

    async def recent(self, session_id: str, limit: int) -> list[StoredMessage]:
        """The last ``limit`` messages of the head path, oldest first."""

    async def branches(self, session_id: str) -> list[StoredMessage]:
        """Branch tips: messages nothing continues (undone or forked-off work included)."""

    async def set_head(self, session_id: str, message_id: str) -> None:
        """Switch the session to another line of work (clears the redo stack)."""

    async def fork(
        self,
        session_id: str,
        at_message_id: str,
        *,
        title: str | None = None,
        fork_id: str | None = None,
    ) -> SessionInfo:
        """A new session holding a copy (new ids, file checkpoints kept) of the path up to
        ``at_message_id``, read as one consistent snapshot; the original is untouched."""

    # -- locks, undo and redo -------------------------------------------------------
    def lock_session(self, session_id: str) -> HeldLock:
        """Take the session's write lock now (``SessionLockedError`` names the holder)."""

    async def checkpoint_file(self, session_id: str, turn_message_id: str, path: Path) -> None:
        """Save ``path``'s bytes (or its absence) before the turn's first change to it;
        ``WorkspaceError`` for a path outside the workspace."""

    async def undo(self, session_id: str, workspace_root: Path | None = None) -> UndoReport:
        """Remove the last user turn from the head path and restore the files it changed
        (never a file outside ``workspace_root``, the store's workspace by default)."""

    async def redo(self, session_id: str, workspace_root: Path | None = None) -> UndoReport:
        """Reapply the most recent undo, files included."""

    # -- export and import ----------------------------------------------------------
    async def export_jsonl(
        self, session_id: str, dest: Path, redact: Callable[[Any], Any] | None = None
    ) -> int:
        """Write the whole session (all branches, events) as ``tau-session`` JSONL;
        return the lines written. ``redact`` (the safety layer's redaction funnel) sees
        every record before it is written."""

    async def import_jsonl(self, src: Path) -> SessionInfo:
        """Recreate an exported session with its ids (``UsageError`` if the id is taken,
        and nothing written for a bad file)."""


class MissionStore(Protocol):
    """Where missions persist: each saves its whole record before and after every phase.

    ``save`` is a compare-and-swap on ``revision``: a writer that did not read the latest
    record (two processes resuming one mission) gets a ``StoreError`` instead of
    silently overwriting the other's progress.
    """

    async def create(self, row: MissionRow) -> MissionRow:
        """Insert a new mission; returns it with its first revision."""

    async def save(self, row: MissionRow) -> MissionRow:
        """Replace a mission's record if ``row.revision`` is still the stored one;
        returns the row with its new revision. Raises ``StoreError`` otherwise."""

    async def get(self, mission_id: str) -> MissionRow | None:
        """The mission with exactly this id."""

    async def match(self, prefix: str, limit: int = 2) -> list[str]:
        """Ids starting with ``prefix`` (at most ``limit``), for unique-prefix lookups."""

    async def recent(self, limit: int = 50) -> list[MissionRow]:
        """Missions, newest first."""

    def close(self) -> None:
        """Release the store."""


class MemoryStore(Protocol):
    """Learned memory entries with full-text search. All methods may raise ``StoreError``.

    The contract, which ``tests/memory`` checks for every backend:

    * ``write`` is one transaction: the explicit ``supersedes`` target and the live
      trusted entry with the same namespace and subject are retired (``superseded_by``
      set) together with the insert. Text whose ``content_hash`` a live entry already
      has is not stored again: the outcome names that entry (``created`` False). An
      *untrusted* write retires nothing; ``approve`` applies its supersession later.
    * retired entries are never returned by ``search`` and never deleted.
    * ``search`` never sees untrusted entries unless ``include_untrusted``; an empty
      compiled query is not run (the service reports it); a failing backend raises
      ``StoreError``, never returns an empty list. Each backend renders the compiled
      query in its own full-text language (``memory_query.to_fts5`` for SQLite).
    * ids are positive integers, never reused.
    """

    async def write(self, new: NewMemory, *, now: float) -> WriteOutcome:
        """Store ``new`` (or find the live entry with the same text) and supersede.
        ``MemoryNotFoundError`` / ``MemoryStateError`` if ``new.supersedes`` names no
        entry or a retired one."""

    async def get(self, entry_id: int) -> MemoryEntry:
        """The entry with ``entry_id``, in any state (``MemoryNotFoundError`` if none)."""

    async def search(
        self,
        query: CompiledQuery,
        *,
        limit: int,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        """Live entries matching ``query``, best first (BM25, text weighted above tags);
        ``namespace`` keeps that namespace and the ones under it."""

    async def tree(self, prefix: str | None = None) -> list[NamespaceCount]:
        """Every namespace (under ``prefix``) with its entry counts, sorted by name."""

    async def entries(
        self,
        *,
        include_retired: bool = True,
        trust: Trust | None = None,
        namespace: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[MemoryEntry]:
        """Entries by id (oldest first unless ``newest_first``), filtered."""

    async def retire(self, entry_id: int, reason: str, *, now: float) -> MemoryEntry:
        """Retire a live entry (kept for the record); ``MemoryStateError`` if it is not live."""

    async def approve(self, entry_id: int, *, now: float) -> WriteOutcome:
        """Mark a quarantined entry trusted and apply the supersession it was written with,
        in one transaction; ``MemoryStateError`` if it is not quarantined."""

    async def import_entries(
        self, records: Sequence[ImportedMemory], *, now: float
    ) -> ImportReport:
        """Recreate exported entries in one transaction (all or nothing)."""

    async def newest_id(self) -> int | None:
        """The highest id given so far (for "no memory #99; the newest is #42")."""

    def close(self) -> None:
        """Release the store."""


OwnerAlive = Callable[[LeaseOwner], bool]
"""Whether a lease's owner is still running (``False`` when it cannot be known)."""


class JobQueue(Protocol):
    """A workspace's queue of background jobs (``jobs/`` runs them).

    The guarantees every backend gives:

    - ``claim`` is atomic: one transaction takes the next claimable job (highest
      priority, then oldest, with ``next_run_at`` passed), makes it ``running`` with
      the caller as lease owner, and increments its attempt and its fencing token.
      Two claimers never get the same job.
    - Every write a worker makes (``heartbeat``, ``record``, ``finish``, …) names its
      ``Fence``; when the job's token has moved on (it was recovered, or cancelled
      with its owner gone) the write changes nothing and raises ``LeaseLostError``.
    - ``recover`` requeues (or fails, once its attempts are spent) every running job
      whose lease expired and whose owner ``is_alive`` says is gone, bumping its fence
      so the old owner can no longer write.
    - A busy database raises ``QueueBusyError``; callers retry it with jittered
      backoff (``jobs/queue.py``).
    """

    # -- submitting and reading -------------------------------------------------
    async def submit(self, job: NewJob) -> SubmitResult:
        """Record a job; with a key held by a live job, return that job instead."""

    async def get(self, id_or_prefix: str) -> JobRecord:
        """The job whose id is or starts with ``id_or_prefix`` (``JobNotFoundError``)."""

    async def list_jobs(
        self, *, states: set[JobState] | None = None, limit: int = 100
    ) -> list[JobRecord]:
        """Jobs, newest first."""

    async def attempts(self, job_id: str) -> list[AttemptRecord]:
        """The job's attempts, first first."""

    async def events(self, job_id: str, after_seq: int = 0) -> list[JobEvent]:
        """The job's log entries with ``seq > after_seq``, in order."""

    # -- a worker's side: every call after ``claim`` is fenced ------------------
    async def claim(self, owner: LeaseOwner, lease_s: float) -> Claim | None:
        """Take the next claimable job, or ``None`` when there is none."""

    async def heartbeat(self, fence: Fence, lease_s: float, progress: Progress) -> HeartbeatAck:
        """Extend the lease and store the progress."""

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
        """Append to the job's log and update what the attempt has learnt about itself."""

    async def finish(self, fence: Fence, outcome: Outcome) -> JobRecord:
        """End the attempt: settle the job, or requeue it (``outcome.state`` queued)."""

    # -- recovery and the operator's verbs ----------------------------------------
    async def recover(self, is_alive: OwnerAlive) -> JobRecoveryReport:
        """Requeue (or fail, or cancel) running jobs whose lease expired and owner is gone."""

    async def request_cancel(self, job_id: str, is_alive: OwnerAlive) -> JobRecord:
        """Cancel a waiting job (or a running one whose owner is gone) now; ask a running
        one's worker to stop it."""

    async def block(self, job_id: str, message: str) -> JobRecord:
        """Hold a waiting job out of the queue, with the operator's reason."""

    async def append_event(self, job_id: str, event_type: str, data: dict[str, Any]) -> None:
        """An operator's note in a job's log (unfenced: no worker writes through this)."""

    async def prune(self, finished_before: float) -> list[str]:
        """Delete succeeded, failed and cancelled jobs finished before the time; their ids."""

    async def wait_for_work(self, timeout_s: float) -> None:
        """Return when the queue may have changed, or after ``timeout_s``."""

    async def fence_holds(self, fence: Fence) -> bool:
        """Whether ``fence`` is still the job's current one (the job is still running)."""

    def close(self) -> None:
        """Release the connection."""


class StoreReport(Protocol):
    """A maintenance report (``recover``) as plain lines and as JSON-ready data."""

    def summary(self) -> str: ...

    def to_json(self) -> dict[str, Any]: ...


class StoreBackend(Protocol):
    """The database holding one workspace's state, from ``store.factory.open_store``.

    Each ``open_*`` opens (creating or migrating) that part of the store and blocks:
    call it at start-up or through ``asyncio.to_thread``. Close what it returns.
    """

    name: str
    paths: WorkspacePaths

    def open_sessions(
        self, *, clock: Callable[[], float] = time.time, read_only: bool = False
    ) -> SessionStore:
        """The session store. ``read_only``: the caller only reads (``tau sessions
        list|show|export``), so a store the user may not write still opens."""

    def open_missions(self) -> MissionStore: ...

    def open_memory(self) -> MemoryStore: ...

    def open_jobs(self, *, clock: Callable[[], float] = time.time) -> JobQueue:
        """The job queue (``clock`` stamps leases; tests move it)."""

    def check_job_fence(self, fence: Fence) -> None:
        """Raise ``LeaseLostError`` unless ``fence`` is still its job's and the job still
        runs: what a job's child process checks right before an irreversible step (a
        mission's ``git commit``), opening the store on its own."""

    def recover(self, *, clock: Callable[[], float] = time.time) -> StoreReport:
        """Rebuild a damaged store from what can still be read (``tau sessions recover``),
        keeping a backup of the damaged one; no other process may have it open."""
