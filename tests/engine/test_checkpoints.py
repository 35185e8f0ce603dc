"""File checkpoints, undo and redo against a real temporary workspace, for every store
backend (the copies themselves are files under ``.tau/checkpoints/`` whatever the backend)."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tau_engine.conversation import Message, StoredMessage, ToolCall
from tau_engine.errors import UsageError, WorkspaceError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import SessionStore, StoreBackend
from tau_engine.store.sqlite.sessions import SqliteSessionStore


@pytest.fixture
async def store(store_backend: StoreBackend) -> AsyncIterator[SessionStore]:
    opened = store_backend.open_sessions()
    yield opened
    opened.close()


def blob_files(store: SessionStore) -> set[str]:
    root = store.paths.checkpoints_dir
    return {p.name for p in root.glob("*/*")} if root.exists() else set()


class Turn:
    """Plays one agent turn: a user prompt, then tool edits checkpointed first."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.session_id = session_id
        self.root = store.paths.root
        self.prompt: StoredMessage | None = None

    async def start(self, text: str) -> Turn:
        self.prompt = await self.store.append(self.session_id, Message(role="user", content=text))
        return self

    async def write(self, rel: str, text: str) -> None:
        assert self.prompt is not None
        await self.store.checkpoint_file(self.session_id, self.prompt.id, self.root / rel)
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text)

    async def delete(self, rel: str) -> None:
        assert self.prompt is not None
        await self.store.checkpoint_file(self.session_id, self.prompt.id, self.root / rel)
        (self.root / rel).unlink()

    async def finish(self, *, bash_calls: int = 0) -> None:
        calls = [
            ToolCall(id=f"c{i}", name="bash", arguments={"command": "make"})
            for i in range(bash_calls)
        ]
        await self.store.append(
            self.session_id, Message(role="assistant", content="", tool_calls=calls)
        )
        for call in calls:
            await self.store.append(
                self.session_id,
                Message(role="tool", content="ok", tool_call_id=call.id, name="bash"),
            )
        await self.store.append(self.session_id, Message(role="assistant", content="done"))


async def test_undo_restores_modified_created_and_deleted_files(
    store: SessionStore, tmp_path: Path
) -> None:
    info = await store.create_session(model="m")
    (tmp_path / "edit.py").write_text("original\n")
    (tmp_path / "gone.txt").write_text("keep me\n")
    first = await Turn(store, info.id).start("set up")
    await first.finish()
    head_before = (await store.get_session(info.id)).head_id

    turn = await Turn(store, info.id).start("change things")
    await turn.write("edit.py", "changed\n")
    await turn.write("edit.py", "changed twice\n")  # second change: still one checkpoint
    await turn.write("pkg/new.py", "created\n")
    await turn.delete("gone.txt")
    await turn.finish(bash_calls=2)

    report = await store.undo(info.id)
    # the prompt, the assistant's call message, two results, the final answer
    assert report.action == "undo" and report.messages == 5
    assert report.head_id == head_before
    assert sorted(report.restored) == ["edit.py", "gone.txt", "pkg/new.py"]
    assert report.failed == []
    assert report.note == (
        "2 shell command(s) ran in the undone turns; their side effects are not undone."
    )
    assert (tmp_path / "edit.py").read_text() == "original\n"
    assert (tmp_path / "gone.txt").read_text() == "keep me\n"
    assert not (tmp_path / "pkg" / "new.py").exists()
    assert (await store.get_session(info.id)).head_id == head_before

    redo = await store.redo(info.id)
    assert redo.action == "redo" and redo.messages == 5 and redo.failed == []
    assert (tmp_path / "edit.py").read_text() == "changed twice\n"
    assert (tmp_path / "pkg" / "new.py").read_text() == "created\n"
    assert not (tmp_path / "gone.txt").exists()
    assert [m.message.content for m in await store.history(info.id)][-1] == "done"
    assert len(await store.history(info.id)) == 8

    assert redo.note == "2 shell command(s) of the redone turns were not run again."
    assert redo.summary().splitlines()[0].startswith(f"redid 5 message(s) of session {info.id[:8]}")

    # Undo again after a redo uses the same checkpoints.
    await store.undo(info.id)
    assert (tmp_path / "edit.py").read_text() == "original\n"


