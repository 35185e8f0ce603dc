"""What ``tau policy show`` and ``tau permissions`` print, as data.

:func:`effective_policy` is the active profile's every value with the file and line it came
from, the saved rules of each layer (and whether they apply), the safety settings of the user's
config and the sandbox. :func:`check_call` is the dry run of one call: the decision the tool
pipeline would make, with its full trace. :func:`listed_rules` is every saved rule, including
the workspace's allow rules an untrusted workspace does not load.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tau_engine.errors import UsageError
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.permission_store import read_rules
from tau_engine.safety.permissions import Decision, ToolCall
from tau_engine.safety.policy import ToolKind
from tau_engine.safety.rules import Rule
from tau_engine.safety.shell_sandbox import SandboxStatus

# The built-in tools' kinds (what the policy decides on), for dry runs without the tools.
TOOL_KINDS: dict[str, ToolKind] = {
    "read": "read",
    "glob": "read",
    "grep": "read",
    "write": "edit",
    "edit": "edit",
    "edit_many": "edit",
    "write_many": "edit",
    "bash": "exec",
    "http": "network",
}


@dataclass(frozen=True)
class ListedRule:
    """A saved rule, where it is, and whether it applies."""

    rule: Rule
    active: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        r = self.rule
        return {
            "rule": r.text,
            "action": r.action,
            "scope": r.scope,
            "source": str(r.source),
            "when": r.when,
            "by": r.by,
            "note": r.note,
            "active": self.active,
            "why_inactive": self.note or None,
        }


def listed_rules(layer: SafetyLayer) -> list[ListedRule]:
    """The user's rules, then the workspace's (inactive: an allow rule of an untrusted one)."""
    files = layer.rule_files()
    out = [ListedRule(rule, True) for rule in read_rules(files["user"], "user")]
    for rule in read_rules(files["workspace"], "workspace"):
        if rule.action == "allow" and not layer.workspace_trusted:
            out.append(ListedRule(rule, False, "the workspace is not trusted (tau trust)"))
        else:
            out.append(ListedRule(rule, True))
    return out


def check_call(
    layer: SafetyLayer,
    tool: str,
    args: list[str],
    *,
    method: str = "GET",
    sandbox: SandboxStatus | None = None,
) -> Decision:
    """The pipeline's decision on one call, without running it: ``bash`` takes the command
    (the words joined), file tools take paths, ``http`` takes a URL."""
    kind = TOOL_KINDS.get(tool)
    if kind is None:
        raise UsageError(f"unknown tool '{tool}'; choose one of: {', '.join(TOOL_KINDS)}")
    if not args:
        what = {"bash": "a command", "http": "a URL"}.get(tool, "a path")
        raise UsageError(f"tau permissions check {tool} needs what it acts on ({what})")
    if sandbox is not None:
        layer.policy.sandbox = sandbox.label()
        layer.policy.sandboxed = sandbox.active
    if tool == "bash":
        call = ToolCall(tool, kind, command=" ".join(args))
    elif tool == "http":
        call = ToolCall(tool, kind, subjects=tuple(args[:1]), method=method.upper())
    else:
        call = ToolCall(tool, kind, subjects=tuple(args))
    return layer.policy.decide(call, raised_risk=layer.risk.raised)


def effective_policy(
    layer: SafetyLayer, *, sandbox: SandboxStatus | None, settings: dict[str, Any]
) -> dict[str, Any]:
    """The whole effective policy with the source of every line."""
    profile = layer.profile
    return {
        "profile": profile.name,
        "profile_source": layer.profile_source,
        "builtin": profile.builtin,
        "description": profile.document.description,
        "mode": layer.policy.mode.value,
        "sandbox": sandbox.label() if sandbox else layer.policy.sandbox,
        "sandbox_diagnostic": sandbox.diagnostic if sandbox else "",
        "workspace": str(layer.policy.workspace_root),
        "workspace_trusted": layer.workspace_trusted,
        "lines": [
            {"key": line.key, "value": line.value, "source": str(line.source)}
            for line in profile.lines()
        ],
        "settings": settings,
        "rules": [item.to_dict() for item in listed_rules(layer)],
        "rule_files": {k: str(v) for k, v in layer.rule_files().items()},
    }


def describe_decision(decision: Decision) -> list[str]:
    """The trace as lines of text: verdict, rule and where, why, context, each part."""
    lines = [
        f"{decision.tool}: {decision.verdict}",
        f"  rule: {decision.cause.cite()}",
        f"  why: {decision.cause.why}",
        f"  profile {decision.profile} · mode {decision.mode} · sandbox {decision.sandbox}"
        + (" · risk raised" if decision.raised_risk else ""),
    ]
    if decision.parts:
        lines.append("  parts:")
        for part in decision.parts:
            wrappers = f" (in {' / '.join(part.wrappers)})" if part.wrappers else ""
            lines.append(
                f"    {part.kind:<10} {part.verdict:<5} {part.part}{wrappers}  "
                f"← {part.cause.cite()}"
            )
    if decision.verdict == "deny":
        lines.append(f"  the model is told: {decision.refusal()}")
    if decision.suggestion is not None:
        lines.append(f"  {decision.always_allow()}")
    return lines
