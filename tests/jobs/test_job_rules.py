"""The job queue's decisions, said once for both backends (``store/job_rules.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from tau_engine.errors import UsageError
from tau_engine.store import job_rules as rules
from tau_engine.store.job_models import JobRecord, JobState, NewJob, Outcome, Reason
from tests.jobs.conftest import owner


def _job(**changes: Any) -> JobRecord:
    base: dict[str, Any] = {
        "id": "a" * 32,
        "kind": "prompt",
        "inputs": {"p": 1},
        "state": JobState.RUNNING,
        "reason": "submitted",
        "attempt": 1,
        "max_attempts": 2,
        "fence": 3,
        "owner": owner(),
        "lease_expires_at": 100.0,
        "created_at": 0.0,
        "updated_at": 0.0,
    }
    base.update(changes)
    return JobRecord(**base)


def test_a_retry_asked_for_by_the_last_attempt_fails_the_job() -> None:
    retry = Outcome(state=JobState.QUEUED, reason="provider-retryable", retry_at=150.0)
    again = rules.settle(_job(attempt=1), retry, now=120.0)
    assert (again.state, again.settled, again.next_run_at, again.phase) == (
        JobState.QUEUED,
        False,
        150.0,
        "waiting to retry",
    )
    last = rules.settle(_job(attempt=2), retry, now=120.0)
    assert (last.state, last.reason, last.finished_at, last.phase) == (
        JobState.FAILED,
        Reason.ATTEMPTS_EXHAUSTED,
        120.0,
        "finished",
    )
    assert rules.finished_data(last, retry)["retry_at"] is None


def test_recovery_cancels_fails_or_requeues() -> None:
    assert rules.recovery_verdict(_job(cancel_requested_at=90.0), 130.0).action == "cancelled"
    assert rules.recovery_verdict(_job(attempt=2), 130.0).action == "failed"
    verdict = rules.recovery_verdict(_job(), 130.0)
    assert (verdict.state, verdict.next_run_at(130.0), verdict.finished_at(130.0)) == (
        JobState.RECOVERING,
        130.0,
        None,
    )
    assert verdict.detail == "lease expired 30 s ago; owner pid 4121 on host-a is not running"


def test_a_cancel_asks_the_worker_only_while_it_may_be_running() -> None:
    assert rules.cancel_asks_the_worker(_job(), 50.0, lambda _o: False)  # lease holds
    assert rules.cancel_asks_the_worker(_job(), 130.0, lambda _o: True)  # slow owner
    assert not rules.cancel_asks_the_worker(_job(), 130.0, lambda _o: False)  # owner gone
    assert not rules.cancel_asks_the_worker(_job(state=JobState.QUEUED), 0.0, lambda _o: True)
    with pytest.raises(UsageError, match="already succeeded"):
        rules.cancel_asks_the_worker(_job(state=JobState.SUCCEEDED), 0.0, lambda _o: True)


def test_a_key_returns_its_job_only_for_the_same_inputs() -> None:
    held = _job(state=JobState.QUEUED)
    same = NewJob(id="b" * 32, kind="prompt", inputs={"p": 1}, key="k")
    assert rules.existing_for_key(held, same).job is held
    with pytest.raises(UsageError, match="held by live job aaaaaaaa"):
        rules.existing_for_key(held, same.model_copy(update={"inputs": {"p": 2}}))
