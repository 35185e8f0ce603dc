"""A server that reports no usage (llama-cpp-python never does when streaming): the loop
estimates the call, marks it, and enforces budgets on the estimate. And a partial answer
kept after a failure is the run's result."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from tau_engine.agent.compaction import estimate_tokens
from tau_engine.config import Settings
from tau_engine.conversation import Message, Usage
from tau_engine.engine import Engine
from tau_engine.errors import ProviderError
from tau_engine.events import ErrorEvent, UsageEvent
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.base import (
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ToolCallReady,
)
from tests.engine.test_loop import ScriptedStream, answer, call, make_loop
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer


def unreported(text: str, *calls: object) -> list[ProviderEvent]:
    """An answer with no usage at all, as llama-cpp-python streams one."""
    events: list[ProviderEvent] = [TextChunk(text)] if text else []
    events += [ToolCallReady(c) for c in calls]  # type: ignore[arg-type]
    events.append(StreamEnd("tool_use" if calls else "end_turn"))
    return events


async def test_a_call_with_no_usage_is_estimated_and_marked(tmp_path: Path) -> None:
    stream = ScriptedStream([unreported("x" * 400)])
    loop, events, _ = make_loop(tmp_path, stream)
    result = await loop.run("say something long")
    [usage_event] = [e for e in events if isinstance(e, UsageEvent)]
    request = stream.requests[0]
    assert usage_event.usage == Usage(
        input_tokens=estimate_tokens(request.system, request.messages, request.tools),
        output_tokens=estimate_tokens("", [Message(role="assistant", content="x" * 400)]),
        estimated=True,
    )
    assert usage_event.usage.output_tokens == 105  # 400 characters, ~4 per token
    assert usage_event.total_usage.estimated and result.usage.estimated
    # The tool schemas are part of every prompt, so they count.
    assert usage_event.usage.input_tokens > estimate_tokens(request.system, request.messages)
    assert result.cost_usd is not None and result.cost_usd > 0  # priced on the estimate


async def test_reported_usage_is_used_as_it_is(tmp_path: Path) -> None:
    loop, _, _ = make_loop(tmp_path, ScriptedStream([answer("hi", tokens=7)]))
    result = await loop.run("hi")
    assert result.usage == Usage(input_tokens=7, output_tokens=7)
    assert not result.usage.estimated


async def test_max_tokens_is_enforced_on_the_estimate(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    stream = ScriptedStream(
        [unreported("", call("c1", "read", path="a.txt")), unreported("never reached")]
    )
    loop, events, _ = make_loop(tmp_path, stream, max_tokens=100)
    result = await loop.run("read a.txt")
    # Before: 0/0 tokens, the budget never tripped and the second call went out.
    assert result.stop_reason == "budget" and len(stream.requests) == 1
    error = next(e for e in events if isinstance(e, ErrorEvent))
    assert "(estimated) >= --max-tokens 100" in error.message


async def test_max_cost_is_enforced_on_the_priced_estimate(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    stream = ScriptedStream(
        [unreported("", call("c1", "read", path="a.txt")), unreported("never reached")]
    )
    # make_loop prices input tokens at $0.001 each: the estimated prompt costs over $0.10.
    loop, events, _ = make_loop(tmp_path, stream, max_cost=0.1)
    result = await loop.run("read a.txt")
    assert result.stop_reason == "budget" and len(stream.requests) == 1
    error = next(e for e in events if isinstance(e, ErrorEvent))
    assert "(estimated) >= --max-cost $0.1" in error.message


async def test_a_sum_with_an_estimated_part_is_estimated() -> None:
    total = Usage(input_tokens=5) + Usage(input_tokens=3, estimated=True)
    assert total == Usage(input_tokens=8, estimated=True)
    assert not (Usage(input_tokens=1) + Usage(output_tokens=1)).estimated


async def test_the_partial_answer_of_a_broken_stream_is_the_result(tmp_path: Path) -> None:
    async def stream(request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        yield TextChunk("Half of the ans")
        raise ProviderError("the stream broke before the answer finished", kind="stream")

    loop, _, sink = make_loop(tmp_path, stream)
    result = await loop.run("go")
    assert result.stop_reason == "error"
    assert sink.messages[-1].meta["incomplete"] is True
    assert result.result == "Half of the ans"  # before: "" although the session kept it


async def test_a_failure_before_any_text_leaves_the_earlier_answer(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    stream = ScriptedStream(
        [
            answer("Reading.", [call("c1", "read", path="a.txt")]),
            ProviderError("refused", kind="server"),
        ]
    )
    loop, _, _ = make_loop(tmp_path, stream)
    result = await loop.run("go")
    assert result.stop_reason == "error" and result.result == "Reading."


async def test_a_resumed_session_remembers_its_totals_were_estimated(
    workspace: Path, scripted_server: ScriptedServer
) -> None:
    settings = Settings(model="openai/qwen2.5", base_url=scripted_server.url + "/v1")
    scripted_server.add(openai_answer("no usage from me", usage=False))
    engine = await Engine.open(workspace=WorkspacePaths(workspace), settings=settings, environ={})
    try:
        first = await engine.run("hi")
        assert first.usage.estimated
    finally:
        await engine.close()
    scripted_server.add(openai_answer("this one reports", prompt_tokens=50, completion_tokens=5))
    again = await Engine.open(
        workspace=WorkspacePaths(workspace), settings=settings, environ={}, continue_latest=True
    )
    totals: list[Usage] = []
    again.bus.subscribe(
        lambda e: totals.append(e.total_usage) if isinstance(e, UsageEvent) else None
    )
    try:
        second = await again.run("and you?")
    finally:
        await again.close()
    assert not second.usage.estimated  # this call's figures are the server's
    # The session's totals still hold the first, estimated call.
    assert totals[-1].estimated
    assert totals[-1].input_tokens == first.usage.input_tokens + 50
