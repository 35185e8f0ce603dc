"""The operator snapshot of one workspace: what runs, what changed, what failed, what next.

Frozen records (dataclasses to a type checker, see ``record``), so that ``tau status``
builds and prints one without loading pydantic or ``dataclasses`` (scripts run it in a
loop). Every field is a fact read from the store or a log under ``.tau/``: liveness comes
only from leases, heartbeats and held session locks, never from a guess.
``None`` is "not known / not recorded", which ``tau status`` prints as ``none``.

``to_json()`` is the one shape every renderer reads: the markers of ``tau status``, its
``--json``, the plain panels and the Textual shell.
"""

from __future__ import annotations

from tau_engine.status.record import fields_of, record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

JOB_STATES = ("queued", "running", "recovering", "succeeded", "failed", "blocked", "cancelled")
"""The job queue's stored states, each counted (zero included) so a script can rely on them."""


SNAPSHOT_VERSION = 2
"""The snapshot's own format version (``schema_version`` at its top): bumped when a field
changes meaning or goes away, so a script can tell. 2: ``providers`` is an object keyed
by route (``provider/model``) with the breaker's state, no longer a list."""


@record
class StoreHealth:
    """Whether the state store can be read, and what it is."""

    status: str  # ok | absent (no tau.db yet, or an empty database) | error
    backend: str  # sqlite | postgresql: which store was read
    error: str | None
    schema_version: int | None  # what the store says (PRAGMA user_version, tau_schema)
    schema_expected: int  # what this tau reads
    disk_free_bytes: int | None  # on the filesystem holding .tau/


@record
class SessionSummary:
    """One session as the operator sees it."""

    id: str
    title: str
    model: str
    updated_at: float
    input_tokens: int
    output_tokens: int
    cost_usd: float | None
    running: bool | None  # a live process holds its lock (None: cannot be told here)


@record
class Sessions:
    count: int
    running: int | None
    latest: SessionSummary | None
    recent: tuple[SessionSummary, ...]


@record
class JobSummary:
    """One job: its stored state, the operator's reading of it and the next command."""

    id: str
    kind: str
    state: str  # the stored state
    operator_state: str  # queued, running, stale-lease, stuck, or the stored state
    reason: str
    phase: str
    attempt: int
    max_attempts: int
    updated_at: float
    next_command: str


@record
class Jobs:
    total: int
    by_state: dict[str, int]
    stale: int  # running, lease expired, owner gone: ``tau jobs recover``
    stuck: int  # running with no progress for STUCK_AFTER_S
    needs_authority: int  # blocked until the user grants authority
    attention: tuple[JobSummary, ...]  # every stale, stuck or needs-authority job
    recent: tuple[JobSummary, ...]


@record
class MissionSummary:
    """One mission: where it is, how it ended or why it is blocked, and what unblocks it."""

    id: str
    title: str
    phase: str
    outcome: str | None
    reason: str | None
    verifier: str | None  # pass | fail of the latest attempt's verifier run
    attempts: int
    commit: str | None
    unblock_command: str | None
    updated_at: float


@record
class Missions:
    count: int
    unfinished: int  # not yet done (running now, or waiting to be resumed)
    blocked: int
    latest: MissionSummary | None
    recent: tuple[MissionSummary, ...]


@record
class Memory:
    entries: int  # live entries
    retired: int
    namespaces: dict[str, int]  # live entries per namespace


@record
class ProviderCall:
    """The last recorded call of one provider/model (``.tau/logs/provider.jsonl``)."""

    provider: str
    model: str
    status: str
    latency_ms: float | None
    ts: float


@record
class ProviderStatus:
    """One route (``provider/model``): its last recorded call and its circuit breaker.

    The call fields are None when no call is in the call log's tail; the breaker fields
    are None when its breaker never changed state (``.tau/logs/breaker.jsonl``)."""

    provider: str
    model: str
    status: str | None  # the last call's: ok, or the error kind
    latency_ms: float | None
    ts: float | None  # when the last call was logged
    breaker: str | None  # closed | open | half_open
    breaker_since: float | None
    breaker_until: float | None  # when an open breaker lets a trial call through
    breaker_reason: str | None  # the failure that opened it


@record
class AuditItem:
    """One recent safety audit event (``.tau/logs/audit.jsonl``)."""

    kind: str
    tool: str | None
    rule: str | None
    ts: str


@record
class Audit:
    counts: dict[str, int]  # by kind, over the recent window read
    recent: tuple[AuditItem, ...]


@record
class Paths:
    workspace: str
    state_dir: str
    database: str
    logs: str
    audit_log: str
    provider_log: str
    breaker_log: str


@record
class StatusSnapshot:
    """Everything ``tau status``, ``tau shell`` and ``tau watch`` show, read at one moment."""

    schema_version: int  # SNAPSHOT_VERSION
    generated_at: float
    health: str  # ok | attention | error
    store: StoreHealth
    attention: tuple[str, ...]  # why it needs attention, e.g. "jobs.stale"; empty: healthy
    sessions: Sessions
    jobs: Jobs
    missions: Missions
    memory: Memory
    providers: dict[str, ProviderStatus]  # by route, latest activity first
    audit: Audit
    paths: Paths
    model: str | None = None  # the model of the latest session
    profile: str | None = None  # the named profile a run here would use (None: none)
    safety: str = "balanced"  # the safety profile a run here would use
    notes: tuple[str, ...] = ()  # parts that could not be read, and why

    @property
    def healthy(self) -> bool:
        return not self.attention

    def to_json(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data (tuples become lists)."""
        data: dict[str, Any] = to_plain(self)
        return data


def to_plain(value: Any) -> Any:
    """A record (or containers of them) as JSON-ready data: tuples become lists."""
    if hasattr(value, "__dataclass_fields__"):
        return {name: to_plain(getattr(value, name)) for name in fields_of(value)}
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value
