"""OfflineProvider: the echo model and script replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall, ToolSpec
from tau_engine.errors import ProviderError, UsageError
from tau_engine.providers.base import (
    Provider,
    ProviderEvent,
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.providers.offline import OfflineProvider, describe_request
from tau_engine.providers.retry import RetryPolicy, stream_with_retries

TOOLS = [
    ToolSpec(name=n, description=f"{n} tool", parameters={"type": "object"})
    for n in ("read", "write", "bash")
]


def request(*messages: Message, tools: list[ToolSpec] | None = None) -> ProviderRequest:
    return ProviderRequest(
        model="echo",
        system="You are tau.",
        messages=list(messages) or [Message(role="user", content="hi")],
        tools=TOOLS if tools is None else tools,
    )


async def collect(
    provider: OfflineProvider, req: ProviderRequest | None = None
) -> list[ProviderEvent]:
    return [e async for e in provider.stream(req or request())]


def write_script(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "script.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


# --- echo ---------------------------------------------------------------------------


async def test_echo_describes_the_request_in_small_chunks() -> None:
    provider = OfflineProvider()
    assert isinstance(provider, Provider)
    events = await collect(
        provider,
        request(
            Message(role="user", content="first"),
            Message(role="assistant", content="ok"),
            Message(role="user", content="list   the\nfiles"),
        ),
    )
    chunks = [e.text for e in events if isinstance(e, TextChunk)]
    text = "".join(chunks)
    assert text == (
        "offline/echo received 3 message(s); last user message: 'list the files'; "
        "tools available: read, write, bash."
    )
    assert len(chunks) > 3 and all(len(c) <= 12 for c in chunks)
    assert not any(isinstance(e, ToolCallReady) for e in events)
    [usage] = [e.usage for e in events if isinstance(e, UsageReport)]
    assert usage.output_tokens == -(-len(text) // 4)
    assert usage.input_tokens > 0
    end = events[-1]
    assert isinstance(end, StreamEnd) and end.stop_reason == "end_turn"


async def test_echo_is_deterministic() -> None:
    req = request(Message(role="user", content="same"))
    assert await collect(OfflineProvider(), req) == await collect(OfflineProvider(), req)


async def test_echo_input_usage_grows_with_the_request() -> None:
    small = await collect(OfflineProvider(), request(Message(role="user", content="a")))
    big = await collect(OfflineProvider(), request(Message(role="user", content="a" * 400)))

    def tokens(events: list[ProviderEvent]) -> int:
        return next(e.usage.input_tokens for e in events if isinstance(e, UsageReport))

    assert tokens(big) - tokens(small) == 100


def test_describe_request_edge_cases() -> None:
    no_user = describe_request(request(Message(role="assistant", content="x"), tools=[]))
    assert no_user == (
        "offline/echo received 1 message(s); no user message; tools available: none."
    )
    with_results = describe_request(
        request(
            Message(role="user", content="go"),
            Message(role="assistant", tool_calls=[ToolCall(id="1", name="read")]),
            Message(role="tool", tool_call_id="1", content="data"),
        )
    )
    assert "last user message: 'go'" in with_results
    assert with_results.endswith("tool results: 1.")
    long = describe_request(request(Message(role="user", content="y" * 500)))
    assert "y" * 199 + "…'" in long and "y" * 200 not in long


# --- replay -------------------------------------------------------------------------

SCRIPT = {
    "version": 1,
    "turns": [
        {
            "text": "I'll read both files.",
            "thinking": "Two files.",
            "tool_calls": [
                {"name": "read", "arguments": {"path": "a.py"}},
                {"name": "read", "arguments": {"path": "b.py"}, "id": "mine"},
            ],
            "usage": {"input_tokens": 120, "output_tokens": 14},
            "request": {"messages": 1, "anything": ["kept", "for", "humans"]},
        },
        {"text": "Both files are fine."},
    ],
}


async def test_replay_plays_turns_in_order(tmp_path: Path) -> None:
    provider = OfflineProvider("replay", script_path=write_script(tmp_path, SCRIPT))
    assert provider.turns_left == 2
    first = await collect(provider)
    assert [e.text for e in first if isinstance(e, ThinkingChunk)] == ["Two files."]
    assert "".join(e.text for e in first if isinstance(e, TextChunk)) == "I'll read both files."
    calls = [e.call for e in first if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments) for c in calls] == [
        ("call_1_1", "read", {"path": "a.py"}),
        ("mine", "read", {"path": "b.py"}),
    ]
    [usage] = [e.usage for e in first if isinstance(e, UsageReport)]
    assert (usage.input_tokens, usage.output_tokens) == (120, 14)
    assert isinstance(first[-1], StreamEnd) and first[-1].stop_reason == "tool_use"

    second = await collect(provider)
    assert "".join(e.text for e in second if isinstance(e, TextChunk)) == "Both files are fine."
    assert isinstance(second[-1], StreamEnd) and second[-1].stop_reason == "end_turn"
    assert provider.turns_left == 0

    with pytest.raises(ProviderError) as caught:
        await collect(provider)
    assert caught.value.kind == "script_exhausted"
    assert str(tmp_path / "script.json") in caught.value.message
    assert "all 2 used" in caught.value.message


async def test_replay_accepts_a_bare_list_and_explicit_stop_reason(tmp_path: Path) -> None:
    path = write_script(tmp_path, [{"text": "cut", "stop_reason": "max_tokens"}])
    events = await collect(OfflineProvider("replay", script_path=path))
    assert isinstance(events[-1], StreamEnd) and events[-1].stop_reason == "max_tokens"


async def test_scripted_error_turn_is_retried_by_the_retry_layer(tmp_path: Path) -> None:
    path = write_script(
        tmp_path,
        [
            {
                "error": {
                    "kind": "rate_limit",
                    "message": "slow down",
                    "status": 429,
                    "retryable": True,
                    "retry_after": 1.5,
                }
            },
            {"text": "after the wait"},
        ],
    )
    provider = OfflineProvider("replay", script_path=path)
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    events = [e async for e in stream_with_retries(provider, request(), RetryPolicy(), sleep=sleep)]
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == "after the wait"
    assert waited == [1.5]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not valid JSON"),
        ({"version": 2, "turns": []}, "version"),
        ({"turns": [{"text": 3}]}, "turns.0.text"),
        ({"turns": [{"tool_calls": [{"arguments": {}}]}]}, "turns.0.tool_calls.0.name"),
        ({"turns": [{"txt": "typo"}]}, "turns.0.txt"),
        ({"version": 1}, "turns"),
        ("7", "top level"),
    ],
)
def test_malformed_script_is_a_usage_error_naming_file_and_problem(
    tmp_path: Path, content: Any, problem: str
) -> None:
    path = write_script(tmp_path, content)
    with pytest.raises(UsageError) as caught:
        OfflineProvider("replay", script_path=path)
    assert str(path) in caught.value.message
    assert problem in caught.value.message


def test_missing_script_file_and_bad_model(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read replay script"):
        OfflineProvider("replay", script_path=tmp_path / "absent.json")
    with pytest.raises(UsageError, match="needs a script file"):
        OfflineProvider("replay")
    with pytest.raises(UsageError, match="unknown offline model 'gpt'"):
        OfflineProvider("gpt")