async def test_successive_undos_and_redos_are_a_stack(store: SessionStore, tmp_path: Path) -> None:
    info = await store.create_session(model="m")
    for version in ("v1", "v2", "v3"):
        turn = await Turn(store, info.id).start(f"make {version}")
        await turn.write("file.txt", version)
        await turn.finish()
    assert (await store.undo(info.id)).messages == 3
    assert (tmp_path / "file.txt").read_text() == "v2"
    await store.undo(info.id)
    assert (tmp_path / "file.txt").read_text() == "v1"
    await store.undo(info.id)
    assert not (tmp_path / "file.txt").exists()
    assert (await store.get_session(info.id)).head_id is None
    with pytest.raises(UsageError, match="nothing to undo"):
        await store.undo(info.id)
    await store.redo(info.id)
    assert (tmp_path / "file.txt").read_text() == "v1"
    await store.redo(info.id)
    await store.redo(info.id)
    assert (tmp_path / "file.txt").read_text() == "v3"
    with pytest.raises(UsageError, match="nothing to redo"):
        await store.redo(info.id)


async def test_new_append_clears_redo(store: SessionStore, tmp_path: Path) -> None:
    info = await store.create_session(model="m")
    turn = await Turn(store, info.id).start("write")
    await turn.write("a.txt", "from the undone turn " * 50)
    await turn.finish()
    await store.undo(info.id)
    # Redo's saved copy of a.txt exists until the stack is cleared.
    assert len(blob_files(store)) == 1
    await store.append(info.id, Message(role="user", content="something else"))
    with pytest.raises(UsageError, match="nothing to redo"):
        await store.redo(info.id)
    assert blob_files(store) == set()
    assert not (tmp_path / "a.txt").exists()


async def test_undone_work_stays_a_branch(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    await (await Turn(store, info.id).start("one")).finish()
    turn = await Turn(store, info.id).start("two")
    await turn.finish()
    undone_tip = (await store.get_session(info.id)).head_id
    await store.undo(info.id)
    await store.append(info.id, Message(role="user", content="two, differently"))
    tips = {m.id for m in await store.branches(info.id)}
    assert undone_tip in tips and len(tips) == 2


async def test_undo_reports_files_it_cannot_restore(store: SessionStore, tmp_path: Path) -> None:
    info = await store.create_session(model="m")
    (tmp_path / "lost.txt").write_text("old")
    turn = await Turn(store, info.id).start("edit")
    await turn.write("lost.txt", "new")
    await turn.write("made", "file")
    await turn.write("fine.txt", "x")
    await turn.finish()
    for blob in store.paths.checkpoints_dir.glob("*/*"):
        blob.unlink()  # the saved copy of lost.txt disappears
    (tmp_path / "made").unlink()
    (tmp_path / "made").mkdir()  # a directory where the turn created a file
    report = await store.undo(info.id)
    failures = {f.path: f.reason for f in report.failed}
    assert "missing" in failures["lost.txt"]
    assert "directory" in failures["made"]
    assert report.restored == ["fine.txt"]
    lines = report.summary().splitlines()
    assert lines[0].endswith("; restored fine.txt")
    assert any(line.startswith("could not restore lost.txt: ") for line in lines[1:])
    data = report.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["action"] == "undo" and data["restored"] == ["fine.txt"]
    assert {f["path"] for f in data["failed"]} == {"lost.txt", "made"}
    assert (tmp_path / "lost.txt").read_text() == "new"
    assert not (tmp_path / "fine.txt").exists()


async def test_corrupt_blob_is_reported_and_file_left_alone(
    store: SessionStore, tmp_path: Path
) -> None:
    info = await store.create_session(model="m")
    (tmp_path / "f.txt").write_text("old")
    turn = await Turn(store, info.id).start("edit")
    await turn.write("f.txt", "new")
    await turn.finish()
    (blob,) = store.paths.checkpoints_dir.glob("*/*")
    blob.write_text("tampered")
    report = await store.undo(info.id)
    assert [f.path for f in report.failed] == ["f.txt"]
    assert "corrupt" in report.failed[0].reason
    assert (tmp_path / "f.txt").read_text() == "new"


async def test_checkpoint_is_content_addressed_and_once_per_turn(
    store: SessionStore, tmp_path: Path
) -> None:
    info = await store.create_session(model="m")
    data = os.urandom(3 * (1 << 20) + 17)  # several read chunks
    (tmp_path / "big.bin").write_bytes(data)
    (tmp_path / "copy.bin").write_bytes(data)
    turn = await Turn(store, info.id).start("touch")
    assert turn.prompt is not None
    await store.checkpoint_file(info.id, turn.prompt.id, tmp_path / "big.bin")
    await store.checkpoint_file(info.id, turn.prompt.id, Path("copy.bin"))
    (tmp_path / "big.bin").write_bytes(b"changed")
    await store.checkpoint_file(info.id, turn.prompt.id, tmp_path / "big.bin")
    assert blob_files(store) == {hashlib.sha256(data).hexdigest()}
    await store.undo(info.id)
    assert (tmp_path / "big.bin").read_bytes() == data


async def test_file_mode_is_restored(store: SessionStore, tmp_path: Path) -> None:
    info = await store.create_session(model="m")
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o755)
    turn = await Turn(store, info.id).start("break it")
    await turn.delete("run.sh")
    await turn.finish()
    await store.undo(info.id)
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


