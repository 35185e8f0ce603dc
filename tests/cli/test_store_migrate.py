"""``tau store migrate --to postgresql://…``, end to end: a workspace's SQLite store is
copied into a throwaway PostgreSQL server by the real ``tau``, and everything in it reads
back the same through the PostgreSQL backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tau_engine.conversation import Message, Usage
from tau_engine.event_kinds import NoticeKind, RetryNote
from tau_engine.events import EventBus, Notice, TextDelta
from tau_engine.memory.service import MemoryService
from tau_engine.paths import WorkspacePaths
from tau_engine.store import MissionRow, StoreBackend, open_store
from tau_engine.store.job_models import JobState, LeaseOwner, NewJob, Outcome, Reason
from tests.cli.tau_process import run_tau

PASSWORD = "hunter2-never-shown"


def _with_password(url: str) -> str:
    return url.replace("tau@", f"tau:{PASSWORD}@", 1)


async def _seed(paths: WorkspacePaths) -> None:
    """A store with every kind of record: a branched session with usage, events and a
    file checkpoint, a fork, a mission, memory (one entry superseded), jobs with attempts."""
    backend = open_store(paths)
    store = backend.open_sessions()
    try:
        info = await store.create_session(model="offline/echo")
        ask = await store.append(info.id, Message(role="user", content="fix the parser"))
        (paths.root / "parser.py").write_text("old\n")
        await store.checkpoint_file(info.id, ask.id, paths.root / "parser.py")
        (paths.root / "parser.py").write_text("new\n")
        await store.append(
            info.id,
            Message(role="assistant", content="done"),
            usage=Usage(input_tokens=10, output_tokens=5),
            cost_usd=0.25,
        )
        await store.append(info.id, Message(role="user", content="another way"), parent_id=ask.id)
        with store.event_writer(info.id) as writer:
            bus = EventBus(info.id)
            bus.subscribe(writer.write)
            bus.emit(TextDelta(text="do"))
            bus.emit(
                Notice(
                    kind=NoticeKind.RETRY,
                    message="again",
                    data=RetryNote(route="a/x", attempt=1, delay_s=0.5, error_kind="server"),
                )
            )
        await store.fork(info.id, ask.id, title="a fork")
    finally:
        store.close()
    missions = backend.open_missions()
    try:
        row = MissionRow("m1", 1.0, 2.0, "fix it", "green", None, None, None, {"id": "m1"})
        await missions.save(await missions.create(row))
    finally:
        missions.close()
    memory = backend.open_memory()
    try:
        service = MemoryService(memory, clock=lambda: 1_800_000_000.0)
        await service.write("Deploy with ansible.", namespace="ops", subject="deploy")
        await service.write("Deploy with kubectl.", namespace="ops", subject="deploy")
        await service.write("Run the tests with pytest -q.", tags=["tests"])
    finally:
        memory.close()
    queue = backend.open_jobs()
    try:
        for n in range(3):
            await queue.submit(NewJob(id=f"job{n}", kind="prompt", inputs={"n": n}))
        owner = LeaseOwner(worker="w", host="h", boot_id="b", pid=1, pid_start=1)
        claim = await queue.claim(owner, 30.0)
        assert claim is not None
        await queue.finish(claim.fence, Outcome(state=JobState.SUCCEEDED, reason=Reason.COMPLETED))
    finally:
        queue.close()


async def _contents(backend: StoreBackend) -> dict[str, Any]:
    """Everything a user can read back, by the store's own API."""
    store = backend.open_sessions()
    missions = backend.open_missions()
    memory = backend.open_memory()
    queue = backend.open_jobs()
    try:
        sessions = await store.list_sessions()
        seen: dict[str, Any] = {"sessions": [s.model_dump() for s in sessions]}
        for s in sessions:
            seen[s.id] = {
                "history": [m.model_dump() for m in await store.history(s.id)],
                "branches": [m.id for m in await store.branches(s.id)],
                "events": [e.model_dump() for e in await store.events(s.id)],
                "totals": await store.totals(s.id),
            }
        seen["missions"] = [m.__dict__ for m in await missions.recent()]
        seen["memory"] = list(await memory.entries())
        hits = await MemoryService(memory).search("pytest")
        seen["search"] = [h.entry.id for h in hits.hits]
        jobs = await queue.list_jobs()
        seen["jobs"] = [(j.id, j.state, j.attempt, j.fence) for j in jobs]
        seen["attempts"] = [len(await queue.attempts(j.id)) for j in jobs]
        seen["job_events"] = [len(await queue.events(j.id)) for j in jobs]
        return seen
    finally:
        store.close()
        missions.close()
        memory.close()
        queue.close()


