"""What only the PostgreSQL job queue has to show: claims skip locked rows instead of
waiting, concurrent submits of one key, its own schema and log rules, one-line errors
that never show the URL's password. The shared contract is ``test_queue.py``'s."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from pathlib import Path

import pytest

from tau_engine.errors import StoreError, UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.job_models import NewJob
from tau_engine.store.postgres.schema import SCHEMA_VERSION
from tau_engine.store.workspace_key import workspace_key
from tests.jobs.conftest import Clock, open_queue, owner

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (tau[postgres])")


def new_job(key: str | None = None, priority: int = 0) -> NewJob:
    return NewJob(
        id=uuid.uuid4().hex,
        kind="prompt",
        inputs={"prompt": "hi"},
        key=key,
        priority=priority,
        max_attempts=3,
    )


async def test_a_claim_skips_a_row_another_transaction_holds(
    postgres_url: str, paths: WorkspacePaths
) -> None:
    queue = open_queue(postgres_url, paths)
    first = (await queue.submit(new_job(priority=5))).job
    second = (await queue.submit(new_job())).job
    with psycopg.connect(postgres_url) as other:  # a transaction, open until the block ends
        other.execute("SELECT 1 FROM jobs WHERE id = %s FOR UPDATE", (first.id,))
        claim = await asyncio.wait_for(queue.claim(owner(), 60), 10)
        assert claim is not None and claim.job.id == second.id  # not blocked behind `other`
        assert await queue.claim(owner("slot-1"), 60) is None
    later = await queue.claim(owner("slot-2"), 60)
    assert later is not None and later.job.id == first.id
    queue.close()


async def test_two_submits_of_one_key_at_once_make_one_job(
    postgres_url: str, paths: WorkspacePaths
) -> None:
    queue = open_queue(postgres_url, paths)
    await queue.submit(new_job())  # the schema exists before the race
    held = new_job(key="nightly")
    racer = psycopg.connect(postgres_url)
    racer.execute("BEGIN")
    racer.execute(
        "INSERT INTO jobs (workspace, id, kind, inputs, dedup_key, state, reason, "
        "created_at, updated_at, next_run_at) VALUES (%s, %s, 'prompt', %s, 'nightly', "
        "'queued', 'submitted', 0, 0, 0)",
        (workspace_key(paths.root), held.id, '{"prompt": "hi"}'),
    )
    # The submit waits on the uncommitted row in the unique index of live keys; once
    # that commits, its insert fails and its second look finds the job.
    waited: list[bool] = []

    def commit_once_the_submit_waits() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as probe:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                row = probe.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND wait_event_type = "
                    "'Lock'"
                ).fetchone()
                if row is not None and row[0] > 0:
                    waited.append(True)
                    break
                time.sleep(0.01)
        racer.commit()

    committer = threading.Thread(target=commit_once_the_submit_waits)
    committer.start()
    result = await asyncio.wait_for(queue.submit(new_job(key="nightly")), 30)
    committer.join()
    racer.close()
    assert waited == [True]  # the race really happened
    assert not result.created and result.job.id == held.id
    queue.close()


async def test_the_log_is_append_only(postgres_url: str, paths: WorkspacePaths) -> None:
    queue = open_queue(postgres_url, paths)
    job = (await queue.submit(new_job())).job
    queue.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("UPDATE job_events SET type = 'forged' WHERE job_id = %s", (job.id,))
        with pytest.raises(psycopg.Error, match="append-only"):
            conn.execute("DELETE FROM job_events WHERE job_id = %s", (job.id,))
        conn.execute("DELETE FROM jobs WHERE id = %s", (job.id,))  # rows go with their job
        row = conn.execute("SELECT count(*) FROM job_events").fetchone()
        assert row is not None and row[0] == 0


def test_a_database_from_a_newer_tau_is_refused(postgres_url: str, paths: WorkspacePaths) -> None:
    open_queue(postgres_url, paths).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("UPDATE tau_schema SET version = 99")
    knows = rf"newer tau \(schema v99; this tau knows v{SCHEMA_VERSION}\)"
    with pytest.raises(StoreError, match=knows):
        open_queue(postgres_url, paths)


def test_four_connections_creating_the_schema_at_once_all_open(
    postgres_url: str, paths: WorkspacePaths
) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_queue(postgres_url, paths).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    url = f"postgresql://tau:hunter2@/tau?host={tmp_path}&port=1"
    with pytest.raises(StoreError) as caught:
        open_store(WorkspacePaths(tmp_path), url).open_jobs()
    message = str(caught.value)
    assert message.startswith("cannot open PostgreSQL database 'tau' on ")
    assert "hunter2" not in message and "\n" not in message


def test_every_part_on_an_unreachable_server_is_one_line_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://tau:hunter2@/tau?host={tmp_path}&port=1"
    backend = open_store(WorkspacePaths(tmp_path), url)
    for open_part in (backend.open_sessions, backend.open_missions, backend.open_memory):
        with pytest.raises(StoreError) as caught:
            open_part()
        message = str(caught.value)
        assert message.startswith("cannot open PostgreSQL database 'tau' on ")
        assert "hunter2" not in message and "\n" not in message
    with pytest.raises(UsageError, match="rebuilds a SQLite store"):
        backend.recover()


async def test_two_recovery_sweeps_never_race(postgres_url: str, paths: WorkspacePaths) -> None:
    """While one sweeper is judging an expired lease, a second (another worker, another
    machine) skips instead of judging and requeueing the same job at the same time."""
    clock = Clock()
    first, second = open_queue(postgres_url, paths, clock), open_queue(postgres_url, paths, clock)
    try:
        job = (await first.submit(new_job())).job
        assert await first.claim(owner(), 60) is not None
        clock.advance(61)
        judging, release = threading.Event(), threading.Event()
        judged_by_second: list[str] = []

        def slow_is_alive(_owner: object) -> bool:
            judging.set()
            release.wait(20)
            return False

        def second_is_alive(_owner: object) -> bool:
            judged_by_second.append("called")
            return False

        sweep = asyncio.ensure_future(first.recover(slow_is_alive))
        assert await asyncio.to_thread(judging.wait, 20)
        other = await asyncio.wait_for(second.recover(second_is_alive), 20)
        release.set()
        report = await asyncio.wait_for(sweep, 20)
        assert other.skipped and other.jobs == [] and judged_by_second == []
        assert [(r.job_id, r.action) for r in report.jobs] == [(job.id, "requeued")]
        # Once the first is done, the lock is free again.
        assert not (await second.recover(second_is_alive)).skipped
    finally:
        first.close()
        second.close()