async def test_checkpoint_refuses_paths_outside_and_foreign_turns(
    store: SessionStore, tmp_path: Path
) -> None:
    info = await store.create_session(model="m")
    other = await store.create_session(model="m")
    turn = await Turn(store, info.id).start("x")
    assert turn.prompt is not None
    with pytest.raises(WorkspaceError):
        await store.checkpoint_file(info.id, turn.prompt.id, tmp_path.parent / "elsewhere")
    with pytest.raises(WorkspaceError):
        await store.checkpoint_file(info.id, turn.prompt.id, Path("../escape"))
    with pytest.raises(UsageError, match="not in session"):
        await store.checkpoint_file(other.id, turn.prompt.id, tmp_path / "f")


async def test_redo_without_undo_and_undo_without_prompt(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    with pytest.raises(UsageError, match="nothing to undo"):
        await store.undo(info.id)
    await store.append(info.id, Message(role="system", content="sys"))
    with pytest.raises(UsageError, match="nothing to undo"):
        await store.undo(info.id)
    with pytest.raises(UsageError, match="nothing to redo"):
        await store.redo(info.id)


async def test_fork_keeps_checkpoints_and_delete_frees_only_unshared_blobs(
    store: SessionStore, tmp_path: Path
) -> None:
    info = await store.create_session(model="m")
    (tmp_path / "shared.txt").write_text("before the fork")
    turn = await Turn(store, info.id).start("edit")
    await turn.write("shared.txt", "edited")
    await turn.finish()
    head = (await store.get_session(info.id)).head_id
    assert head is not None
    fork = await store.fork(info.id, head)
    (tmp_path / "solo.txt").write_text("only the original")
    later = await Turn(store, info.id).start("more")
    await later.write("solo.txt", "changed")
    await later.finish()
    assert len(blob_files(store)) == 2

    await store.delete_session(info.id)
    assert blob_files(store) == {hashlib.sha256(b"before the fork").hexdigest()}
    await store.undo(fork.id)
    assert (tmp_path / "shared.txt").read_text() == "before the fork"


async def test_set_head_clears_redo(store: SessionStore) -> None:
    info = await store.create_session(model="m")
    first = await Turn(store, info.id).start("one")
    await first.finish()
    await (await Turn(store, info.id).start("two")).finish()
    await store.undo(info.id)
    assert first.prompt is not None
    await store.set_head(info.id, first.prompt.id)
    with pytest.raises(UsageError, match="nothing to redo"):
        await store.redo(info.id)


async def test_undo_never_touches_files_outside_the_workspace_named_by_planted_rows(
    tmp_path: Path,
) -> None:
    # ``.tau/tau.db`` is workspace content: a planted checkpoint row may name a path
    # outside the workspace, directly or through a symlink. Undo refuses both.
    root = tmp_path / "ws"
    root.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("not yours\n")
    (root / "link").symlink_to(tmp_path, target_is_directory=True)
    store = SqliteSessionStore.open(WorkspacePaths(root))
    try:
        info = await store.create_session(model="m")
        turn = await Turn(store, info.id).start("x")
        await turn.finish()
        assert turn.prompt is not None
        conn = sqlite3.connect(store.paths.db_path)
        with conn:
            for planted in ("../victim.txt", "link/victim.txt", "~/../../victim.txt"):
                conn.execute(
                    "INSERT INTO checkpoints (session_id, message_id, path, blob, mode, "
                    "created_at) VALUES (?, ?, ?, NULL, NULL, 0)",
                    (info.id, turn.prompt.id, planted),
                )
        conn.close()
        report = await store.undo(info.id)
    finally:
        store.close()
    assert victim.read_text() == "not yours\n"
    assert sorted(f.path for f in report.failed) == sorted(
        ["../victim.txt", "link/victim.txt", "~/../../victim.txt"]
    )
    assert all("outside the workspace" in f.reason for f in report.failed)
