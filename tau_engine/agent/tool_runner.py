"""Running one turn's tool calls: validation, the approval policy, execution, events.

Consecutive read-only calls that the policy allows run concurrently; every
other call runs alone, in the order the model asked. Whatever goes wrong
(an unknown tool, bad arguments, a denial, a failure) becomes the call's
error result for the model, never an exception out of the loop. Every result
(its output and diff), every piece of live output (``tool_output_delta``), the
output an interrupted call keeps and every approval preview go through the
context's ``SecretRedactor`` before they are announced, stored or sent: a tool
that prints the user's provider key (``env``, reading ``.env``) hands back
``[REDACTED:<variable>]`` instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

from tau_engine.conversation import Message, ToolCall
from tau_engine.errors import TauError
from tau_engine.events import (
    ApprovalNeeded,
    EventBus,
    ToolCallEvent,
    ToolOutputDelta,
    ToolResultEvent,
)
from tau_engine.safety.policy import (
    ApprovalDecision,
    ApprovalRequest,
    Approver,
    ToolPolicy,
    Verdict,
)
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome
from tau_engine.tools.live_output import LiveOutput


class ToolRunner:
    """Executes tool calls for the agent loop and announces them on the bus."""

    def __init__(self, tools: Mapping[str, Tool], policy: ToolPolicy,
                 approver: Approver | None, ctx: ToolContext, bus: EventBus) -> None:
        self.tools = tools
        self.policy = policy
        self.approver = approver
        self.ctx = ctx
        self.bus = bus
        # The output of calls still running, by call id: announced live, and kept for
        # the result of a call that is interrupted.
        self._live: dict[str, LiveOutput] = {}

    def interrupted_output(self, call_id: str) -> str:
        """What an interrupted call had printed (capped like a result; empty if nothing).
        The runner forgets it once asked."""
        live = self._live.pop(call_id, None)
        return self.ctx.redactor.redact(live.text) if live is not None else ""

    async def run(self, calls: list[ToolCall]) -> AsyncIterator[tuple[ToolCall, Message]]:
        """Yield each call with its result message, in the model's order."""
        i = 0
        while i < len(calls):
            batch = [calls[i]]
            if self._is_parallel_read(calls[i]):
                while i + len(batch) < len(calls) and \
                        self._is_parallel_read(calls[i + len(batch)]):
                    batch.append(calls[i + len(batch)])
            i += len(batch)
            for call in batch:
                self.bus.emit(ToolCallEvent(call_id=call.id, name=call.name,
                                            arguments=call.arguments))
            if len(batch) > 1:
                outcomes = await asyncio.gather(*(self._run_one(c) for c in batch))
            else:
                outcomes = [await self._run_one(batch[0])]
            for pair in zip(batch, outcomes, strict=True):
                yield pair

    def _is_parallel_read(self, call: ToolCall) -> bool:
        tool = self.tools.get(call.name)
        return (tool is not None and tool.kind == "read" and call.arguments_error is None
                and self.policy.verdict(tool.name, tool.kind, call.arguments) == "allow")

    async def _run_one(self, call: ToolCall) -> Message:
        outcome, denied, run_ms = await self._execute(call)
        redactor = self.ctx.redactor
        output = redactor.redact(outcome.output)
        diff = redactor.redact_optional(outcome.diff)
        self.bus.emit(ToolResultEvent(
            call_id=call.id, name=call.name, ok=outcome.ok, output=output,
            duration_ms=run_ms, denied=denied,
            diff=diff, paths=outcome.paths))
        meta: dict[str, Any] = {}
        if denied:
            meta["denied"] = True
        if diff:
            meta["diff"] = diff  # so a resumed transcript can show it again
        if outcome.paths:
            meta["paths"] = outcome.paths
        return Message(role="tool", tool_call_id=call.id, name=call.name, content=output,
                       is_error=not outcome.ok, meta=meta)

    async def _execute(self, call: ToolCall) -> tuple[ToolOutcome, bool, float]:
        """The outcome, whether it was denied, and how long the tool itself ran (ms):
        time spent waiting for the user's approval is not the tool's."""
        tool = self.tools.get(call.name)
        if tool is None:
            known = ", ".join(sorted(self.tools))
            return ToolOutcome(f"error: unknown tool '{call.name}'; available tools: {known}",
                               ok=False), False, 0.0
        if call.arguments_error:
            return ToolOutcome(f"error: invalid arguments for {call.name}: "
                               f"{call.arguments_error}", ok=False), False, 0.0
        try:
            args = tool.parse_args(call.arguments)
        except TauError as exc:
            return ToolOutcome(f"error: invalid arguments for {call.name}: {exc}",
                               ok=False), False, 0.0
        verdict = self.policy.verdict(tool.name, tool.kind, call.arguments)
        why = (f"{tool.name} is not allowed in approval mode '{self.policy.mode.value}'")
        if verdict == "ask":
            if self.approver is None:
                verdict = "deny"
                why = (f"{tool.name} needs approval in mode '{self.policy.mode.value}' and "
                       "nobody can approve it in this run (use --approval full-auto to allow)")
            else:
                verdict = await self._ask(call, tool, args)
                why = f"the user denied this {tool.name} call"
        if verdict == "deny":
            return ToolOutcome(f"denied: {why}. Do not retry the same call; adapt, or explain "
                               "what you need.", ok=False), True, 0.0
        started = time.monotonic()

        def announce(text: str, skipped: int) -> None:
            # LiveOutput sends whole lines where it can, so a key is not cut in two here.
            self.bus.emit(ToolOutputDelta(call_id=call.id, text=self.ctx.redactor.redact(text),
                                          skipped=skipped))

        live = self._live[call.id] = LiveOutput(announce, max_chars=self.ctx.max_output_chars)
        ctx = dataclasses.replace(self.ctx, on_output=live.write)
        try:
            outcome = await tool.run(args, ctx)
        except TauError as exc:
            outcome = ToolOutcome(f"error: {exc}", ok=False)
        except OSError as exc:
            outcome = ToolOutcome(f"error: {exc.strerror or exc}", ok=False)
        except asyncio.CancelledError:
            live.close()  # its partial output stays readable for the interrupted result
            raise
        except Exception as exc:
            # A tool's own bug must not end the session: the model gets it as the result.
            outcome = ToolOutcome(f"error: {call.name} failed unexpectedly: "
                                  f"{type(exc).__name__}: {exc}", ok=False)
        live.close()
        del self._live[call.id]
        return outcome, False, (time.monotonic() - started) * 1000

    async def _ask(self, call: ToolCall, tool: Tool, args: Any) -> Verdict:
        assert self.approver is not None
        try:
            preview = await tool.preview(args, self.ctx)
        except TauError as exc:
            preview = f"(no preview: {exc})"
        preview = self.ctx.redactor.redact(preview)
        reason = self.policy.reason(tool.name, tool.kind)
        grant = self.policy.grant_for(tool.name, tool.kind, call.arguments)
        self.bus.emit(ApprovalNeeded(call_id=call.id, name=tool.name, arguments=call.arguments,
                                     reason=reason, preview=preview))
        decision = await self.approver(ApprovalRequest(
            call_id=call.id, tool=tool.name, kind=tool.kind, arguments=call.arguments,
            reason=reason, preview=preview, grant=grant,
            no_grant_reason="" if grant else self.policy.why_no_grant(call.arguments)))
        # "Allow for session" on a call that offers no grant runs it once, nothing more.
        self.policy.remember(grant, decision)
        return "deny" if decision is ApprovalDecision.DENY else "allow"
