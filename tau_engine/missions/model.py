"""What a mission is: its inputs, phases, outcome and codes, as persisted state.

``MissionState`` is the whole record of one mission. The runner saves it (to the
mission store, in one transaction) before every phase begins and after every
phase ends, so a killed mission resumes from the phase it was in. It is also
what ``mission.json`` in the evidence folder shows, under ``SCHEMA_VERSION``.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tau_engine.errors import TauError
from tau_engine.event_kinds import MissionOutcome, MissionPhase

SCHEMA_VERSION = 1
"""Version of ``mission.json`` and of the state stored for a mission."""

TRAILER = "Tau-Mission"
"""The commit trailer that names the mission a commit belongs to."""

PROFILES = ("permissive", "balanced", "strict", "hardened")
DEFAULT_PROFILE = "balanced"
STRICT_PROFILES = frozenset({"strict", "hardened"})


Phase = MissionPhase
"""The phases, in the order a mission goes through them (declared with the event stream's
closed sets, so ``mission_phase`` events name them)."""
Outcome = MissionOutcome


class Blocked(StrEnum):
    """Why a mission did not start (or stopped) without failing: someone must act."""

    MISSING_VERIFIER = "missing-verifier"
    MISSING_EDIT_AUTHORITY = "missing-edit-authority"
    MISSING_CREDENTIALS = "missing-credentials"
    UNSAFE = "unsafe"
    TOO_BROAD = "too-broad"
    UNDERSPECIFIED = "underspecified"
    DIRTY_REPO = "dirty-repo"
    VERIFIER_NOT_RUNNABLE = "verifier-not-runnable"
    FLAKY_VERIFIER = "flaky-verifier"
    VERIFIER_MODIFIED = "verifier-modified"


class Failed(StrEnum):
    """Why a mission that ran did not reach GREEN."""

    SETUP_FAILED = "setup-failed"
    PATCH_DOES_NOT_APPLY = "patch-does-not-apply"
    STILL_RED = "still-red"
    TESTS_BROKEN = "tests-broken"
    NO_PROGRESS = "no-progress"
    EDITOR_ERROR = "editor-error"
    BUDGET_ATTEMPTS = "budget-attempts"
    BUDGET_TOKENS = "budget-tokens"
    BUDGET_COST = "budget-cost"
    BUDGET_TIME = "budget-time"


# Exit codes of `tau mission`: 0 green or already-green, 1 failed, 3 blocked (2 is bad usage).
EXIT_CODES = {Outcome.GREEN: 0, Outcome.ALREADY_GREEN: 0, Outcome.FAILED: 1, Outcome.BLOCKED: 3}


class MissionError(TauError):
    """A mission cannot be run, resumed or verified as asked."""


class MissionNotFoundError(MissionError):
    """No mission matches the id or prefix (or the prefix is ambiguous)."""

    exit_code = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MissionInputs(_Model):
    """Everything the user gave the mission. Kept whole, so a resume needs nothing else."""

    repo: str
    task: str
    title: str
    issue_file: str | None = None  # where the task came from with --issue ('-': stdin)
    verifier: str | None = None
    guard: str | None = None
    setup: str | None = None
    authority: Literal["patch", "provider"] | None = None
    patch_file: str | None = None
    patch_text: str | None = Field(None, repr=False)
    patch_sha256: str | None = None
    model: str | None = None
    max_attempts: int = 3
    max_tokens: int | None = None
    max_cost: float | None = None
    max_minutes: float | None = None
    commit: bool = True
    profile: str = DEFAULT_PROFILE
    red_runs: int = 2
    verifier_timeout_s: float = 900.0
    publish: Literal["draft"] | None = None
    auto_merge: bool = False

    def public(self) -> dict[str, Any]:
        """The inputs as ``mission.json`` shows them: the patch by file and hash, not text."""
        return self.model_dump(exclude={"patch_text"})


class CommandRun(_Model):
    """One run of the verifier, the guard or the setup command."""

    command: str
    exit_code: int
    timed_out: bool = False
    duration_s: float
    log: str  # the log's path inside the evidence folder
    output_chars: int = 0
    framework: str | None = None  # whose output the test names were parsed from
    failing: list[str] = Field(default_factory=list)
    passing: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class PhaseRecord(_Model):
    name: Phase
    started_at: float
    finished_at: float | None = None
    note: str = ""

    @property
    def duration_s(self) -> float:
        return (self.finished_at or time.time()) - self.started_at


class Attempt(_Model):
    """One edit and the GREEN check that followed it."""

    number: int
    started_at: float
    finished_at: float | None = None
    start_tree: str | None = None  # the worktree when the attempt began, to restart it
    status: Literal["editing", "edited", "green", "red", "error"] = "editing"
    error: str | None = None
    touched: list[str] = Field(default_factory=list)  # paths the editor changed
    diff_sha256: str | None = None
    diff_files: int = 0
    diff_added: int = 0
    diff_removed: int = 0
    verifier: CommandRun | None = None
    guard: CommandRun | None = None
    guard_broken: list[str] = Field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    summary: str = ""  # what the editor said it did
    session_id: str | None = None  # the agent's session, for provider authority


class Publication(_Model):
    """What ``--publish`` did, or the commands it would have run."""

    status: Literal["published", "not-published"]
    reason: str = ""
    commands: list[str] = Field(default_factory=list)
    url: str | None = None
    auto_merge: bool = False


class MissionState(_Model):
    """The persisted record of one mission."""

    schema_version: int = SCHEMA_VERSION
    # Used in paths and branch names: never anything a path could be built from.
    id: str = Field(pattern=r"^[0-9a-f]{6,32}$")
    created_at: float
    updated_at: float
    inputs: MissionInputs
    phase: Phase = Phase.INTAKE  # the phase running now, or next on resume
    phases: list[PhaseRecord] = Field(default_factory=list)
    base_commit: str | None = None
    base_branch: str | None = None
    branch: str | None = None
    worktree: str | None = None  # relative to the repository root
    worktree_removed: bool = False
    setup: CommandRun | None = None
    red: list[CommandRun] = Field(default_factory=list)
    guard_red: CommandRun | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    tests_modified: bool = False
    modified_test_files: list[str] = Field(default_factory=list)
    commit: str | None = None
    outcome: Outcome | None = None
    outcome_phase: Phase | None = None  # the phase the outcome was decided in
    reason: str | None = None
    message: str = ""
    unblock_command: str | None = None
    publication: Publication | None = None

    @property
    def finished(self) -> bool:
        return self.phase is Phase.DONE

    @property
    def green_attempt(self) -> Attempt | None:
        return next((a for a in reversed(self.attempts) if a.status == "green"), None)

    @property
    def input_tokens(self) -> int:
        return sum(a.input_tokens for a in self.attempts)

    @property
    def output_tokens(self) -> int:
        return sum(a.output_tokens for a in self.attempts)

    @property
    def cost_usd(self) -> float | None:
        costs = [a.cost_usd for a in self.attempts]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def elapsed_s(self) -> float:
        """Time spent in phases so far (a mission waiting to be resumed does not count)."""
        return sum(p.duration_s for p in self.phases)

    def phase_record(self, phase: Phase) -> PhaseRecord | None:
        return next((p for p in reversed(self.phases) if p.name is phase), None)


class MissionResult(_Model):
    """The one-line JSON result of ``tau mission ... --json``."""

    id: str
    phase: Phase
    outcome: Outcome | None
    reason: str | None
    unblock_command: str | None
    evidence_dir: str
    commit: str | None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.outcome, 1) if self.outcome else 1
