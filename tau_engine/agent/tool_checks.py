"""The pre-call checks of the tool pipeline, in the order they run.

1. :class:`RateLimitCheck`: the profile's ``limits.tool_calls_per_minute``.
2. :class:`WorkspaceGuardCheck`: every path a file tool names resolves inside the workspace,
   and writes stay off the protected paths (tau's state and settings, git's internals).
3. :class:`SandboxCheck`: a command-running tool needs the sandbox the profile requires.
4. :class:`PolicyCheck`: the permission policy decides allow, ask or deny, with its trace.
5. :class:`ApprovalCheck`: an "ask" goes to the user (with the why line and the rule "always
   allow" would save); with nobody to ask it is a denial the model sees.

Every decision, answer, sandbox refusal and limit is written to the audit log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tau_engine.agent.tool_calls import PendingCall, Refusal
from tau_engine.errors import ConfigError, TauError, WorkspaceError
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import ApprovalNeeded, EventBus, Notice
from tau_engine.safety.audit import AuditEvent, decision_event, sandbox_refusal_event
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.permission_store import save_rule, workspace_rules_path
from tau_engine.safety.permissions import Decision
from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest, Approver
from tau_engine.safety.rules import Rule
from tau_engine.safety.toml_lines import Source
from tau_engine.tools.base import ToolContext

RETRY_HINT = "Do not retry the same call; adapt, or explain what you need."


async def _record(safety: SafetyLayer, event: AuditEvent) -> None:
    safety.record(event)  # written with the call's other events when it is done


class RateLimitCheck:
    """Refuses calls past the profile's calls-per-minute limit (a model stuck in a loop)."""

    name = "rate-limit"

    def __init__(self, safety: SafetyLayer) -> None:
        self.safety = safety

    async def check(self, pending: PendingCall) -> Refusal | None:
        wait = self.safety.rate.try_acquire()
        if wait is None:
            return None
        await _record(
            self.safety,
            AuditEvent(
                kind="deny",
                tool=pending.name,
                call_id=pending.call.id,
                rule="limits.tool_calls_per_minute",
                detail={"limit": self.safety.rate.per_minute},
            ),
        )
        return Refusal(self.safety.rate.refusal(wait))


class WorkspaceGuardCheck:
    """Paths resolve inside the workspace; writes never touch a protected path."""

    name = "workspace-guard"

    def __init__(self, ctx: ToolContext) -> None:
        self.ctx = ctx

    async def check(self, pending: PendingCall) -> Refusal | None:
        write = pending.tool.kind == "edit"
        for path in pending.tool.paths(pending.args):
            try:
                self.ctx.guard.resolve(path, write=write)
            except WorkspaceError as exc:
                # The same result the tool itself gives: an error naming the rule.
                return Refusal(f"error: {exc}", denied=False)
        return None


class SandboxCheck:
    """Commands need the sandbox the profile requires; without it best-effort says so once."""

    name = "sandbox"

    def __init__(self, safety: SafetyLayer, bus: EventBus) -> None:
        self.safety = safety
        self.bus = bus
        self._told = False

    async def check(self, pending: PendingCall) -> Refusal | None:
        if pending.tool.kind != "exec":
            return None
        status = await self.safety.sandbox_status()
        pending.sandbox = status
        if status.refuses:
            await _record(
                self.safety,
                sandbox_refusal_event(
                    status.diagnostic, tool=pending.name, call_id=pending.call.id
                ),
            )
            return Refusal(status.refusal())
        if status.diagnostic and not self._told:
            self._told = True
            what = (
                "runs unsandboxed" if not status.active else "runs in the sandbox but with network"
            )
            self.bus.emit(
                Notice(
                    kind=NoticeKind.SANDBOX,
                    message=(
                        f"{pending.name} {what} (profile {self.safety.profile.name}, "
                        f"sandbox.policy = {status.policy}): {status.diagnostic}; see "
                        "tau doctor sandbox"
                    ),
                    data={"sandbox": status.label()},
                )
            )
        return None


class PolicyCheck:
    """The permission policy's decision; a deny is the refusal the model sees."""

    name = "policy"

    def __init__(self, safety: SafetyLayer) -> None:
        self.safety = safety

    async def check(self, pending: PendingCall) -> Refusal | None:
        decision = self.safety.policy.decide(
            pending.policy_call, raised_risk=self.safety.risk.raised
        )
        pending.decision = decision
        await _record(
            self.safety,
            decision_event(
                decision,
                session=self.safety.context.session,
                run=self.safety.context.run,
                call_id=pending.call.id,
            ),
        )
        if decision.verdict == "deny":
            return Refusal(f"{decision.refusal()}. {RETRY_HINT}")
        return None


