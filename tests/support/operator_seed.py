"""A seeded workspace for the operator surfaces: sessions, jobs in every liveness case,
missions green and blocked, memory and audit events.

The database is created and migrated by the store's own code (``schema.connect`` and
``migrate``); rows go in with plain INSERTs so that a bench can add 10,000 jobs in a
second. Owners are written the way the queue writes them (``LeaseOwner`` JSON), and the
"live" owner is this test process, so liveness is real, not mocked.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tau_engine.jobs.liveness import current_owner
from tau_engine.store.job_models import LeaseOwner
from tau_engine.store.sqlite.schema import connect, migrate

NOW = 1_800_000_000.0
SESSION_IDS = ["a1" * 16, "b2" * 16, "c3" * 16]
RUNNING_JOB = "0a" * 16
STALE_JOB = "0b" * 16
STUCK_JOB = "0c" * 16
DONE_JOB = "0d" * 16
GREEN_MISSION = "ee" * 8
BLOCKED_MISSION = "ff" * 8


def open_store(root: Path) -> sqlite3.Connection:
    """A writable, migrated connection to ``root/.tau/tau.db``."""
    (root / ".tau").mkdir(exist_ok=True)
    db = root / ".tau" / "tau.db"
    conn = connect(db)
    migrate(conn, db)
    return conn


def add_session(
    conn: sqlite3.Connection,
    session_id: str,
    *,
    updated_at: float,
    title: str = "a session",
    model: str = "offline/echo",
    cost: float | None = 0.01,
) -> None:
    conn.execute(
        "INSERT INTO sessions (id, title, model, created_at, updated_at, input_tokens, "
        "output_tokens, cost_usd) VALUES (?, ?, ?, ?, ?, 120, 45, ?)",
        (session_id, title, model, updated_at - 60, updated_at, cost),
    )


def add_job(
    conn: sqlite3.Connection,
    job_id: str,
    *,
    state: str,
    created_at: float,
    reason: str = "submitted",
    owner: LeaseOwner | None = None,
    lease_expires_at: float | None = None,
    progress_at: float | None = None,
    phase: str = "",
    result: dict[str, object] | None = None,
    kind: str = "prompt",
) -> None:
    conn.execute(
        "INSERT INTO jobs (id, kind, inputs, state, reason, attempt, max_attempts, owner, "
        "lease_expires_at, heartbeat_at, progress_at, phase, result, created_at, updated_at, "
        "started_at) VALUES (?, ?, '{}', ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            job_id,
            kind,
            state,
            reason,
            0 if state == "queued" else 1,
            owner.model_dump_json() if owner else None,
            lease_expires_at,
            progress_at,
            progress_at,
            phase,
            json.dumps(result) if result else None,
            created_at,
            created_at,
            None if state == "queued" else created_at,
        ),
    )


def add_mission(
    conn: sqlite3.Connection,
    mission_id: str,
    *,
    title: str,
    phase: str,
    outcome: str | None,
    reason: str | None,
    verifier_exit: int | None,
    unblock: str | None,
    commit: str | None,
    created_at: float,
) -> None:
    attempts = (
        []
        if verifier_exit is None
        else [
            {
                "number": 1,
                "started_at": created_at,
                "status": "green" if verifier_exit == 0 else "red",
                "verifier": {
                    "command": "pytest -q",
                    "exit_code": verifier_exit,
                    "duration_s": 1.0,
                    "log": "attempt-1/verifier.log",
                },
            }
        ]
    )
    state = {
        "id": mission_id,
        "created_at": created_at,
        "updated_at": created_at,
        "phase": phase,
        "attempts": attempts,
        "outcome": outcome,
        "reason": reason,
        "unblock_command": unblock,
        "commit": commit,
    }
    conn.execute(
        "INSERT INTO missions (id, created_at, updated_at, title, phase, outcome, reason, "
        "commit_sha, revision, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)",
        (
            mission_id,
            created_at,
            created_at,
            title,
            phase,
            outcome,
            reason,
            commit,
            json.dumps(state),
        ),
    )


def gone_owner() -> LeaseOwner:
    """An owner on this machine whose process has exited (a pid that cannot exist)."""
    live = current_owner("seed")
    return live.model_copy(update={"pid": 2**22 + 7, "pid_start": 1})


def seed_workspace(root: Path, now: float = NOW) -> None:
    """The operator fixture: 3 sessions, a running job, a stale lease, a stuck job, a done
    job, a green and a blocked mission, memory in two namespaces and audit events."""
    conn = open_store(root)
    try:
        conn.execute("BEGIN IMMEDIATE")
        for index, session_id in enumerate(SESSION_IDS):
            add_session(
                conn,
                session_id,
                updated_at=now - 300 + index * 100,
                title=f"session {index + 1}",
                cost=None if index == 0 else 0.25,
            )
        me = current_owner("seed")
        add_job(conn, DONE_JOB, state="succeeded", reason="completed", created_at=now - 900)
        add_job(
            conn,
            RUNNING_JOB,
            state="running",
            owner=me,
            lease_expires_at=now + 600,
            progress_at=now - 5,
            phase="edit",
            created_at=now - 800,
        )
        add_job(
            conn,
            STALE_JOB,
            state="running",
            owner=gone_owner(),
            lease_expires_at=now - 120,
            progress_at=now - 130,
            phase="tool",
            created_at=now - 700,
        )
        add_job(
            conn,
            STUCK_JOB,
            state="running",
            owner=me,
            lease_expires_at=now + 600,
            progress_at=now - 3600,
            phase="verify",
            created_at=now - 600,
        )
        add_job(conn, "0e" * 16, state="queued", created_at=now - 500)
        add_mission(
            conn,
            GREEN_MISSION,
            title="fix the parser",
            phase="done",
            outcome="green",
            reason=None,
            verifier_exit=0,
            unblock=None,
            commit="1234567890abcdef1234567890abcdef12345678",
            created_at=now - 400,
        )
        add_mission(
            conn,
            BLOCKED_MISSION,
            title="add retries",
            phase="done",
            outcome="blocked",
            reason="needs-authority",
            verifier_exit=None,
            unblock=f"tau mission resume {BLOCKED_MISSION} --patch FILE",
            commit=None,
            created_at=now - 200,
        )
        for index, namespace in enumerate(["project", "project", "user"]):
            conn.execute(
                "INSERT INTO memory_entries (namespace, text, source, trust, created_at, "
                "updated_at, content_hash) VALUES (?, ?, 'user', 'trusted', ?, ?, ?)",
                (namespace, f"fact {index}", now, now, f"hash{index}"),
            )
        conn.execute("COMMIT")
    finally:
        conn.close()
    logs = root / ".tau" / "logs"
    logs.mkdir(exist_ok=True)
    audit = [
        {"kind": "deny", "tool": "bash", "rule": "rm -rf", "ts": "2027-01-15T08:00:00Z"},
        {"kind": "allow", "tool": "read", "ts": "2027-01-15T08:00:01Z"},
        {
            "kind": "injection",
            "tool": "read",
            "rule": "ignore-previous",
            "ts": "2027-01-15T08:00:02Z",
        },
    ]
    (logs / "audit.jsonl").write_text("".join(json.dumps(a) + "\n" for a in audit))
    calls = [
        {
            "provider": "anthropic",
            "model": "claude-x",
            "status": "ok",
            "latency_ms": 812.5,
            "ts": now - 50,
        },
        {
            "provider": "openai",
            "model": "gpt-y",
            "status": "rate_limit",
            "latency_ms": 120.0,
            "ts": now - 40,
        },
    ]
    (logs / "provider.jsonl").write_text("".join(json.dumps(c) + "\n" for c in calls))
    # The router's breaker journal: openai's breaker opened by its rate limits, still
    # cooling down; anthropic's closed again after a trial call.
    breakers = [
        {"route": "anthropic/claude-x", "state": "open", "since": now - 400, "until": now - 370},
        {"route": "anthropic/claude-x", "state": "closed", "since": now - 300, "until": None},
        {
            "route": "openai/gpt-y",
            "state": "open",
            "since": now - 35,
            "until": now + 25,
            "reason": "rate_limit 429",
            "failures": 3,
        },
    ]
    (logs / "breaker.jsonl").write_text("".join(json.dumps(b) + "\n" for b in breakers))
