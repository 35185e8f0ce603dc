"""Builds a long stored session (used by the windowing tests and the TUI benchmark)."""

from __future__ import annotations

import asyncio
from pathlib import Path

PARAGRAPH = (
    "This is message {i}. It has **bold** text, `inline code` and a list:\n\n"
    "- the first point, which is long enough to wrap at the width of a terminal\n"
    "- the second point\n\n"
    "```python\ndef f(x):\n    return x * {i}\n```\n\n"
    "And a closing sentence that pads the message to about five hundred characters, "
    "as a typical answer of a coding agent would be, give or take."
)


def message_text(i: int) -> str:
    """About 500 characters of Markdown, numbered."""
    return PARAGRAPH.format(i=i)


async def create_long_session(root: Path, messages: int = 1000) -> str:
    """A session of ``messages`` alternating user/assistant messages; returns its id."""
    from tau_engine.conversation import Message
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store

    paths = WorkspacePaths(root)
    paths.ensure()
    store = await asyncio.to_thread(open_store(paths).open_sessions)
    try:
        session = await store.create_session(model="offline/echo", title="long session")
        batch = [
            Message(role="user", content=f"question {i}")
            if i % 2 == 0
            else Message(role="assistant", content=message_text(i))
            for i in range(messages)
        ]
        await store.append_many(session.id, batch)
        return session.id
    finally:
        store.close()
