"""The app marks token figures tau estimated because the server reported no usage
(llama-cpp-python never does when streaming): ``~`` in the status bar and in ``/cost``."""

from __future__ import annotations

from tau_tui.widgets.entries import NoticeEntry
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, screen_text, wait_for
from tests.tui.test_agent_turns import send


def notices(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [e.message for e in app.agent.transcript.entries if isinstance(e, NoticeEntry)]


async def test_estimated_usage_is_marked_in_the_status_bar_and_cost(
    make_app: AppFactory, server: ScriptedServer
) -> None:
    server.add(openai_answer("A local model answers without usage. " * 40, usage=False))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "hello")
        await idle(app)
        status = app.agent.status
        assert status.estimated and status.input_tokens > 0 and status.output_tokens > 300
        # Before: ↑0 ↓0, as if nothing had been spent.
        await wait_for(lambda: "↓~" in screen_text(app))
        assert "↑~" in screen_text(app)
        await send(pilot, "/cost")
        await wait_for(lambda: any(m.startswith("tokens:") for m in notices(app)))
        cost = next(m for m in notices(app) if m.startswith("tokens:"))
        assert cost.startswith(f"tokens: ~{status.input_tokens:,} in")
        assert "(estimated: the server reported no usage)" in cost


async def test_reported_usage_is_not_marked(make_app: AppFactory, server: ScriptedServer) -> None:
    server.add(openai_answer("hi", prompt_tokens=1234, completion_tokens=56))
    app = make_app(server)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "hello")
        await idle(app)
        await wait_for(lambda: "↑1.2k ↓56" in screen_text(app))
        [bar] = [line for line in screen_text(app).splitlines() if "↑1.2k ↓56" in line]
        assert "~" not in bar