def headless_denial(pending: PendingCall, decision: Decision) -> str:
    """What the model gets for an "ask" in a run with nobody to ask."""
    mode, label = decision.mode, decision.cause.label
    if label.startswith("approval mode"):
        how = "use --approval full-auto to allow"
    elif label == "injection flag":
        how = "only the user can clear the raised risk, in an interactive session"
    elif decision.suggestion is not None:
        how = f"allow with: tau permissions allow '{decision.suggestion.text}'"
    else:
        how = "nothing can allow it unasked"
    return (
        f"denied: {pending.name} needs approval in mode '{mode}': {decision.why()}; nobody "
        f"can approve it in this run ({how}). {RETRY_HINT}"
    )


class ApprovalCheck:
    """Asks the user about an "ask" decision and applies the answer."""

    name = "approval"

    def __init__(
        self,
        safety: SafetyLayer,
        approver: Approver | None,
        bus: EventBus,
        ctx: ToolContext,
        *,
        redact: Callable[[str], str],
    ) -> None:
        self.safety = safety
        self.approver = approver
        self.bus = bus
        self.ctx = ctx
        self.redact = redact

    async def check(self, pending: PendingCall) -> Refusal | None:
        decision = pending.decision
        if decision is None or decision.verdict != "ask":
            return None
        if self.approver is None:
            return Refusal(headless_denial(pending, decision))
        tool, call = pending.tool, pending.call
        try:
            preview = await tool.preview(pending.args, self.ctx)
        except TauError as exc:
            preview = f"(no preview: {exc})"
        preview = self.redact(preview)
        # After an injection flag every call with side effects asks: no rule can change that.
        raised = decision.raised_risk and pending.policy_call.side_effects
        rule = None if raised else decision.suggestion
        files = self.safety.rule_files()
        self.bus.emit(
            ApprovalNeeded(
                call_id=call.id,
                name=tool.name,
                arguments=call.arguments,
                reason=decision.why(),
                preview=preview,
            )
        )
        answer = await self.approver(
            ApprovalRequest(
                call_id=call.id,
                tool=tool.name,
                kind=tool.kind,
                arguments=call.arguments,
                reason=decision.why(),
                preview=preview,
                rule=rule.text if rule else None,
                breadth=decision.breadth or "",
                save_to=".tau/" + files["workspace"].name,
                no_rule_reason="" if rule else _why_no_rule(decision),
                risk=self.safety.risk.summary(),
            )
        )
        pending.answer = answer.value
        if answer is ApprovalDecision.ALLOW_SESSION and rule is None:
            answer = ApprovalDecision.ALLOW_ONCE  # nothing to remember: this call only
        await _record(
            self.safety,
            AuditEvent(
                kind="deny" if answer is ApprovalDecision.DENY else "allow",
                tool=tool.name,
                call_id=call.id,
                rule=f"approval prompt: {answer.value}",
                detail={"suggested": rule.text if rule else None},
            ),
        )
        if answer is ApprovalDecision.DENY:
            return Refusal(f"denied: the user denied this {tool.name} call. {RETRY_HINT}")
        if rule is not None and answer is ApprovalDecision.ALLOW_SESSION:
            self.safety.policy.allow_for_session(_session_rule(rule, "approval prompt"))
        elif rule is not None and answer is ApprovalDecision.ALLOW_ALWAYS:
            await self._save(rule)
        return None

    async def _save(self, rule: Rule) -> None:
        path = workspace_rules_path(self.safety.policy.workspace_root)
        try:
            saved = await asyncio.to_thread(
                save_rule, path, "workspace", rule.text, "allow", by="approval prompt"
            )
        except (ConfigError, TauError, OSError) as exc:
            self.safety.policy.allow_for_session(_session_rule(rule, "approval prompt"))
            self.bus.emit(
                Notice(
                    kind=NoticeKind.PERMISSIONS,
                    message=(
                        f"could not save {rule.text}: {exc}; it is allowed for this session only"
                    ),
                )
            )
            return
        await asyncio.to_thread(self.safety.reload_rules)
        where = f".tau/{path.name}:{saved.source.line}" if saved.source.line else path.name
        if self.safety.workspace_trusted:
            message = f"saved allow rule {rule.text} to {where}"
        else:
            # An untrusted workspace's allow rules do not load: keep it for the session.
            self.safety.policy.allow_for_session(_session_rule(rule, "approval prompt"))
            message = (
                f"saved allow rule {rule.text} to {where}; this workspace is not "
                "trusted, so saved allow rules apply in later runs only after "
                "`tau trust` (this session allows it now)"
            )
        self.bus.emit(Notice(kind=NoticeKind.PERMISSIONS, message=message))


def _session_rule(rule: Rule, by: str) -> Rule:
    return Rule(rule.tool, rule.pattern, "allow", Source("session"), scope="session", by=by)


def _why_no_rule(decision: Decision) -> str:
    unresolved = next((p for p in decision.parts if p.kind == "unresolved"), None)
    if unresolved is not None:
        return f"tau cannot judge {unresolved.part!r}, so no rule can allow it"
    if decision.raised_risk:
        return "the session's risk is raised; each call with side effects asks"
    return "this call can only be allowed once"
