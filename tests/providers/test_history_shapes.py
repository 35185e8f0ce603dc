"""Every history shape a session can hold, replayed through each wire format's mapper to a
loopback server that refuses what the strictest real servers refuse
(``tests/support/strict_wire.py``).

Before, a tool call with no text went out as ``"content": null`` on the chat format, which
llama-cpp-python answers with a 500: no session with such a turn could be continued there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tau_engine.conversation import Message, ToolCall
from tau_engine.providers.anthropic import THINKING_EXTRA_KEY, AnthropicProvider
from tau_engine.providers.base import Provider
from tau_engine.providers.gemini import THOUGHT_SIGNATURE_KEY, GeminiProvider
from tau_engine.providers.openai_chat import OpenAIChatProvider
from tau_engine.providers.openai_responses import OpenAIResponsesProvider
from tests.support.anthropic_script import anthropic_answer
from tests.support.gemini_script import gemini_answer
from tests.support.openai_script import openai_answer
from tests.support.provider_run import READ, request_maker, stream_outcome
from tests.support.responses_script import responses_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.support.strict_wire import (
    Check,
    anthropic_problems,
    gemini_problems,
    openai_chat_problems,
    responses_problems,
    strict_responder,
)

build = request_maker("m", system="You are tau.")


def call(call_id: str, path: str = "a.txt", **extra: Any) -> ToolCall:
    return ToolCall(id=call_id, name="read", arguments={"path": path}, extra=extra)


def user(text: str, **meta: Any) -> Message:
    return Message(role="user", content=text, meta=meta)


def said(text: str = "", *calls: ToolCall, **fields: Any) -> Message:
    return Message(role="assistant", content=text, tool_calls=list(calls), **fields)


def result(call_id: str, output: str = "alpha", **fields: Any) -> Message:
    return Message(role="tool", tool_call_id=call_id, name="read", content=output, **fields)


THINKING = {
    "thinking": "The user wants a.txt.",
    THINKING_EXTRA_KEY: [
        {"type": "thinking", "thinking": "The user wants a.txt.", "signature": "EqQBCgIYAh"}
    ],
}

SHAPES: dict[str, list[Message]] = {
    "text only": [user("hi"), said("hello"), user("and then?")],
    "tool call without text": [
        user("read a"),
        said("", call("c1")),
        result("c1"),
        said("It says alpha."),
        user("thanks"),
    ],
    "tool call with text, ending on its result": [
        user("read a"),
        said("Reading.", call("c1")),
        result("c1"),
    ],
    "whitespace before a tool call": [user("read a"), said("\n\n", call("c1")), result("c1")],
    "parallel tool calls": [
        user("read a and b"),
        said("", call("c1"), call("c2", "b.txt")),
        result("c1"),
        result("c2", "beta"),
    ],
    "a failed and an empty tool result": [
        user("read a and b"),
        said("", call("c1"), call("c2", "b.txt")),
        result("c1", "no such file", is_error=True),
        result("c2", ""),
    ],
    "a tool call never answered (crash)": [
        user("read a"),
        said("", call("c1")),
        user("are you there?"),
    ],
    "one of two parallel calls answered": [
        user("read a and b"),
        said("", call("c1"), call("c2", "b.txt")),
        result("c1"),
        user("go on"),
    ],
    "a result with no call": [
        user("hi"),
        said("hello"),
        result("ghost", "orphan output"),
        user("next"),
    ],
    "an interrupted empty answer": [
        user("hi"),
        said("", meta={"interrupted": True}),
        user("go on"),
    ],
    "a partial answer, then a tool call": [
        user("hi"),
        said("Half an ans", meta={"incomplete": True}),
        said("", call("c1")),
        result("c1"),
    ],
    "thinking before a tool call": [
        user("read a"),
        said("", call("c1", **{THOUGHT_SIGNATURE_KEY: "CiQB0e2Kb"}), extra=THINKING),
        result("c1"),
        said("alpha", extra=THINKING),
        user("ok"),
    ],
    "system messages in the history": [
        Message(role="system", content="Mission: fix it."),
        user("start"),
        said("ok"),
        Message(role="system", content="Budget: 5 turns."),
        user("go"),
    ],
    "tool calls made by another provider": [
        user("read a"),
        said("", call("functions.read:0"), call("call 1", "b.txt")),
        result("functions.read:0"),
        result("call 1", "beta"),
    ],
    "a compaction summary first": [
        user(
            "[Summary of the earlier conversation]\n\n- read a.txt\n\n---\n\ncontinue",
            compaction=True,
        ),
        said("", call("c9")),
        result("c9"),
    ],
}


def chat(server: ScriptedServer) -> Provider:
    return OpenAIChatProvider(
        name="openai", base_url=server.url + "/v1", api_key="k", timeout_s=5.0
    )


def anthropic(server: ScriptedServer) -> Provider:
    return AnthropicProvider(base_url=server.url, api_key="k", timeout_s=5.0)


def gemini(server: ScriptedServer) -> Provider:
    return GeminiProvider(base_url=server.url, api_key="k", timeout_s=5.0)


def responses(server: ScriptedServer) -> Provider:
    return OpenAIResponsesProvider(base_url=server.url + "/v1", api_key="k", timeout_s=5.0)


FORMATS: dict[
    str, tuple[Callable[[ScriptedServer], Provider], Check, Callable[[], ScriptedResponse]]
] = {
    "chat": (chat, openai_chat_problems, lambda: openai_answer("ok")),
    "anthropic": (anthropic, anthropic_problems, lambda: anthropic_answer("ok")),
    "gemini": (gemini, gemini_problems, lambda: gemini_answer("ok")),
    "responses": (responses, responses_problems, lambda: responses_answer("ok")),
}


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("wire", list(FORMATS))
async def test_every_history_shape_is_accepted_by_the_strictest_server(
    server: ScriptedServer, wire: str, shape: str
) -> None:
    factory, check, answer = FORMATS[wire]
    server.responder = strict_responder(check)
    server.add(answer())
    out = await stream_outcome(
        factory(server), build(messages=SHAPES[shape], tools=[READ]), keep_error=True
    )
    if out.error is not None:
        server.reset()  # the module's server: leave nothing queued for the next test
    assert out.error is None, f"{wire} refused '{shape}': {out.error}"
    assert "".join(out.text) == "ok"


@pytest.mark.parametrize("wire", list(FORMATS))
async def test_the_strict_server_does_refuse_a_bad_history(
    server: ScriptedServer, wire: str
) -> None:
    # The checks can fail: a request that drops a tool result is refused by each of them.
    factory, check, _ = FORMATS[wire]
    server.responder = strict_responder(check)
    provider = factory(server)
    raw_body: dict[str, Any] = {}

    def keep(body: dict[str, Any]) -> list[str]:
        raw_body.update(body)
        return check(body)

    server.responder = strict_responder(keep)
    server.add(FORMATS[wire][2]())
    await stream_outcome(provider, build(messages=SHAPES["parallel tool calls"], tools=[READ]))
    assert check(raw_body) == []
    broken = _drop_last_result(wire, raw_body)
    assert check(broken), f"{wire}: the check let a missing tool result through"


def _drop_last_result(wire: str, body: dict[str, Any]) -> dict[str, Any]:
    if wire == "chat":
        return {**body, "messages": body["messages"][:-1]}
    if wire == "responses":
        return {**body, "input": body["input"][:-1]}
    key = "messages" if wire == "anthropic" else "contents"
    last = dict(body[key][-1])
    parts_key = "content" if wire == "anthropic" else "parts"
    last[parts_key] = last[parts_key][:-1]
    return {**body, key: [*body[key][:-1], last]}


def test_content_null_beside_tool_calls_is_what_llama_cpp_python_refuses() -> None:
    body = {
        "messages": [
            {"role": "user", "content": "read a"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "read", "arguments": '{"path": "a"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "alpha"},
        ]
    }
    problems = openai_chat_problems(body)
    assert problems and problems[0].startswith("500:")
    response = strict_responder(openai_chat_problems)(_recorded(body))
    assert response is not None and response.status == 500


def _recorded(body: dict[str, Any]) -> Any:
    import json

    from tests.support.scripted_server import RecordedRequest

    return RecordedRequest("POST", "/v1/chat/completions", {}, json.dumps(body).encode())
