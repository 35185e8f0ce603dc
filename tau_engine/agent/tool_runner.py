"""The tool pipeline: the one path every tool call takes.

For each call the model makes: **validation** (the tool exists, the arguments parse), the
ordered **pre-call checks** (``tool_checks.py``: rate limit, workspace guard, sandbox,
permission policy, approval), **execution**, then the ordered **post-call filters**
(``tool_filters.py``: output cap, secret redaction, injection flags), and the result is
announced (``tool_result``), returned for the store and, marked as untrusted, for the model.

Consecutive read-only calls that the policy allows run concurrently; every other call runs
alone, in the order the model asked. Whatever goes wrong (an unknown tool, bad arguments, a
refusal, a failure) becomes the call's error result for the model, never an exception out of
the loop. A running tool's live output (``tool_output_delta``) and the output an interrupted
call keeps pass through the same redaction funnel as results.

Checks and filters are small named objects in two lists (``checks``, ``filters``); hooks and
other layers add theirs with :meth:`ToolPipeline.add_check` and :meth:`add_filter`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any

from tau_engine.agent.tool_calls import (
    CallResult,
    PendingCall,
    PostCallFilter,
    PreCallCheck,
    Refusal,
)
from tau_engine.agent.tool_checks import (
    ApprovalCheck,
    PolicyCheck,
    RateLimitCheck,
    SandboxCheck,
    WorkspaceGuardCheck,
)
from tau_engine.agent.tool_filters import InjectionFilter, OutputCapFilter, SecretFilter
from tau_engine.conversation import Message, ToolCall
from tau_engine.errors import TauError
from tau_engine.events import EventBus, ToolCallEvent, ToolOutputDelta, ToolResultEvent
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import Approver
from tau_engine.safety.redaction import RedactionFilter
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.label import tool_label
from tau_engine.tools.live_output import LiveOutput
from tau_engine.tools.registry import ToolRegistry


class ToolPipeline:
    """Runs tool calls for the agent loop through checks, the tool and filters."""

    def __init__(
        self,
        tools: ToolRegistry | Iterable[Tool],
        ctx: ToolContext,
        bus: EventBus,
        safety: SafetyLayer,
        approver: Approver | None,
        *,
        redaction: RedactionFilter | None = None,
    ) -> None:
        self.registry = tools if isinstance(tools, ToolRegistry) else ToolRegistry(tools)
        self.ctx = ctx
        self.bus = bus
        self.safety = safety
        self.approver = approver
        self.redaction = redaction or safety.redaction
        self.checks: list[PreCallCheck] = [
            RateLimitCheck(safety),
            WorkspaceGuardCheck(ctx),
            SandboxCheck(safety, bus),
            PolicyCheck(safety),
            ApprovalCheck(safety, approver, bus, ctx, redact=self.redaction.redact),
        ]
        self.filters: list[PostCallFilter] = [
            OutputCapFilter(ctx.max_output_chars),
            SecretFilter(self.redaction, bus),
            InjectionFilter(safety, bus),
        ]
        # The output of calls still running, by call id: announced live, and kept for
        # the result of a call that is interrupted.
        self._live: dict[str, LiveOutput] = {}

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools by name, in the order the model sees them."""
        return {tool.name: tool for tool in self.registry}

    def add_check(self, check: PreCallCheck, *, before: str | None = None) -> None:
        """Add a pre-call check at the end, or before the one named ``before``."""
        _insert(self.checks, check, before)

    def add_filter(self, filter_: PostCallFilter, *, before: str | None = None) -> None:
        """Add a post-call filter at the end, or before the one named ``before``."""
        _insert(self.filters, filter_, before)

    def interrupted_output(self, call_id: str) -> str:
        """What an interrupted call had printed (capped like a result; empty if nothing).
        The pipeline forgets it once asked."""
        live = self._live.pop(call_id, None)
        return self.redaction.redact(live.text, where="tool output") if live else ""

    async def run(self, calls: list[ToolCall]) -> AsyncIterator[tuple[ToolCall, Message]]:
        """Yield each call with its result message, in the model's order."""
        prepared = [(call, self._validate(call)) for call in calls]
        i = 0
        while i < len(prepared):
            batch = [prepared[i]]
            if self._is_parallel_read(prepared[i][1]):
                while i + len(batch) < len(prepared) and self._is_parallel_read(
                    prepared[i + len(batch)][1]
                ):
                    batch.append(prepared[i + len(batch)])
            i += len(batch)
            for call, _ in batch:
                self.bus.emit(
                    ToolCallEvent(
                        call_id=call.id,
                        name=call.name,
                        arguments=call.arguments,
                        label=str(tool_label(call.name, call.arguments)),
                    )
                )
            if len(batch) > 1:
                messages = await asyncio.gather(*(self._run_one(c, p) for c, p in batch))
            else:
                messages = [await self._run_one(*batch[0])]
            for (call, _), message in zip(batch, messages, strict=True):
                yield call, message

    # -- validation ----------------------------------------------------------------------
    def _validate(self, call: ToolCall) -> PendingCall | CallResult:
        """The call ready for the checks, or the error result that ends it here."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(self.registry.names)
            return CallResult(
                f"error: unknown tool '{call.name}'; available tools: {known}",
                ok=False,
                from_tool=False,
            )
        if call.arguments_error:
            return CallResult(
                f"error: invalid arguments for {call.name}: {call.arguments_error}",
                ok=False,
                from_tool=False,
            )
        try:
            args = tool.parse_args(call.arguments)
            policy_call = tool.policy_call(args)
        except TauError as exc:
            return CallResult(
                f"error: invalid arguments for {call.name}: {exc}", ok=False, from_tool=False
            )
        return PendingCall(call, tool, args, policy_call)

    def _is_parallel_read(self, pending: PendingCall | CallResult) -> bool:
        if not isinstance(pending, PendingCall) or pending.tool.kind != "read":
            return False
        decision = self.safety.policy.decide(
            pending.policy_call, raised_risk=self.safety.risk.raised
        )
        return decision.verdict == "allow"

    # -- one call ------------------------------------------------------------------------
    async def _run_one(self, call: ToolCall, pending: PendingCall | CallResult) -> Message:
        started = time.monotonic()
        checked: PendingCall | None = None
        if isinstance(pending, PendingCall):
            checked = pending
            result, started = await self._checked_run(pending)
        else:
            result = pending
        run_ms = (time.monotonic() - started) * 1000 if not result.denied else 0.0
        for stage in self.filters:
            result = stage.apply(checked, call, result)
        self.bus.emit(
            ToolResultEvent(
                call_id=call.id,
                name=call.name,
                ok=result.ok,
                output=result.output,
                duration_ms=run_ms,
                denied=result.denied,
                diff=result.diff,
                paths=result.paths,
            )
        )
        meta: dict[str, Any] = dict(result.meta)
        if result.denied:
            meta["denied"] = True
        if result.diff:
            meta["diff"] = result.diff  # so a resumed transcript can show it again
        if result.paths:
            meta["paths"] = result.paths
        await self.safety.aflush_audit()  # this call's decisions, answers and findings
        return Message(
            role="tool",
            tool_call_id=call.id,
            name=call.name,
            content=result.output,
            is_error=not result.ok,
            meta=meta,
        )

    async def _checked_run(self, pending: PendingCall) -> tuple[CallResult, float]:
        """The checks, then the tool; returns the result and when the tool itself started
        (time spent waiting for the user's approval is not the tool's)."""
        for check in self.checks:
            refusal = await check.check(pending)
            if refusal is not None:
                return _refused(refusal), time.monotonic()
        started = time.monotonic()
        outcome = await self._execute(pending)
        return CallResult(
            outcome.output, outcome.ok, diff=outcome.diff, paths=list(outcome.paths)
        ), started

    async def _execute(self, pending: PendingCall) -> ToolOutcome:
        call = pending.call

        def announce(text: str, skipped: int) -> None:
            # LiveOutput sends whole lines where it can, so a key is not cut in two here.
            self.bus.emit(
                ToolOutputDelta(
                    call_id=call.id,
                    text=self.redaction.redact(text, where="tool output"),
                    skipped=skipped,
                )
            )

        live = self._live[call.id] = LiveOutput(announce, max_chars=self.ctx.max_output_chars)
        ctx = dataclasses.replace(self.ctx, on_output=live.write)
        try:
            outcome = await pending.tool.run(pending.args, ctx)
        except TauError as exc:
            outcome = ToolOutcome(f"error: {exc}", ok=False)
        except OSError as exc:
            outcome = ToolOutcome(f"error: {exc.strerror or exc}", ok=False)
        except asyncio.CancelledError:
            live.close()  # its partial output stays readable for the interrupted result
            raise
        except Exception as exc:
            # A tool's own bug must not end the session: the model gets it as the result.
            outcome = ToolOutcome(
                f"error: {call.name} failed unexpectedly: {type(exc).__name__}: {exc}", ok=False
            )
        live.close()
        del self._live[call.id]
        return outcome


def _refused(refusal: Refusal) -> CallResult:
    return CallResult(refusal.text, ok=False, denied=refusal.denied, from_tool=False)


def _insert(stages: list[Any], stage: Any, before: str | None) -> None:
    names = [s.name for s in stages]
    if stage.name in names:
        raise ValueError(f"the pipeline already has a stage named {stage.name!r}")
    if before is None:
        stages.append(stage)
        return
    if before not in names:
        raise ValueError(f"no stage named {before!r} (stages: {', '.join(names)})")
    stages.insert(names.index(before), stage)
