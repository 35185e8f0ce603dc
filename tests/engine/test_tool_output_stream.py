"""Tool output as it runs: coalesced ``tool_output_delta`` events, and an interrupted
call's result keeping what it printed."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tau_engine.events import ToolOutputDelta, parse_event
from tau_engine.safety.policy import ApprovalMode
from tau_engine.store.event_writer import DELTA_TYPES
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
    live = LiveOutput(lambda text, skipped: got.append((text, skipped)), max_chars=1000,
                      interval_s=0.1, max_chunk=10, fast_budget=30, slow_interval_s=1.0,
                      slow_max_chunk=4, clock=clock)
    return got, live, clock


def test_the_first_write_goes_out_at_once_and_later_ones_are_coalesced() -> None:
    got, live, clock = collector()
    live.write("a")
    live.write("b")
    live.write("c")
    assert got == [("a", 0)]
    clock.now += 0.15
    live.write("d")
    assert got == [("a", 0), ("bcd", 0)]
    live.write("e")
    live.close()
    assert got == [("a", 0), ("bcd", 0), ("e", 0)]
    assert live.text == "abcde"


def test_a_flood_keeps_the_newest_text_and_counts_what_it_skipped() -> None:
    got, live, clock = collector()
    live.write("x")
    for _ in range(1000):
        live.write("0123456789")
    clock.now += 0.15
    live.write("END")
    assert got[-1] == ("3456789END", 10_003 - 10)
    # Memory stays bounded while the flood is held back.
    assert live._pending_len <= 20
    # The capture, unlike the live view, has the head and tail of everything.
    assert live.text.startswith("x0123") and live.text.endswith("6789END")


def test_after_the_fast_budget_deltas_slow_down_and_shrink() -> None:
    got, live, clock = collector()
    for _ in range(3):
        clock.now += 0.15
        live.write("0123456789")  # 30 characters: the fast budget is spent
    clock.now += 0.15
    live.write("abcdefgh")
    assert len(got) == 3  # within the slow interval: held
    clock.now += 1.5
    live.write("ij")
    assert got[-1] == ("ghij", 6)


async def test_a_quiet_command_output_goes_out_after_the_interval() -> None:
    got: list[tuple[str, int]] = []
    live = LiveOutput(lambda text, skipped: got.append((text, skipped)), max_chars=100,
                      interval_s=0.05)
    live.write("one")
    live.write("two")
    assert got == [("one", 0)]
    for _ in range(200):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert got == [("one", 0), ("two", 0)]


def test_the_delta_event_round_trips_and_is_batched_by_the_event_log() -> None:
    event = ToolOutputDelta(call_id="c1", text="building…\n", skipped=3)
    again = parse_event(event.model_dump_json())
    assert isinstance(again, ToolOutputDelta)
    assert (again.call_id, again.text, again.skipped) == ("c1", "building…\n", 3)
    assert "tool_output_delta" in DELTA_TYPES


async def test_bash_output_streams_and_an_interrupted_call_keeps_what_it_printed(
        tmp_path: Path) -> None:
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
    assert tool.content == ("compiling\nstep 1 of 3\n"
                            "[interrupted by the user before it finished]")
    assert tool.is_error and tool.meta == {"interrupted": True}


async def test_a_tool_that_prints_nothing_keeps_the_plain_interrupted_result(
        tmp_path: Path) -> None:
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
