"""Pilot tests: real turns through the engine against the loopback scripted provider."""

from __future__ import annotations

from pathlib import Path

from textual.pilot import Pilot

from tau_tui.widgets.entries import AssistantEntry, NoticeEntry, ToolEntry, UserEntry
from tau_tui.widgets.prompt import PromptInput
from tau_tui.widgets.tool_card import ToolCard
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for


async def send(pilot: Pilot[int], text: str, *, wait: bool = True) -> None:
    """Type ``text`` into the prompt and press Enter.

    ``pilot.press`` returns only once the app is idle, i.e. after a whole
    streamed answer; with ``wait=False`` the prompt is submitted as Enter does
    but without waiting, to watch the stream as it arrives.
    """
    await pilot.press(*text)
    if wait:
        await pilot.press("enter")
    else:
        pilot.app.query_one(PromptInput).submit()


def edit_call(call_id: str, path: str, old: str, new: str) -> dict[str, object]:
    return {
        "id": call_id,
        "name": "edit",
        "arguments": {"path": path, "old_string": old, "new_string": new},
    }


async def test_prompt_streams_the_answer_and_shows_usage(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    answer = "Streaming **works**: " + " ".join(f"word{i}" for i in range(60))
    server.add(
        openai_answer(answer, chunk_size=6, delay_s=0.01, prompt_tokens=1234, completion_tokens=56)
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "hello there", wait=False)
        # Part of the answer is on screen while the stream is still running.
        await wait_for(lambda: "Streaming works" in screen_text(app))
        assert app.agent.running
        await idle(app)
        entries = app.agent.transcript.entries
        user = next(e for e in entries if isinstance(e, UserEntry))
        assert user.text == "hello there"
        answer_entry = next(e for e in entries if isinstance(e, AssistantEntry))
        assert answer_entry.text == answer and not answer_entry.streaming
        text = screen_text(app)
        assert "› hello there" in text
        assert "word59" in text
        assert "↑1.2k ↓56" in text
        assert server.requests[0].json["messages"][-1]["content"] == "hello there"


async def test_tool_card_expands_and_collapses(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(
        openai_answer("", [{"id": "r1", "name": "read", "arguments": {"path": "notes.txt"}}]),
        openai_answer("The file has two lines."),
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "read notes")
        await idle(app)
        card = app.agent.transcript.query_one(ToolCard)
        assert card.entry.status == "ok"
        assert "✓ read  notes.txt" in screen_text(app)
        assert "beta" not in screen_text(app)
        await pilot.press("ctrl+o")
        await pilot.pause()
        assert card.entry.expanded
        assert "beta" in screen_text(app)
        await pilot.click(ToolCard)
        await pilot.pause()
        assert not card.entry.expanded
        assert "beta" not in screen_text(app)


async def test_approve_once_runs_the_edit(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    server.add(
        openai_answer("", [edit_call("e1", "notes.txt", "alpha", "ALPHA")]),
        openai_answer("Edited."),
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "shout alpha")
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        modal_text = screen_text(app)
        assert "edit wants to change files" in modal_text
        assert "-alpha" in modal_text and "+ALPHA" in modal_text
        await pilot.press("y")
        await idle(app)
        assert (ws / "notes.txt").read_text() == "ALPHA\nbeta\n"
        card = app.agent.transcript.query_one(ToolCard)
        assert card.entry.status == "ok" and card.entry.diff
        assert "+1 −1" in screen_text(app)


async def test_deny_keeps_the_file_and_tells_the_model(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    server.add(
        openai_answer("", [edit_call("e1", "notes.txt", "alpha", "ALPHA")]),
        openai_answer("Understood, leaving it."),
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "shout alpha")
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.press("escape")  # Esc belongs to the modal: it denies
        await idle(app)
        assert (ws / "notes.txt").read_text() == "alpha\nbeta\n"
        assert app.agent.transcript.query_one(ToolCard).entry.status == "denied"
        tool_result = server.requests[1].json["messages"][-1]
        assert tool_result["role"] == "tool" and "denied" in tool_result["content"]
        assert "Understood" in screen_text(app)


async def test_allow_for_session_stops_asking(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    server.add(
        openai_answer("", [edit_call("e1", "notes.txt", "alpha", "one")]),
        openai_answer("", [edit_call("e2", "notes.txt", "beta", "two")]),
        openai_answer("Both done."),
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "edit twice")
        await wait_for(lambda: type(app.screen).__name__ == "ApprovalModal")
        await pilot.press("a")
        await idle(app)
        assert (ws / "notes.txt").read_text() == "one\ntwo\n"
        assert type(app.screen).__name__ == "AgentScreen"
        statuses = [e.status for e in app.agent.transcript.entries if isinstance(e, ToolEntry)]
        assert statuses == ["ok", "ok"]


async def test_escape_interrupts_and_keeps_the_partial_answer(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("first part of a slow answer " * 40, chunk_size=10, delay_s=0.05))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "go slowly", wait=False)
        await wait_for(lambda: "first part" in screen_text(app))
        await pilot.press("escape")
        await idle(app)
        answer = next(e for e in app.agent.transcript.entries if isinstance(e, AssistantEntry))
        assert answer.interrupted and answer.text.startswith("first part")
        assert len(answer.text) < len("first part of a slow answer " * 40)
        assert "■ interrupted" in screen_text(app)
        stored = await app.agent.engine.history()  # type: ignore[union-attr]
        assert stored[-1].message.meta.get("interrupted") is True


async def test_undo_restores_files_and_redraws_from_the_store(
    make_app: AppFactory, server: ScriptedServer, ws: Path
) -> None:
    server.add(
        openai_answer("", [edit_call("e1", "notes.txt", "alpha", "gamma")]),
        openai_answer("Changed it."),
    )
    app = make_app(server, approval="auto-edit")
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "change alpha")
        await idle(app)
        assert (ws / "notes.txt").read_text() == "gamma\nbeta\n"
        await send(pilot, "/undo")
        await wait_for(
            lambda: any(
                isinstance(e, NoticeEntry) and "undid" in e.message
                for e in app.agent.transcript.entries
            )
        )
        assert (ws / "notes.txt").read_text() == "alpha\nbeta\n"
        notice = next(
            e
            for e in app.agent.transcript.entries
            if isinstance(e, NoticeEntry) and "undid" in e.message
        )
        assert "restored notes.txt" in notice.message
        assert not any(isinstance(e, UserEntry) for e in app.agent.transcript.entries)
        await send(pilot, "/redo")
        await wait_for(lambda: any(isinstance(e, UserEntry) for e in app.agent.transcript.entries))
        assert (ws / "notes.txt").read_text() == "gamma\nbeta\n"


async def test_provider_error_becomes_a_notice(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(
        ScriptedResponse.json(
            401,
            {
                "error": {
                    "message": "bad key",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        )
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "hi")
        await idle(app)
        errors = [
            e
            for e in app.agent.transcript.entries
            if isinstance(e, NoticeEntry) and e.level == "error"
        ]
        assert errors and "auth" in errors[0].message


async def test_prompts_sent_while_running_are_queued(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(
        openai_answer("slow " * 30, chunk_size=5, delay_s=0.02), openai_answer("second answer")
    )
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "one", wait=False)
        await wait_for(lambda: app.agent.running)
        await send(pilot, "two", wait=False)
        await idle(app)
        users = [e.text for e in app.agent.transcript.entries if isinstance(e, UserEntry)]
        assert users == ["one", "two"]
        await wait_for(lambda: "second answer" in screen_text(app))
