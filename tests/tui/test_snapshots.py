"""SVG snapshots of the agent screen (stored in the top-level ``snapshots/`` folder).

Frames are deterministic: a fixed clock, the workspace shown as "demo", no
cursor blink, scripted answers, and synthetic events where the engine would
measure real durations. Update with ``pytest tests/tui --snapshot-update`` and
look at every changed SVG before committing it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tau_engine.events import ToolCallEvent, ToolResultEvent
from tau_engine.store import SessionInfo
from tau_tui.screens.pickers import SessionPicker
from tau_tui.widgets.tool_card import ToolCard
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import FIXED_WALL_CLOCK, SIZE, AppFactory, engine_ready, idle, wait_for
from tests.tui.test_agent_turns import edit_call, send
from tests.tui.test_approval import bash_call, long_edit

THEMES = ["tau-dark", "tau-light", "tau-high-contrast"]

MARKDOWN_ANSWER = """## Plan

I looked at **`notes.txt`** and found *two* lines:

1. `alpha` — the first
2. `beta` — the second

```python
def shout(line: str) -> str:
    # Upper-case one line.
    return line.upper()
```

> Nothing else needs to change.

| file | lines |
|------|-------|
| notes.txt | 2 |
"""

DIFF = """--- a/src/app.py
+++ b/src/app.py
@@ -1,4 +1,5 @@
 import sys
-print("hello")
+print("hello, world")
+print("bye")
 sys.exit(0)
"""


def _markdown_turn(server: ScriptedServer) -> Any:
    server.add(openai_answer(MARKDOWN_ANSWER, prompt_tokens=812, completion_tokens=95))

    async def run_before(pilot: Pilot[int]) -> None:
        await engine_ready(pilot.app)  # type: ignore[arg-type]
        await send(pilot, "explain notes.txt")
        await idle(pilot.app)  # type: ignore[arg-type]

    return run_before


def test_empty_session(snap_compare: Any, make_app: AppFactory) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        await engine_ready(pilot.app)  # type: ignore[arg-type]

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("theme", THEMES)
def test_finished_turn_with_markdown_and_code(
    snap_compare: Any, make_app: AppFactory, server: ScriptedServer, theme: str
) -> None:
    app = make_app(server, theme=theme)
    assert snap_compare(app, terminal_size=SIZE, run_before=_markdown_turn(server))


@pytest.mark.parametrize("theme", THEMES)
def test_tool_card_expanded_with_diff(snap_compare: Any, make_app: AppFactory, theme: str) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        sink = app.agent.bridge.sink  # type: ignore[attr-defined]
        arguments = {
            "path": "src/app.py",
            "old_string": 'print("hello")',
            "new_string": 'print("hello, world")\nprint("bye")',
        }
        sink(ToolCallEvent(call_id="c1", name="edit", arguments=arguments))
        sink(
            ToolResultEvent(
                call_id="c1",
                name="edit",
                ok=True,
                output="updated src/app.py",
                duration_ms=120,
                diff=DIFF,
                paths=["src/app.py"],
            )
        )
        sink(ToolCallEvent(call_id="c2", name="bash", arguments={"command": "pytest -q"}))
        sink(
            ToolResultEvent(
                call_id="c2", name="bash", ok=False, output="1 failed", duration_ms=2350
            )
        )
        await pilot.pause()
        await pilot.click(app.query(ToolCard).first())
        await pilot.pause()

    assert snap_compare(make_app(theme=theme), terminal_size=SIZE, run_before=run_before)


def test_approval_modal(snap_compare: Any, make_app: AppFactory, server: ScriptedServer) -> None:
    server.add(
        openai_answer("", [edit_call("e1", "notes.txt", "alpha", "ALPHA")]), openai_answer("Done.")
    )

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        await send(pilot, "shout alpha", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()

    assert snap_compare(make_app(server), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (60, 20)], ids=["80x24", "60x20"])
def test_approval_modal_with_a_long_diff(
    snap_compare: Any, make_app: AppFactory, server: ScriptedServer, ws: Path, size: tuple[int, int]
) -> None:
    """The choices (buttons, or one line of keys when small) stay under a scrolled diff."""
    server.add(openai_answer("", [long_edit(ws)]), openai_answer("Done."))

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        await send(pilot, "shout it", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()

    assert snap_compare(make_app(server), terminal_size=size, run_before=run_before)


def test_approval_modal_for_a_chained_command(
    snap_compare: Any, make_app: AppFactory, server: ScriptedServer
) -> None:
    """A command tau cannot read in full: allow for session is not offered, and it says why."""
    server.add(
        openai_answer("", [bash_call("b1", 'echo harmless; eval "$CLEANUP"')]),
        openai_answer("Done."),
    )

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        await send(pilot, "clean up", wait=False)
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.pause()

    assert snap_compare(make_app(server), terminal_size=(80, 24), run_before=run_before)


def test_status_bar_at_60_columns(
    snap_compare: Any, make_app: AppFactory, server: ScriptedServer
) -> None:
    """Model, approval mode and context stay; the long path is shortened first."""
    app = make_app(
        server,
        model="openai/gpt-5.2",
        approval="auto-edit",
        workspace_label="~/work/clients/acme-corp/platform-backend-service",
    )

    async def run_before(pilot: Pilot[int]) -> None:
        await engine_ready(pilot.app)  # type: ignore[arg-type]
        pilot.app.agent._set_branch("feature/login")  # type: ignore[attr-defined]
        await pilot.pause()

    assert snap_compare(app, terminal_size=(60, 12), run_before=run_before)


def test_session_picker(snap_compare: Any, make_app: AppFactory) -> None:
    day = 86400.0
    sessions = [
        SessionInfo(
            id="3f9a0c1e5b7d4a2c",
            title="Fix the flaky upload test",
            model="anthropic/claude-sonnet-4-5",
            created_at=FIXED_WALL_CLOCK - 600,
            updated_at=FIXED_WALL_CLOCK - 300,
            message_count=14,
        ),
        SessionInfo(
            id="8c2e4f6a1b3d5e7f",
            title="Add a --json flag to tau sessions",
            model="openai/gpt-5",
            created_at=FIXED_WALL_CLOCK - 2 * day,
            updated_at=FIXED_WALL_CLOCK - day - 3600,
            message_count=42,
        ),
        SessionInfo(
            id="01a2b3c4d5e6f708",
            title="",
            model="offline/echo",
            created_at=FIXED_WALL_CLOCK - 9 * day,
            updated_at=FIXED_WALL_CLOCK - 8 * day,
            message_count=2,
        ),
    ]

    async def run_before(pilot: Pilot[int]) -> None:
        await engine_ready(pilot.app)  # type: ignore[arg-type]
        await pilot.app.push_screen(
            SessionPicker(sessions, current_id="8c2e4f6a1b3d5e7f", now=FIXED_WALL_CLOCK)
        )
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


@pytest.mark.parametrize("command", ["/model", "/theme"], ids=["model", "theme"])
def test_choice_pickers(snap_compare: Any, make_app: AppFactory, command: str) -> None:
    """The model picker (the bundled catalog) and the theme picker."""

    async def run_before(pilot: Pilot[int]) -> None:
        app = pilot.app
        await engine_ready(app)  # type: ignore[arg-type]
        app.agent.run_command_line(command)  # type: ignore[attr-defined]
        await wait_for(lambda: type(app.screen).__name__ == "ChoicePicker")
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
