"""A process killed with SIGKILL mid-write loses nothing it had committed."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tau_engine.paths import WorkspacePaths
from tau_engine.store.sqlite.sessions import SqliteSessionStore

REPO_ROOT = Path(__file__).resolve().parents[2]

# Appends forever, printing each message's id only after its transaction
# committed; every few messages it also logs events through an EventWriter.
CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from tau_engine.conversation import Message, Usage
    from tau_engine.events import Notice, TextDelta
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store.sqlite.sessions import SqliteSessionStore

    async def main() -> None:
        store = SqliteSessionStore.open(WorkspacePaths(Path(sys.argv[1])))
        info = await store.create_session(model="m")
        print("session", info.id, flush=True)
        writer = store.event_writer(info.id)
        i = 0
        while True:
            role = "user" if i % 2 == 0 else "assistant"
            stored = await store.append(
                info.id, Message(role=role, content=f"message {i} " + "x" * 500),
                usage=Usage(input_tokens=1, output_tokens=2),
            )
            print(stored.id, i, flush=True)
            writer.write(TextDelta(text=f"delta {i}"))
            if i % 5 == 0:
                writer.write(Notice(kind="info", message=str(i)))
            i += 1

    asyncio.run(main())
    """
)

COMMITTED_BEFORE_KILL = 150


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_9_mid_turn_keeps_every_committed_message(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    errors = tmp_path / "child.stderr"
    with open(errors, "w") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    assert child.stdout is not None
    try:
        first = child.stdout.readline().split()
        assert first[:1] == ["session"], errors.read_text() or first
        session_id = first[1]
        committed: list[tuple[str, int]] = []
        while len(committed) < COMMITTED_BEFORE_KILL:
            line = child.stdout.readline()
            assert line, "the writer process died on its own"
            message_id, index = line.split()
            committed.append((message_id, int(index)))
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        # Lines printed after the last read and before the kill count too. They are
        # read through the same buffered reader: ``communicate`` reads the pipe's file
        # descriptor and would miss the lines ``readline`` already buffered.
        rest = child.stdout.read()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    for line in rest.splitlines():
        message_id, index = line.split()
        committed.append((message_id, int(index)))

    conn = sqlite3.connect(WorkspacePaths(tmp_path).db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    conn.close()

    async def check() -> None:
        store = SqliteSessionStore.open(WorkspacePaths(tmp_path))
        try:
            history = await store.history(session_id)
            # At most the one message in flight was committed but not printed.
            assert len(committed) <= len(history) <= len(committed) + 1
            for message_id, index in committed:
                stored = history[index]
                assert stored.id == message_id
                assert stored.message.content == f"message {index} " + "x" * 500
                assert stored.parent_id == (history[index - 1].id if index else None)
            # Usage totals moved in the same transactions as the inserts.
            usage, _cost = await store.totals(session_id)
            assert usage.input_tokens == len(history)
            assert usage.output_tokens == 2 * len(history)
            events = await store.events(session_id)
            assert [e.seq for e in events] == list(range(1, len(events) + 1))
            assert len(events) > 0
        finally:
            store.close()

    asyncio.run(check())
