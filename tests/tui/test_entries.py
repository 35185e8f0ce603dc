"""Transcript entries rebuilt from stored messages (resume, undo, session switch)."""

from __future__ import annotations

import io

from tau_engine.conversation import Message, StoredMessage, ToolCall
from tau_engine.events import ToolCallEvent, ToolResultEvent
from tau_engine.tools.label import tool_label
from tau_tui.headless.text import TextRenderer
from tau_tui.widgets.entries import (
    AssistantEntry,
    NoticeEntry,
    ToolEntry,
    UserEntry,
    entries_from_history,
)


def stored(message: Message, n: int) -> StoredMessage:
    return StoredMessage(
        id=f"m{n}", session_id="s", parent_id=None, created_at=0.0, message=message
    )


def test_history_becomes_prompts_answers_tool_cards_and_notices() -> None:
    messages = [
        Message(role="user", content="[Summary ...]", meta={"compaction": True}),
        Message(
            role="user",
            content="look @a.py\n\n<attached_file ...>",
            meta={"typed": "look @a.py", "attachments": ["a.py"]},
        ),
        Message(
            role="assistant",
            content="Reading.",
            tool_calls=[
                ToolCall(id="c1", name="read", arguments={"path": "a.py"}),
                ToolCall(id="c2", name="bash", arguments={"command": "rm -rf /"}),
            ],
        ),
        Message(role="tool", tool_call_id="c1", name="read", content="x = 1"),
        Message(
            role="tool",
            tool_call_id="c2",
            name="bash",
            content="denied: ...",
            is_error=True,
            meta={"denied": True},
        ),
        Message(role="assistant", content="Half an ans", meta={"interrupted": True}),
    ]
    entries = entries_from_history(stored(m, i) for i, m in enumerate(messages))
    kinds = [type(e).__name__ for e in entries]
    assert kinds == [
        "NoticeEntry",
        "UserEntry",
        "AssistantEntry",
        "ToolEntry",
        "ToolEntry",
        "AssistantEntry",
    ]
    assert isinstance(entries[0], NoticeEntry) and entries[0].kind == "compaction"
    user = entries[1]
    assert isinstance(user, UserEntry)
    assert user.text == "look @a.py" and user.attachments == ["a.py"]
    read, bash = entries[3], entries[4]
    assert isinstance(read, ToolEntry) and read.status == "ok" and read.output == "x = 1"
    assert read.target == "a.py"
    assert isinstance(bash, ToolEntry) and bash.status == "denied"
    last = entries[5]
    assert isinstance(last, AssistantEntry) and last.interrupted and not last.streaming


def test_the_headless_line_and_the_tool_card_show_the_same_label() -> None:
    arguments = {"command": "pytest -q\n--maxfail=1"}
    err = io.StringIO()
    printer = TextRenderer(io.StringIO(), err, color=False)
    # The engine stamps each tool_call with its label; the headless line prints it.
    printer(
        ToolCallEvent(
            call_id="c1", name="bash", arguments=arguments, label=str(tool_label("bash", arguments))
        )
    )
    printer(ToolResultEvent(call_id="c1", name="bash", ok=True, output=""))
    assert err.getvalue() == "tool=bash command=pytest -q --maxfail=1 ok\n"
    entry = ToolEntry(call_id="c1", name="bash", arguments=arguments)
    assert entry.target == "pytest -q --maxfail=1"
