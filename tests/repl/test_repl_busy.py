"""``tau --line --continue`` on a session another tau process is running offers a fork."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import SessionLockedError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.session_lock import SessionLock
from tau_tui.repl import open_offering_fork


async def _busy_session(workspace: Path) -> tuple[str, SessionLock]:
    engine = await Engine.open(
        workspace=WorkspacePaths(workspace), settings=Settings(model="offline/echo"), environ={}
    )
    try:
        await engine.run("the first question")
        assert engine.session is not None
        session_id = engine.session.id
    finally:
        await engine.close()
    # This lock stands for another tau process running the session.
    return session_id, SessionLock.acquire(WorkspacePaths(workspace).locks_dir, session_id)


def _opener(workspace: Path) -> Any:
    async def open_engine(**options: Any) -> Engine:
        return await Engine.open(
            workspace=WorkspacePaths(workspace),
            settings=Settings(model="offline/echo"),
            environ={},
            continue_latest=True,
            **options,
        )

    return open_engine


@pytest.mark.parametrize("answer", ["f", "n", "q", None])
async def test_a_busy_session_offers_fork_or_new(workspace: Path, answer: str | None) -> None:
    session_id, held = await _busy_session(workspace)
    asked: list[str] = []

    async def ask(message: str) -> str:
        asked.append(message)
        if answer is None:
            raise EOFError
        return answer

    err = io.StringIO()
    try:
        if answer in ("q", None):
            with pytest.raises(SessionLockedError):
                await open_offering_fork(_opener(workspace), ask, err)
            assert asked == ["[f]ork it, start a [n]ew session, or [q]uit? "]
            return
        engine = await open_offering_fork(_opener(workspace), ask, err)
        try:
            if answer == "f":
                assert engine.session is not None and engine.session.id != session_id
                history = await engine.history()
                assert history[0].message.content == "the first question"
            else:
                assert engine.session is None
        finally:
            await engine.close()
    finally:
        held.release()
    assert f"session {session_id[:8]} is in use by another tau process" in err.getvalue()
