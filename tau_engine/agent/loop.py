"""The agent loop: one user prompt in, model turns and tool calls, one answer out.

A *turn* is exactly one provider request (plus retries of retryable
failures): stream the answer, store it, run the tool calls it asked for,
store their results, and go again until the model answers without calling a
tool, ``max_turns`` is reached, a budget is spent, or the run is cancelled.

Everything the loop does is announced on the ``EventBus``; nothing else
reaches a front end. Messages are appended to the store as each step
completes, so a crash loses at most the step in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from tau_engine.agent.loop_config import Compactor, CostFn, LoopConfig, MessageSink, StreamFactory
from tau_engine.agent.model_call import ModelCall
from tau_engine.agent.provenance import mark_untrusted
from tau_engine.agent.run_result import RunResult, ToolCallRecord, new_run_id
from tau_engine.agent.tool_runner import ToolPipeline
from tau_engine.agent.tool_turn import run_tool_calls
from tau_engine.agent.unanswered import answer_unanswered_calls
from tau_engine.conversation import Message, Usage
from tau_engine.errors import BudgetExceededError, ProviderError, TauError
from tau_engine.event_kinds import CompactionNote, NoticeKind
from tau_engine.events import (
    ErrorEvent,
    EventBus,
    Notice,
    RunFinished,
    RunStarted,
    TurnFinished,
    TurnStarted,
    UsageEvent,
    UserMessage,
)
from tau_engine.memory.retrieval import TurnRetriever, with_memory_context
from tau_engine.providers.base import (
    ProviderRequest,
)


class AgentLoop:
    """Runs prompts for one session. Create one per session; ``run`` once per prompt."""

    def __init__(
        self,
        *,
        bus: EventBus,
        stream: StreamFactory,
        pipeline: ToolPipeline,
        sink: MessageSink,
        system_prompt: str,
        config: LoopConfig,
        cost: CostFn,
        history: list[Message],
        usage_totals: Usage | None = None,
        cost_total: float | None = None,
        compactor: Compactor | None = None,
        session_id: str = "",
        memory: TurnRetriever | None = None,
    ) -> None:
        self.bus = bus
        self._call = ModelCall(stream, bus, sink, config.model_id, cost)
        self.pipeline = pipeline
        self.tools = pipeline.tools
        self.sink = sink
        self.ctx = pipeline.ctx
        self.system_prompt = system_prompt
        self.config = config
        self.messages = history
        self.usage_total = usage_totals or Usage()
        self.cost_total = cost_total
        self._cost_known = cost_total is not None or self.usage_total.input_tokens == 0
        self.compactor = compactor
        self.session_id = session_id
        self.memory = memory  # learned memory offered per prompt (issue 15); None: off
        self.context_tokens = 0
        self.run_usage = Usage()
        self.run_cost: float | None = 0.0
        self._run_started = time.monotonic()

    # -- the run -----------------------------------------------------------
    async def run(
        self, prompt: str, *, meta: dict[str, Any] | None = None, run_id: str | None = None
    ) -> RunResult:
        """Run one user prompt to completion, between ``run_started`` and ``run_finished``.
        Never raises for provider or tool failures: they end the run with
        ``stop_reason="error"`` and an ``error`` event."""
        started = time.monotonic()
        self._run_started = started
        self.run_usage = Usage()
        self.run_cost = 0.0
        run_id = run_id or new_run_id()
        self.bus.emit(RunStarted(run_id=run_id, model=self.config.model_id))
        try:
            turn_message_id = await self._send_prompt(run_id, prompt, meta)
        except BaseException as exc:
            # Nothing was asked of the model: still, the run ends where it began (and
            # a store failing again on this event does not hide the first failure).
            with contextlib.suppress(TauError):
                self.bus.emit(
                    RunFinished(
                        run_id=run_id,
                        duration_ms=(time.monotonic() - started) * 1000,
                        stop_reason="interrupted"
                        if isinstance(exc, asyncio.CancelledError)
                        else "error",
                        usage=self.run_usage,
                        cost_usd=self.run_cost,
                    )
                )
            raise
        records: list[ToolCallRecord] = []
        answer_parts: list[str] = []
        turn = 0
        stop = "end_turn"
        error: TauError | None = None

        try:
            while True:
                if turn >= self.config.max_turns:
                    stop = "max_turns"
                    self.bus.emit(
                        ErrorEvent(
                            message=f"stopped after {turn} model turns (--max-turns "
                            f"{self.config.max_turns}); the session can be continued",
                            kind="max_turns",
                            fatal=False,
                        )
                    )
                    break
                turn += 1
                self.bus.emit(TurnStarted(turn=turn))
                assistant, _usage, _cost, reason = await self._model_turn(turn)
                answer_parts = [assistant.content] if assistant.content else answer_parts
                if reason == "interrupted":
                    stop = "interrupted"
                    break
                calls = assistant.tool_calls
                self.bus.emit(TurnFinished(turn=turn, stop_reason=reason))
                self._check_budget()
                if not calls:
                    stop = "end_turn" if reason != "max_tokens" else "max_tokens"
                    break
                results = await run_tool_calls(
                    self.pipeline,
                    self.sink,
                    self.bus,
                    self.messages,
                    calls,
                    turn_message_id,
                    records,
                )
                if results is None:
                    stop = "interrupted"
                    break
        except BudgetExceededError as exc:
            stop = "budget"
            error = exc
            self.bus.emit(ErrorEvent(message=str(exc), kind="budget", fatal=True))
        except ProviderError as exc:
            stop = "error"
            error = exc
            last = self.messages[-1] if self.messages else None
            if exc.partial_output and last is not None and last.meta.get("incomplete"):
                # The partial answer kept in the session (a broken stream, the turn
                # deadline) is this run's result too.
                answer_parts = [last.content]
            self.bus.emit(ErrorEvent(message=str(exc), kind=exc.kind, fatal=True))
        except TauError as exc:
            stop = "error"
            error = exc
            self.bus.emit(ErrorEvent(message=str(exc), kind="error", fatal=True))

        result = RunResult(
            session_id=self.session_id,
            result="".join(answer_parts),
            stop_reason=stop,
            turns=turn,
            usage=self.run_usage,
            cost_usd=self.run_cost,
            tool_calls=records,
            duration_ms=(time.monotonic() - started) * 1000,
            error=str(error) if error else None,
            error_kind=getattr(error, "kind", None) if error else None,
            run_id=run_id,
        )
        self.bus.emit(
            RunFinished(
                run_id=run_id,
                stop_reason=stop,
                result=result.result,
                turns=turn,
                usage=self.run_usage,
                cost_usd=self.run_cost,
                duration_ms=result.duration_ms,
            )
        )
        return result

    async def _send_prompt(self, run_id: str, prompt: str, meta: dict[str, Any] | None) -> str:
        """Store the user's message and announce it; returns its id (the turn's
        checkpoints hang from it)."""
        # A previous run that failed while its tools ran left calls with no result.
        self.messages = answer_unanswered_calls(self.messages)
        if self.memory is not None:
            # Learned memory for this prompt, recorded in the message's meta (issue 15).
            meta = await self.memory.offer(prompt, meta, self.messages)
        user = Message(role="user", content=prompt, meta=meta or {})
        message_id = await self.sink.append(user)
        self.messages.append(user)
        meta = meta or {}
        typed = meta.get("typed")
        notes = [str(note) for note in meta.get("mention_notes", [])]
        self.bus.emit(
            UserMessage(
                run_id=run_id,
                message_id=message_id,
                text=prompt,
                typed=typed if isinstance(typed, str) else None,
                attachments=[str(path) for path in meta.get("attachments", [])],
                mention_notes=notes,
            )
        )
        for note in notes:
            self.bus.emit(Notice(kind=NoticeKind.MENTION, message=note))
        return message_id

    # -- one model turn ----------------------------------------------------
    async def _compact(self, force: bool) -> bool:
        if self.compactor is None:
            return False
        done = await self.compactor(self.messages, self.context_tokens, force)
        if done is None:
            return False
        self.messages = done.messages
        self._account(done.usage, done.cost_usd)
        self.context_tokens = done.after_tokens
        self.bus.emit(
            Notice(
                kind=NoticeKind.COMPACTION,
                message=f"compacted the conversation: "
                f"~{done.before_tokens:,} -> ~{done.after_tokens:,} tokens (earlier messages stay "
                "in the session)",
                data=CompactionNote(
                    before_tokens=done.before_tokens, after_tokens=done.after_tokens
                ),
            )
        )
        return True

    async def compact_now(self) -> bool:
        """Compact regardless of the threshold (``/compact``)."""
        return await self._compact(force=True)

    def _preflight(self) -> None:
        from tau_engine.agent.compaction import estimate_tokens

        window = self.config.context_window
        if window is None:
            return
        needed = estimate_tokens(self.system_prompt, self.messages)
        if needed > window:
            raise ProviderError(
                f"the conversation (~{needed:,} tokens) does not fit the model's "
                f"{window:,}-token context window even after compaction; start a new "
                "session (/new) or use a model with a larger window",
                kind="context_length",
            )

    async def _model_turn(self, turn: int) -> tuple[Message, Usage, float | None, str]:
        await self._compact(force=False)
        self._preflight()
        try:
            return await self._model_call()
        except ProviderError as exc:
            if exc.kind != "context_length" or exc.partial_output:
                raise
            # The provider counts differently from our estimate: compact once and retry.
            if not await self._compact(force=True):
                raise
            return await self._model_call()

    async def _model_call(self) -> tuple[Message, Usage, float | None, str]:
        request = ProviderRequest(
            model=self.config.model_id.split("/", 1)[1],
            system=self.system_prompt,
            # The memory offered with each prompt goes in front of it (issue 15); tool
            # results are marked as untrusted data.
            messages=mark_untrusted(with_memory_context(self.messages)),
            tools=[tool.spec() for tool in self.tools.values()],
            max_output_tokens=self.config.max_output_tokens,
            temperature=self.config.temperature,
            options=dict(self.config.request_options),
        )
        assistant, usage, cost, reason = await self._call.answer(request, self.messages)
        if reason == "interrupted":
            return assistant, usage, cost, reason
        self._account(usage, cost)
        if reason == "max_tokens" and not assistant.tool_calls:
            self.bus.emit(
                Notice(
                    kind=NoticeKind.MAX_TOKENS,
                    message="the answer hit the model's output limit and may be cut short",
                )
            )
        return assistant, usage, cost, reason

    def _account(self, usage: Usage, cost: float | None) -> None:
        self.usage_total = self.usage_total + usage
        self.run_usage = self.run_usage + usage
        if cost is None:
            self._cost_known = False
            self.cost_total = None
            self.run_cost = None
        else:
            if self._cost_known:
                self.cost_total = (self.cost_total or 0.0) + cost
            if self.run_cost is not None:
                self.run_cost += cost
        self.context_tokens = usage.input_tokens + usage.output_tokens
        minutes = (time.monotonic() - self._run_started) / 60
        burn = self.run_cost / minutes if self.run_cost is not None and minutes > 0 else None
        self.bus.emit(
            UsageEvent(
                usage=usage,
                cost_usd=cost,
                total_usage=self.usage_total,
                total_cost_usd=self.cost_total,
                context_tokens=self.context_tokens,
                context_window=self.config.context_window,
                run_cost_usd=self.run_cost,
                cost_per_minute=burn,
            )
        )

    def _check_budget(self) -> None:
        cfg = self.config
        if cfg.max_cost is not None and self.run_cost is not None and self.run_cost >= cfg.max_cost:
            counted = " (estimated)" if self.run_usage.estimated else ""
            raise BudgetExceededError(
                f"cost budget reached: ${self.run_cost:.4f}{counted} >= --max-cost "
                f"${cfg.max_cost:g}; the session can be continued"
            )
        spent = self.run_usage.input_tokens + self.run_usage.output_tokens
        if cfg.max_tokens is not None and spent >= cfg.max_tokens:
            counted = f"~{spent} (estimated)" if self.run_usage.estimated else str(spent)
            raise BudgetExceededError(
                f"token budget reached: {counted} >= --max-tokens {cfg.max_tokens}; "
                "the session can be continued"
            )
