"""Tool output as it runs: coalesced ``tool_output_delta`` events, and an interrupted
call's result keeping what it printed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tau_engine.events import ToolOutputDelta, parse_event
from tau_engine.safety.policy import ApprovalMode
from tau_engine.store.sqlite.event_writer import DELTA_TYPES
from tau_engine.tools.live_output import LiveOutput
from tests.engine.test_loop import ScriptedStream, answer, call, make_loop


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def collector() -> tuple[list[tuple[str, int]], LiveOutput, FakeClock]:
    got: list[tuple[str, int]] = []
    clock = FakeClock()
    live = LiveOutput(
        lambda text, skipped: got.append((text, skipped)),
        max_chars=1000,
        interval_s=0.1,
        max_chunk=10,
        fast_budget=30,
        slow_interval_s=1.0,
        slow_max_chunk=4,
        clock=clock,
    )
    return got, live, clock


def test_the_first_line_goes_out_at_once_and_later_ones_are_coalesced() -> None:
    got, live, clock = collector()
    live.write("a\n")
    live.write("b\n")
    live.write("c\n")
    assert got == [("a\n", 0)]
    clock.now += 0.15
    live.write("d\n")
    assert got == [("a\n", 0), ("b\nc\nd\n", 0)]
    live.write("e")
    live.close()
    assert got == [("a\n", 0), ("b\nc\nd\n", 0), ("e", 0)]
    assert live.text == "a\nb\nc\nd\ne"


def test_a_flood_keeps_the_newest_text_and_counts_what_it_skipped() -> None:
    got, live, clock = collector()
    live.write("x\n")
    for _ in range(1000):
        live.write("0123456789")
    clock.now += 0.15
    live.write("END")
    assert got[-1] == ("3456789END", 10_003 - 10)
    # Memory stays bounded while the flood is held back.
    assert live._pending_len <= 20
    # The capture, unlike the live view, has the head and tail of everything.
    assert live.text.startswith("x\n0123") and live.text.endswith("6789END")


def test_after_the_fast_budget_deltas_slow_down_and_shrink() -> None:
    got, live, clock = collector()
    for _ in range(3):
        clock.now += 0.15
        live.write("012345678\n")  # 30 characters: the fast budget is spent
    clock.now += 0.15
    live.write("abcdefg\n")
    assert len(got) == 3  # within the slow interval: held
    clock.now += 1.5
    live.write("ij\n")
    assert got[-1] == ("\nij\n", 7)


async def test_a_quiet_command_output_goes_out_after_the_interval() -> None:
    got: list[tuple[str, int]] = []
    live = LiveOutput(
        lambda text, skipped: got.append((text, skipped)), max_chars=100, interval_s=0.05
    )
    live.write("one\n")
    live.write("two")
    assert got == [("one\n", 0)]
    for _ in range(200):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert got == [("one\n", 0), ("two", 0)]  # its line never ended: out after hold_s


def test_the_delta_event_round_trips_and_is_batched_by_the_event_log() -> None:
    event = ToolOutputDelta(call_id="c1", text="building…\n", skipped=3)
    again = parse_event(event.model_dump_json())
    assert isinstance(again, ToolOutputDelta)
    assert (again.call_id, again.text, again.skipped) == ("c1", "building…\n", 3)
    assert "tool_output_delta" in DELTA_TYPES


async def test_bash_output_streams_and_an_interrupted_call_keeps_what_it_printed(
    tmp_path: Path,
) -> None:
    command = "echo compiling; echo step 1 of 3; sleep 30"
    stream = ScriptedStream([answer("", [call("c1", "bash", command=command)])])
    loop, events, sink = make_loop(tmp_path, stream, mode=ApprovalMode.FULL_AUTO)
    task = asyncio.create_task(loop.run("build it"))
    for _ in range(3000):
        printed = "".join(e.text for e in events if isinstance(e, ToolOutputDelta))
        if "step 1 of 3" in printed:
            break
        await asyncio.sleep(0.01)
    else:
        pytest.fail("no tool output was announced while the command ran")
    assert all(e.call_id == "c1" for e in events if isinstance(e, ToolOutputDelta))
    task.cancel()
    result = await task
    assert result.stop_reason == "interrupted"
    tool = next(m for m in sink.messages if m.role == "tool")
    assert tool.content == ("compiling\nstep 1 of 3\n[interrupted by the user before it finished]")
    assert tool.is_error and tool.meta == {"interrupted": True}


async def test_a_tool_that_prints_nothing_keeps_the_plain_interrupted_result(
    tmp_path: Path,
) -> None:
    stream = ScriptedStream([answer("", [call("c1", "bash", command="sleep 30")])])
    loop, events, sink = make_loop(tmp_path, stream, mode=ApprovalMode.FULL_AUTO)
    task = asyncio.create_task(loop.run("wait"))
    for _ in range(3000):
        if any(e.type == "tool_call" for e in events):
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    task.cancel()
    await task
    tool = next(m for m in sink.messages if m.role == "tool")
    assert tool.content == "interrupted by the user before it finished"


def test_a_partial_last_line_waits_for_its_end_or_the_hold_time() -> None:
    got, live, clock = collector()
    live.write("one\ntw")
    assert got == [("one\n", 0)]  # "tw" is held: the rest of its line may follow
    clock.now += 0.15
    live.write("o\nthr")
    assert got[-1] == ("two\n", 0)
    clock.now += 0.15
    live.flush()
    assert got[-1] == ("two\n", 0)  # "thr" has waited 0.15 s of its 1 s
    clock.now += 1.0
    live.flush()  # its line never ended: it goes out on its own
    assert got[-1] == ("thr", 0)
    clock.now += 0.15
    live.write("ee\rload 5%")  # a carriage return ends a line too
    assert got[-1] == ("ee\r", 0)
    live.close()
    assert got[-1] == ("load 5%", 0)
    assert "".join(text for text, _ in got) == "one\ntwo\nthree\rload 5%"


async def test_live_output_and_the_interrupted_result_are_redacted(tmp_path: Path) -> None:
    from tau_engine.safety.redact import SecretRedactor

    secret = "sk-live-0123456789abcdefghijklmnop"
    # The key arrives in two writes, in the middle of a line.
    command = (
        f"printf 'key=%s' {secret[:10]}; sleep 0.3; printf '%s done\\n' {secret[10:]}; "
        "echo still running; sleep 30"
    )
    stream = ScriptedStream([answer("", [call("c1", "bash", command=command)])])
    loop, events, sink = make_loop(
        tmp_path,
        stream,
        mode=ApprovalMode.FULL_AUTO,
        redactor=SecretRedactor({"OPENAI_API_KEY": secret}),
    )
    task = asyncio.create_task(loop.run("show it"))
    for _ in range(3000):
        if "still running" in "".join(e.text for e in events if isinstance(e, ToolOutputDelta)):
            break
        await asyncio.sleep(0.01)
    task.cancel()
    await task
    streamed = "".join(e.text for e in events if isinstance(e, ToolOutputDelta))
    assert "key=[REDACTED:OPENAI_API_KEY] done" in streamed
    assert secret[:10] not in streamed and secret[10:] not in streamed
    tool = next(m for m in sink.messages if m.role == "tool")
    assert tool.content.startswith("key=[REDACTED:OPENAI_API_KEY] done\nstill running\n")
    assert secret[:10] not in tool.content
