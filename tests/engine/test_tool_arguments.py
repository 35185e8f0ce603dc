"""Bad tool arguments are tool errors the model sees, never an internal error: malformed
URLs and headers, NUL bytes, unpaired surrogates, deep nesting, oversized arguments."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tau_engine.conversation import ToolCall
from tau_engine.errors import ProviderError, ToolError
from tau_engine.providers.openai_chat import parse_tool_arguments
from tau_engine.providers.sse_client import decode_event
from tau_engine.safety.policy import ApprovalMode
from tau_engine.tools.args import MAX_ARGUMENT_BYTES, vet_tool_call
from tau_engine.tools.base import ToolContext, ToolOutcome
from tau_engine.tools.bash import BashTool
from tau_engine.tools.http import HttpTool
from tau_engine.tools.read import ReadTool
from tau_engine.tools.write import WriteTool
from tests.cli.tau_process import run_tau
from tests.engine.test_loop import ScriptedStream, answer, call, make_loop


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    "arguments,needle",
    [
        ({"url": "http://[::1"}, "malformed URL"),
        ({"url": "http://127.0.0.1:99999/"}, "Port out of range"),
        ({"url": "http://127.0.0.1:-1/"}, "malformed URL"),
        ({"url": "http://127.0.0.1:0/"}, "port 0"),
        ({"url": "http://exa mple.com/"}, "space or control character"),
        ({"url": "http://127.0.0.1/\x00"}, "NUL character"),
        ({"url": "http://\ud800.example/"}, "unpaired surrogate"),
        ({"url": "http:///no-host"}, "with a host"),
        ({"url": "http://127.0.0.1/", "headers": {"X-Name": "héllo"}}, "non-ASCII"),
        ({"url": "http://127.0.0.1/", "headers": {"X-Name": "a\r\nInjected: 1"}}, "line break"),
        ({"url": "http://127.0.0.1/", "headers": {"bad name": "x"}}, "invalid header name"),
        ({"url": "http://127.0.0.1/", "body": "\ud800"}, "unpaired surrogate"),
    ],
)
def test_bad_http_arguments_are_tool_errors(arguments: dict[str, Any], needle: str) -> None:
    with pytest.raises(ToolError) as info:
        HttpTool().parse_args(arguments)
    assert needle in str(info.value)


def test_good_http_arguments_pass() -> None:
    tool = HttpTool()
    for url in ("https://例え.jp/パス?q=ü", "http://[::1]:8080/x", "http://127.0.0.1:1/"):
        assert tool.parse_args({"url": url, "headers": {"X-Ok": "a b\tc"}}).url == url


@pytest.mark.parametrize(
    "tool,arguments,where",
    [
        (BashTool(), {"command": "echo a\x00b"}, "'command' contains a NUL"),
        (ReadTool(), {"path": "a\x00.txt"}, "'path' contains a NUL"),
        (WriteTool(), {"path": "a.txt", "content": "x\ud83dy"}, "'content' contains an unpaired"),
    ],
)
def test_nul_and_surrogates_are_refused_by_every_tool(
    tool: Any, arguments: dict[str, Any], where: str
) -> None:
    with pytest.raises(ToolError) as info:
        tool.parse_args(arguments)
    assert where in str(info.value)


def test_deep_or_huge_raw_arguments_do_not_crash_the_parsers() -> None:
    deep = '{"a":' * 5000 + "1" + "}" * 5000
    assert parse_tool_arguments(deep) == ({}, "the tool arguments are nested too deeply to parse")
    with pytest.raises(ProviderError) as info:
        decode_event('{"args":' * 5000 + "1" + "}" * 5000, "gemini", partial=False)
    assert info.value.kind == "stream"


@pytest.mark.parametrize(
    "arguments,needle",
    [
        (nested(200), "nested more than 64 levels"),
        ({"path": "a.txt", "content": "x" * (MAX_ARGUMENT_BYTES + 1)}, "over the 1 MB limit"),
        ({"path": "a.txt", "content": "\udc80"}, "unpaired surrogate"),
    ],
)
def test_arguments_that_cannot_be_kept_are_replaced_by_an_error(
    arguments: Any, needle: str
) -> None:
    vetted = vet_tool_call(ToolCall(id="c1", name="write", arguments=arguments))
    assert vetted.arguments == {} and vetted.arguments_error is not None
    assert needle in vetted.arguments_error
    fine = ToolCall(id="c2", name="write", arguments={"path": "a", "content": "ok"})
    assert vet_tool_call(fine) is fine


@pytest.mark.parametrize(
    "arguments",
    [
        nested(900),  # parses, but would break serialization
        {"path": "big.txt", "content": "y" * (2 * MAX_ARGUMENT_BYTES)},
        {"path": "a.txt", "content": "\ud800"},  # cannot be stored as UTF-8
    ],
)
async def test_the_loop_answers_bad_arguments_and_stores_none_of_them(
    tmp_path: Path, arguments: Any
) -> None:
    stream = ScriptedStream(
        [answer("", [ToolCall(id="c1", name="write", arguments=arguments)]), answer("ok")]
    )
    loop, events, sink = make_loop(tmp_path, stream, mode=ApprovalMode.FULL_AUTO)
    result = await loop.run("write it")
    assert result.stop_reason == "end_turn"
    assistant, tool = sink.messages[1], sink.messages[2]
    assert assistant.tool_calls[0].arguments == {}
    assert tool.is_error and tool.content.startswith("error: invalid arguments for write: ")
    # Nothing stored or announced holds the arguments.
    for message in sink.messages:
        assert len(message.model_dump_json()) < 10_000
    for event in events:
        assert len(event.model_dump_json()) < 10_000
    assert not (tmp_path / "big.txt").exists()


async def test_a_tools_own_bug_is_the_calls_error_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(self: Any, args: Any, ctx: ToolContext) -> ToolOutcome:
        raise KeyError("oops")

    monkeypatch.setattr(ReadTool, "run", broken)
    (tmp_path / "a.txt").write_text("a\n")
    stream = ScriptedStream([answer("", [call("c1", "read", path="a.txt")]), answer("ok")])
    loop, _, sink = make_loop(tmp_path, stream)
    result = await loop.run("read")
    assert result.stop_reason == "end_turn"
    assert sink.messages[2].content == "error: read failed unexpectedly: KeyError: 'oops'"


def test_an_oversized_call_is_stored_once_as_an_error_end_to_end(workspace: Path) -> None:
    script = workspace / "script.json"
    script.write_text(
        json.dumps(
            {
                "version": 1,
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "write",
                                "arguments": {
                                    "path": "big.txt",
                                    "content": "z" * (3 * MAX_ARGUMENT_BYTES),
                                },
                            }
                        ]
                    },
                    {"text": "I will write it in parts."},
                ],
            }
        )
    )
    proc = run_tau(
        [
            "-p",
            "write a big file",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["tool_calls"] == [{"name": "write", "arguments": {}, "ok": False, "denied": False}]
    shown = run_tau(["sessions", "show", out["session_id"], "--json"], workspace)
    assert "over the 1 MB limit" in shown.stdout and len(shown.stdout) < 20_000
    database = workspace / ".tau" / "tau.db"
    stored = sum(p.stat().st_size for p in database.parent.glob("tau.db*"))
    assert stored < 2 * MAX_ARGUMENT_BYTES  # not the 3 MB argument, let alone four times