def test_migrate_copies_everything_and_refuses_a_second_time(
    workspace: Path, postgres_url: str
) -> None:
    paths = WorkspacePaths(workspace)
    asyncio.run(_seed(paths))
    before = asyncio.run(_contents(open_store(paths)))
    url = _with_password(postgres_url)

    done = run_tau(["store", "migrate", "--to", url], cwd=workspace)
    assert done.returncode == 0, done.stderr
    # The line docs/scale.md shows.
    assert done.stdout.startswith(
        "copied 2 session(s) (4 messages, 2 events), 1 mission(s), 3 memory entries and "
        "3 job(s) to PostgreSQL database 'tau_"
    )
    assert done.stdout.count("\n") == 1 and done.stderr == ""
    assert PASSWORD not in done.stdout and "postgresql://" not in done.stdout

    target = open_store(paths, url)
    assert asyncio.run(_contents(target)) == before

    async def after_the_move() -> None:
        # Undo works on the copy (the file copies stayed in .tau/checkpoints), and new
        # memory gets a fresh id after the copied ones.
        store = target.open_sessions()
        memory = target.open_memory()
        try:
            original = next(s for s in await store.list_sessions() if not s.meta)
            done = next(
                tip for tip in await store.branches(original.id) if tip.message.content == "done"
            )
            with store.lock_session(original.id):
                await store.set_head(original.id, done.id)
                report = await store.undo(original.id)
            assert report.restored == ["parser.py"]
            assert (workspace / "parser.py").read_text() == "old\n"
            outcome = await MemoryService(memory).write("Lint with ruff.")
            assert outcome.entry.id == 4
        finally:
            store.close()
            memory.close()

    asyncio.run(after_the_move())

    again = run_tau(["store", "migrate", "--to", url], cwd=workspace)
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already holds 2 of this workspace's sessions" in (
        again.stderr
    )
    assert "nothing was copied" in again.stderr and PASSWORD not in again.stderr
    assert len(asyncio.run(_contents(target))["sessions"]) == 2


def test_json_reports_the_rows_copied_per_table(workspace: Path, postgres_url: str) -> None:
    asyncio.run(_seed(WorkspacePaths(workspace)))
    done = run_tau(["store", "migrate", "--to", postgres_url, "--json"], cwd=workspace)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["target"].startswith("PostgreSQL database 'tau_")
    assert report["copied"] == {
        "sessions": 2,
        "messages": 4,
        "events": 2,
        "checkpoints": 2,
        "redo_stack": 0,
        "redo_files": 0,
        "missions": 1,
        "memory_entries": 3,
        "jobs": 3,
        "job_attempts": 1,
        "job_events": 5,
    }


@pytest.mark.parametrize(
    ("to", "words", "code"),
    [
        ("postgresql://tau:{pw}@/tau?host=/nowhere-at-all&port=1", "cannot open PostgreSQL", 1),
        ("mysql://tau:{pw}@db/tau", "unknown store backend 'mysql'", 2),
        ("sqlite", "--to must name a PostgreSQL database", 2),
        ("postgresql://tau:{pw}@/tau?host=/x&port=notaport", "PostgreSQL", 1),
    ],
)
def test_bad_targets_are_one_line_without_the_url(
    workspace: Path, to: str, words: str, code: int
) -> None:
    asyncio.run(_seed(WorkspacePaths(workspace)))
    done = run_tau(["store", "migrate", "--to", to.format(pw=PASSWORD)], cwd=workspace)
    assert done.returncode == code
    assert done.stderr.startswith("tau: error: ") and done.stderr.count("\n") == 1
    assert words in done.stderr and PASSWORD not in done.stderr and "Traceback" not in done.stderr


def test_a_workspace_without_a_store_has_nothing_to_migrate(
    workspace: Path, postgres_url: str
) -> None:
    done = run_tau(["store", "migrate", "--to", postgres_url], cwd=workspace)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no tau store in" in done.stderr
    assert not (workspace / ".tau" / "tau.db").exists()


def test_a_store_in_use_is_not_migrated(workspace: Path, postgres_url: str) -> None:
    paths = WorkspacePaths(workspace)
    asyncio.run(_seed(paths))
    holder = open_store(paths).open_sessions()  # another tau process has the store open
    try:
        done = run_tau(["store", "migrate", "--to", postgres_url], cwd=workspace)
    finally:
        holder.close()
    assert done.returncode == 1 and "other tau processes have the store open" in done.stderr
    assert asyncio.run(_contents(open_store(paths, postgres_url)))["sessions"] == []


def test_a_hostile_store_file_is_copied_as_data(workspace: Path, postgres_url: str) -> None:
    # .tau/ is workspace content: a column whose name is SQL, and a NUL in a title (SQLite
    # holds it, PostgreSQL's text cannot), are copied as data or left out, never run.
    import sqlite3

    paths = WorkspacePaths(workspace)
    asyncio.run(_seed(paths))
    conn = sqlite3.connect(paths.db_path)
    conn.execute('ALTER TABLE sessions ADD COLUMN "x"" FROM sessions; DROP TABLE jobs; --" TEXT')
    conn.execute("UPDATE sessions SET title = 'a' || char(0) || 'b'")
    conn.commit()
    conn.close()
    done = run_tau(["store", "migrate", "--to", postgres_url], cwd=workspace)
    assert done.returncode == 0, done.stderr
    copied = asyncio.run(_contents(open_store(paths, postgres_url)))
    assert {s["title"] for s in copied["sessions"]} == {"a\ufffdb"}
    assert len(copied["jobs"]) == 3
