"""A turn's tool calls, run through the pipeline and stored as each one ends.

Consecutive read-only calls run concurrently; everything else runs in order (the
``ToolPipeline`` decides). Each result is stored as soon as it is known, so a process
killed mid-turn keeps the results it had. A cancelled turn stores a result for every
call that had none (what it printed so far, marked interrupted), so the next request
answers every call the model made.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tau_engine.agent.loop_config import MessageSink
from tau_engine.agent.run_result import ToolCallRecord
from tau_engine.agent.tool_runner import ToolPipeline
from tau_engine.conversation import Message, ToolCall
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import EventBus, Notice


async def run_tool_calls(
    pipeline: ToolPipeline,
    sink: MessageSink,
    bus: EventBus,
    messages: list[Message],
    calls: list[ToolCall],
    turn_message_id: str,
    records: list[ToolCallRecord],
) -> list[Message] | None:
    """Run ``calls`` and store their results (appended to ``messages``, a record each in
    ``records``); a file's checkpoint before a change hangs from ``turn_message_id``.
    The results, or None when the turn was cancelled."""
    results: list[Message] = []
    storing: asyncio.Future[str] | None = None

    async def checkpoint(path: Path) -> None:
        await sink.checkpoint(turn_message_id, path)

    pipeline.ctx.before_change = checkpoint
    try:
        async for call, message in pipeline.run(calls):
            results.append(message)
            records.append(
                ToolCallRecord(
                    call.name,
                    call.arguments,
                    not message.is_error,
                    bool(message.meta.get("denied")),
                )
            )
            storing = asyncio.ensure_future(sink.append(message))
            await asyncio.shield(storing)
            messages.append(message)
    except asyncio.CancelledError:
        if storing is not None:
            await storing  # the interrupted results must come after it
            if not messages or messages[-1] is not results[-1]:
                messages.append(results[-1])
        done_ids = {m.tool_call_id for m in results}
        missing: list[Message] = []
        for call in calls:
            if call.id not in done_ids:
                # What the call printed before it was stopped stays in its result.
                printed = pipeline.interrupted_output(call.id).rstrip("\n")
                note = "interrupted by the user before it finished"
                missing.append(
                    Message(
                        role="tool",
                        tool_call_id=call.id,
                        name=call.name,
                        content=f"{printed}\n[{note}]" if printed else note,
                        is_error=True,
                        meta={"interrupted": True},
                    )
                )
        if missing:
            await asyncio.shield(sink.append_many(missing))
        results += missing
        messages.extend(missing)
        bus.emit(Notice(kind=NoticeKind.INTERRUPTED, message="tool calls interrupted"))
        return None
    return results
