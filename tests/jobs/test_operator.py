"""The operator's view: every state, its one-line reason and the exact next command."""

from __future__ import annotations

from typing import Any

from tau_engine.jobs.operator import operator_view
from tau_engine.store.job_models import AttemptRecord, JobRecord, JobState, LeaseOwner

NOW = 1_800_000_000.0
JOB_ID = "1a2b3c4d" + "0" * 24
OWNER = LeaseOwner(worker="slot-0", host="host-a", boot_id="b", pid=4121, pid_start=9)


def job(**fields: Any) -> JobRecord:
    base: dict[str, Any] = {
        "id": JOB_ID,
        "kind": "prompt",
        "inputs": {"prompt": "fix it"},
        "state": "queued",
        "reason": "submitted",
        "attempt": 0,
        "max_attempts": 3,
        "created_at": NOW - 60,
        "updated_at": NOW - 60,
        "next_run_at": NOW - 60,
    }
    base.update(fields)
    return JobRecord.model_validate(base)


def running(**fields: Any) -> JobRecord:
    base: dict[str, Any] = {
        "state": "running",
        "attempt": 1,
        "owner": OWNER,
        "started_at": NOW - 50,
        "lease_expires_at": NOW + 57,
        "heartbeat_at": NOW - 3,
        "progress_at": NOW - 5,
        "phase": "tool bash",
        "last_line": "pytest -q",
    }
    return job(**{**base, **fields})


def attempt(n: int, side_effects: bool) -> AttemptRecord:
    return AttemptRecord(
        job_id=JOB_ID,
        attempt=n,
        fence=n,
        reason="submitted",
        owner=OWNER,
        started_at=NOW - 50,
        side_effects=side_effects,
    )


def view(
    record: JobRecord,
    attempts: list[AttemptRecord] | None = None,
    *,
    alive: bool = False,
    here: bool = True,
    safe: bool = False,
    argv: list[str] | None = None,
) -> tuple[str, str, str]:
    got = operator_view(
        record,
        attempts or [],
        now=NOW,
        is_alive=lambda _o: alive,
        same_machine=lambda _o: here,
        replay_safe=safe,
        submit_argv=argv,
        stuck_after_s=600,
    )
    return got.state, got.reason, got.next_command


def test_queued_waits_for_a_worker() -> None:
    state, reason, command = view(job())
    assert (state, command) == ("queued", "tau jobs run")
    assert reason == "queued 60 s ago, priority 0; attempt 1/3 next"
    state, reason, _ = view(
        job(
            state="recovering", reason="stale-lease", attempt=1, last_error="lease expired 93 s ago"
        )
    )
    assert state == "queued" and "requeued after a stale lease" in reason
    _, reason, _ = view(
        job(reason="retry", attempt=1, next_run_at=NOW + 30, last_error="429 rate limit")
    )
    assert "retry: 429 rate limit" in reason and "next run in 30 s" in reason


def test_running_shows_its_owner_phase_and_lease() -> None:
    state, reason, command = view(running())
    assert (state, command) == ("running", "tau jobs show 1a2b3c4d")
    assert reason == (
        "attempt 1/3 on pid 4121, phase tool bash: pytest -q; heartbeat 3 s ago, lease 57 s left"
    )


def test_an_expired_lease_with_a_dead_owner_is_stale() -> None:
    state, reason, command = view(running(lease_expires_at=NOW - 93))
    assert (state, command) == ("stale-lease", "tau jobs recover")
    assert reason == "lease expired 93 s ago; owner pid 4121 is not running"
    _, reason, _ = view(running(lease_expires_at=NOW - 93), here=False)
    assert reason == "lease expired 93 s ago; owner pid 4121 on host-a cannot be checked from here"


def test_an_expired_lease_with_a_live_owner_is_slow_not_dead() -> None:
    state, reason, _ = view(running(lease_expires_at=NOW - 5), alive=True)
    assert state == "running"
    assert "lease expired 5 s ago but owner pid 4121 is alive: slow, not dead" in reason


