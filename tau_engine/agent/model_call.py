"""One model call: stream the provider's answer, announce it, store it.

Text and thinking are announced as deltas while they stream; tool calls are vetted
(arguments too large, too deep or not encodable become an error result before they are
stored anywhere). The answer is stored when the stream ends: an interrupted stream
keeps its partial answer (marked ``interrupted``), a broken one keeps it too (marked
``incomplete``, and the error says so with ``partial_output``). A server that reports
no usage gets the call counted by estimate, so the figures and budgets still mean
something.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from tau_engine.agent.compaction import estimate_call_usage
from tau_engine.agent.loop_config import CostFn, MessageSink, StreamFactory
from tau_engine.conversation import Message, ToolCall, Usage
from tau_engine.errors import ProviderError
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import EventBus, Notice, TextDelta, ThinkingDelta
from tau_engine.providers.base import (
    ProviderRequest,
    StreamEnd,
    TextChunk,
    ThinkingChunk,
    ToolCallReady,
    UsageReport,
)
from tau_engine.tools.args import vet_tool_call


@dataclass
class ModelCall:
    """The streaming side of one call: where its events go and its answer is stored."""

    stream: StreamFactory
    bus: EventBus
    sink: MessageSink
    model_id: str
    cost: CostFn

    async def answer(
        self, request: ProviderRequest, messages: list[Message]
    ) -> tuple[Message, Usage, float | None, str]:
        """Stream ``request``'s answer and store it (appended to ``messages`` too): the
        answer, its usage, its cost and the stop reason (``"interrupted"`` when the call
        was cancelled; nothing was counted then)."""
        text: list[str] = []
        thinking: list[str] = []
        calls: list[ToolCall] = []
        usage = Usage()
        provider_cost: float | None = None
        end: StreamEnd | None = None
        emit = self.bus.emit
        try:
            async for event in self.stream(request):
                if isinstance(event, TextChunk):
                    if event.text:
                        text.append(event.text)
                        emit(TextDelta(text=event.text))
                elif isinstance(event, ThinkingChunk):
                    if event.text:
                        thinking.append(event.text)
                        emit(ThinkingDelta(text=event.text))
                elif isinstance(event, ToolCallReady):
                    # Arguments too large, too deep or not encodable become an error
                    # result before they are stored anywhere.
                    calls.append(vet_tool_call(event.call))
                elif isinstance(event, UsageReport):
                    usage = event.usage  # the last report of a call wins
                    provider_cost = event.cost_usd
                elif isinstance(event, StreamEnd):
                    end = event
        except asyncio.CancelledError:
            partial = Message(role="assistant", content="".join(text), meta={"interrupted": True})
            await asyncio.shield(self.sink.append(partial, model=self.model_id))
            messages.append(partial)
            self.bus.emit(
                Notice(
                    kind=NoticeKind.INTERRUPTED,
                    message="turn interrupted; the partial answer is kept",
                )
            )
            return partial, usage, 0.0, "interrupted"
        except ProviderError as exc:
            if text:
                partial = Message(
                    role="assistant",
                    content="".join(text),
                    meta={"incomplete": True, "error": str(exc)},
                )
                await self.sink.append(partial, model=self.model_id)
                messages.append(partial)
                exc.partial_output = True
            raise
        if end is None:
            raise ProviderError(
                "the stream ended without a stop reason", kind="stream", partial_output=bool(text)
            )
        extra = dict(end.extra)
        content = "".join(text)
        if end.refusal and not content:
            content = end.refusal
        meta: dict[str, Any] = {}
        if end.stop_reason in ("refusal", "content_filter"):
            meta["stop_reason"] = end.stop_reason
        if thinking:
            extra.setdefault("thinking", "".join(thinking))
        assistant = Message(
            role="assistant", content=content, tool_calls=calls, extra=extra, meta=meta
        )
        if not usage.reported:
            # The server said nothing (llama-cpp-python never does when streaming): count
            # the call ourselves, so the figures and --max-tokens still mean something.
            usage = estimate_call_usage(
                request,
                Message(role="assistant", content="".join(thinking) + content, tool_calls=calls),
            )
        cost = provider_cost if provider_cost is not None else self.cost(usage)
        await self.sink.append(assistant, usage=usage, cost_usd=cost, model=self.model_id)
        messages.append(assistant)
        return assistant, usage, cost, end.stop_reason
