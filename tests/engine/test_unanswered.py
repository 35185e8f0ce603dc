"""Tool calls left without a result (a process killed while its tools ran) are answered
with an interrupted result when a history is loaded, for every wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tau_engine.agent.compaction import compaction_message, request_view
from tau_engine.agent.unanswered import INTERRUPTED_RESULT, answer_unanswered_calls
from tau_engine.conversation import Message, StoredMessage, ToolCall
from tau_engine.providers.anthropic import build_messages_body
from tau_engine.providers.base import ProviderRequest
from tau_engine.providers.gemini import build_gemini_body
from tau_engine.providers.openai_chat import chat_body
from tau_engine.providers.openai_responses import build_responses_body
from tests.engine.test_loop import ScriptedStream, answer, make_loop
from tests.support.strict_history import history_problem


def stored(messages: list[Message]) -> list[StoredMessage]:
    out, parent = [], None
    for i, m in enumerate(messages):
        out.append(
            StoredMessage(
                id=f"m{i}", session_id="s", parent_id=parent, created_at=time.time(), message=m
            )
        )
        parent = f"m{i}"
    return out


def calling(*ids: str, text: str = "") -> Message:
    return Message(
        role="assistant",
        content=text,
        tool_calls=[ToolCall(id=i, name="bash", arguments={"command": "make"}) for i in ids],
    )


def result(call_id: str, text: str = "ok") -> Message:
    return Message(role="tool", tool_call_id=call_id, name="bash", content=text)


# A killed run mid-history (c2 never answered, then the user went on) and a killed run
# at the head (c3 and c4 never answered).
BROKEN = [
    Message(role="user", content="build it"),
    calling("c1", "c2", text="Building."),
    result("c1"),
    Message(role="user", content="what happened?"),
    calling("c3", "c4"),
]


def test_request_view_answers_every_unanswered_call_in_place() -> None:
    view = request_view(stored(BROKEN))
    shape = [(m.role, m.tool_call_id) for m in view]
    assert shape == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("tool", "c2"),
        ("user", None),
        ("assistant", None),
        ("tool", "c3"),
        ("tool", "c4"),
    ]
    for synthesized in (view[3], view[6], view[7]):
        assert synthesized.is_error and synthesized.content == INTERRUPTED_RESULT
        assert synthesized.name == "bash" and synthesized.meta["interrupted"] is True
    assert view[2].content == "ok"  # a real result stays as it was


def test_a_well_formed_history_is_not_copied() -> None:
    messages = [
        Message(role="user", content="q"),
        calling("c1"),
        result("c1"),
        Message(role="assistant", content="done"),
    ]
    assert answer_unanswered_calls(messages) is messages


def test_calls_after_a_compaction_are_answered_too() -> None:
    history = stored(
        [
            Message(role="user", content="old"),
            Message(role="assistant", content="old answer"),
            Message(role="user", content="kept"),
        ]
    )
    history += stored(
        [compaction_message("summary", keep_from="m2", before_tokens=10), calling("c9")]
    )
    history[-2] = history[-2].model_copy(update={"id": "x1"})
    history[-1] = history[-1].model_copy(update={"id": "x2"})
    view = request_view(history)
    assert [(m.role, m.tool_call_id) for m in view][-2:] == [("assistant", None), ("tool", "c9")]


def _request(messages: list[Message]) -> ProviderRequest:
    return ProviderRequest(model="m", system="sys", messages=messages, tools=[])


def _openai_chat(request: ProviderRequest) -> list[str]:
    messages = chat_body(request, "openai")["messages"]
    assert history_problem(messages) is None
    return [m["content"] for m in messages if m["role"] == "tool"]


def _anthropic(request: ProviderRequest) -> list[str]:
    return [
        block.get("content", "")
        for m in build_messages_body(request)["messages"]
        if isinstance(m["content"], list)
        for block in m["content"]
        if block.get("type") == "tool_result"
    ]


def _gemini(request: ProviderRequest) -> list[str]:
    return [
        json.dumps(part["functionResponse"]["response"])
        for content in build_gemini_body(request)["contents"]
        for part in content["parts"]
        if "functionResponse" in part
    ]


def _responses(request: ProviderRequest) -> list[str]:
    return [
        item["output"]
        for item in build_responses_body(request)["input"]
        if item.get("type") == "function_call_output"
    ]


@pytest.mark.parametrize(
    "wire",
    [_openai_chat, _anthropic, _gemini, _responses],
    ids=["openai-chat", "anthropic", "gemini", "openai-responses"],
)
def test_every_wire_format_sends_the_interrupted_results(
    wire: Callable[[ProviderRequest], list[str]],
) -> None:
    outputs = wire(_request(request_view(stored(BROKEN))))
    assert len(outputs) == 4  # c1 answered for real, c2, c3, c4 interrupted
    assert outputs[0] == "ok" or "ok" in outputs[0]
    assert sum("interrupted: tau stopped" in text for text in outputs) == 3


async def test_the_loop_answers_calls_a_failed_run_left_in_memory(tmp_path: Path) -> None:
    stream = ScriptedStream([answer("fine")])
    loop, _events, _sink = make_loop(tmp_path, stream)
    loop.messages = [Message(role="user", content="build"), calling("c1")]
    await loop.run("and now?")
    sent: Any = stream.requests[0].messages
    assert [(m.role, m.tool_call_id) for m in sent] == [
        ("user", None),
        ("assistant", None),
        ("tool", "c1"),
        ("user", None),
    ]