def test_no_progress_with_a_live_lease_is_stuck() -> None:
    state, reason, command = view(running(progress_at=NOW - 720))
    assert (state, command) == ("stuck", "tau jobs cancel 1a2b3c4d")
    assert reason == (
        "no progress for 12 min (phase tool bash: pytest -q); heartbeat 3 s ago, pid 4121"
    )
    # Slow (owner alive, lease late) and without progress: its worker does not answer.
    state, reason, command = view(
        running(progress_at=NOW - 720, lease_expires_at=NOW - 5), alive=True
    )
    assert (state, command) == ("stuck", "kill -9 4121")
    assert reason.endswith("its worker does not answer")
    asked = running(progress_at=NOW - 720, cancel_requested_at=NOW - 300)
    assert view(asked)[2] == "kill -9 4121"


def test_a_succeeded_job_is_complete_and_points_at_its_session() -> None:
    record = job(
        state="succeeded",
        reason="completed",
        attempt=2,
        started_at=NOW - 41,
        finished_at=NOW,
        result={"session_id": "abcdef0123"},
    )
    assert view(record) == (
        "complete",
        "succeeded on attempt 2/3 after 41 s",
        "tau sessions show abcdef01",
    )


def test_failed_jobs_are_safe_to_replay_only_without_side_effects() -> None:
    record = job(
        state="failed", reason="attempts-exhausted", attempt=3, last_error="rate_limit: slow down"
    )
    state, reason, command = view(record, [attempt(1, False)], safe=True)
    assert (state, command) == ("safe-to-replay", "tau jobs replay 1a2b3c4d")
    assert reason.startswith("failed (attempts-exhausted) on attempt 3/3: rate_limit")
    state, reason, command = view(record, [attempt(1, False), attempt(2, True)])
    assert (state, command) == ("failed", "tau jobs show 1a2b3c4d")
    assert reason.endswith("attempt 2 may have changed files")
    assert view(job(state="failed", reason="bad-input", attempt=1), safe=True)[0] == "failed"


def test_cancelled_jobs() -> None:
    record = job(state="cancelled", reason="operator-cancel", attempt=1)
    assert view(record, safe=True)[0] == "safe-to-replay"
    state, reason, _ = view(record, [attempt(1, True)])
    assert state == "cancelled" and "may have changed files" in reason
    assert "before it ran" in view(job(state="cancelled", reason="operator-cancel"))[1]


def test_blocked_and_needing_authority() -> None:
    held = job(state="blocked", reason="operator-block", message="schema freeze")
    assert view(held) == (
        "blocked",
        "blocked by the operator: schema freeze",
        "tau jobs replay 1a2b3c4d",
    )
    planted = job(state="blocked", reason="unsigned-inputs")
    state, reason, command = view(planted, argv=["-p", "rm -rf it", "--approval", "full-auto"])
    assert state == "needs-authority" and "not submitted by you" in reason
    assert command == "tau jobs submit -p 'rm -rf it' --approval full-auto"
    mission = job(
        state="blocked",
        reason="needs-authority",
        message="no edit authority",
        result={"next_command": "tau mission run --task x --patch FILE"},
    )
    assert view(mission) == (
        "needs-authority",
        "no edit authority",
        "tau mission run --task x --patch FILE",
    )
    flaky = job(
        state="blocked",
        reason="mission-blocked",
        message="the mission is blocked (flaky-verifier)",
        result={"next_command": "tau mission show m1"},
    )
    assert view(flaky) == (
        "blocked",
        "the mission is blocked (flaky-verifier)",
        "tau mission show m1",
    )


def test_every_job_state_has_a_view() -> None:
    for state in JobState:
        record = running() if state is JobState.RUNNING else job(state=state)
        got = view(record)
        assert got[0] and got[1] and got[2].startswith("tau ")
