"""Each headless output format renders one fixed run to its golden output
(``tests/fixtures/headless/``): the answer split across deltas and turns, a tool call
that succeeds, one that fails and one that is denied, a notice, thinking, live tool
output and an error. ``TAU_UPDATE_GOLDEN=1`` rewrites the files after a deliberate change.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from tau_engine.agent.run_result import RunResult, ToolCallRecord
from tau_engine.conversation import Usage
from tau_engine.event_kinds import NoticeKind, RetryNote
from tau_engine.events import (
    SCHEMA_VERSION,
    ErrorEvent,
    Event,
    Notice,
    RunFinished,
    RunStarted,
    SessionFinished,
    SessionStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    ToolOutputDelta,
    ToolResultEvent,
    TurnFinished,
    TurnStarted,
    UsageEvent,
    UserMessage,
    parse_event,
)
from tau_tui.headless.run import renderer_for

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "headless"
SESSION = "5e55" * 8
RUN = "a11" * 10 + "ab"


def _run_events() -> list[Event]:
    events: list[Event] = [
        SessionStarted(model="offline/replay", workspace="/w", title="fix add"),
        RunStarted(run_id=RUN, model="offline/replay"),
        UserMessage(
            run_id=RUN,
            message_id="m1",
            text="fix add in calc.py",
            typed="fix add in @calc.py",
            attachments=["calc.py"],
        ),
        TurnStarted(turn=1),
        Notice(
            kind=NoticeKind.RETRY,
            message="overloaded — retrying in 0.5s (attempt 1 of 2)",
            data=RetryNote(route="offline/replay", attempt=1, delay_s=0.5, error_kind="overloaded"),
        ),
        ThinkingDelta(text="look first"),
        TextDelta(text="Let me "),
        TextDelta(text="look."),
        UsageEvent(usage=Usage(input_tokens=100, output_tokens=5), cost_usd=0.001),
        TurnFinished(turn=1, stop_reason="tool_use"),
        ToolCallEvent(
            call_id="c1", name="read", arguments={"path": "calc.py"}, label="path=calc.py"
        ),
        ToolResultEvent(
            call_id="c1", name="read", ok=True, output="def add(a, b): ...", paths=["calc.py"]
        ),
        ToolCallEvent(
            call_id="c2", name="bash", arguments={"command": "make test"}, label="command=make test"
        ),
        ToolOutputDelta(call_id="c2", text="running 3 tests\n"),
        ToolResultEvent(
            call_id="c2",
            name="bash",
            ok=False,
            output="\x1b[31mFAILED\x1b[0m test_add\n[exit code 1]",
        ),
        ToolCallEvent(call_id="c3", name="write", arguments={"path": "../x"}, label="path=../x"),
        ToolResultEvent(
            call_id="c3", name="write", ok=False, denied=True, output="denied by the approval mode"
        ),
        TurnStarted(turn=2),
        TextDelta(text="Fixed: `add`\nnow adds."),
        TurnFinished(turn=2, stop_reason="end_turn"),
        ErrorEvent(message="budget of $0.01 reached", kind="budget", fatal=False),
        RunFinished(
            run_id=RUN,
            stop_reason="end_turn",
            result="Let me look.Fixed: `add`\nnow adds.",
            turns=2,
            usage=Usage(input_tokens=100, output_tokens=12),
            cost_usd=0.002,
            duration_ms=1234.5,
        ),
        SessionFinished(reason="closed", runs=1, usage=Usage(input_tokens=100, output_tokens=12)),
    ]
    for seq, event in enumerate(events, 1):
        event.__dict__.update(seq=seq, ts=1_700_000_000.0 + seq, session_id=SESSION)
    return events


def _result() -> RunResult:
    return RunResult(
        session_id=SESSION,
        result="Let me look.Fixed: `add`\nnow adds.",
        stop_reason="end_turn",
        turns=2,
        usage=Usage(input_tokens=100, output_tokens=12),
        cost_usd=0.002,
        tool_calls=[
            ToolCallRecord("read", {"path": "calc.py"}, ok=True),
            ToolCallRecord("bash", {"command": "make test"}, ok=False),
            ToolCallRecord("write", {"path": "../x"}, ok=False, denied=True),
        ],
        duration_ms=1234.5,
        run_id=RUN,
    )


def _render(fmt: str, *, color: bool = False) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    renderer = renderer_for(fmt, out, err, color=color)
    for event in _run_events():
        renderer(event)
    renderer.finish(_result(), exit_code=0)
    return out.getvalue(), err.getvalue()


def _check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("TAU_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), name


@pytest.mark.parametrize("fmt", ["text", "json", "stream-json"])
def test_each_format_renders_the_golden_output(fmt: str) -> None:
    out, err = _render(fmt)
    _check(f"{fmt}.stdout", out)
    _check(f"{fmt}.stderr", err)


def test_text_paints_its_stderr_lines_only_when_asked() -> None:
    plain_out, plain_err = _render("text")
    out, err = _render("text", color=True)
    assert out == plain_out and "\x1b[" not in plain_err
    assert "tool=read path=calc.py \x1b[32mok\x1b[0m" in err.splitlines()


def test_stream_json_carries_schema_version_2_and_reads_back() -> None:
    out, _ = _render("stream-json")
    lines = out.splitlines()
    assert len(lines) == len(_run_events())
    assert {json.loads(line)["v"] for line in lines} == {SCHEMA_VERSION} == {2}
    assert [parse_event(line) for line in lines] == _run_events()


def test_json_is_one_object_on_the_last_line() -> None:
    out, _ = _render("json")
    assert out.count("\n") == 1
    result = json.loads(out)
    assert result["session_id"] == SESSION and result["permission_denials"] == 1
