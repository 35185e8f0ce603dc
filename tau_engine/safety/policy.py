"""Approval modes and the tool policy that applies them.

Each tool has a ``kind``: ``read`` (no side effects), ``edit`` (changes files in
the workspace), ``exec`` (runs commands) or ``network`` (calls out). The mode
decides per kind whether a call runs, asks the injected approver, or is denied:

============  =====  =====  =====  =======
mode          read   edit   exec   network
============  =====  =====  =====  =======
read-only     allow  deny   deny   deny
ask           allow  ask    ask    ask
auto-edit     allow  allow  ask    ask
full-auto     allow  allow  allow  allow
============  =====  =====  =====  =======

"ask" with no approver (headless runs) is a denial that goes back to the model
as the tool's result. "Allow for this session" is remembered per tool name.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

ToolKind = Literal["read", "edit", "exec", "network"]
Verdict = Literal["allow", "ask", "deny"]


class ApprovalMode(StrEnum):
    READ_ONLY = "read-only"
    ASK = "ask"
    AUTO_EDIT = "auto-edit"
    FULL_AUTO = "full-auto"


APPROVAL_MODES = [m.value for m in ApprovalMode]

_TABLE: dict[ApprovalMode, dict[str, Verdict]] = {
    ApprovalMode.READ_ONLY: {"read": "allow", "edit": "deny", "exec": "deny", "network": "deny"},
    ApprovalMode.ASK: {"read": "allow", "edit": "ask", "exec": "ask", "network": "ask"},
    ApprovalMode.AUTO_EDIT: {"read": "allow", "edit": "allow", "exec": "ask", "network": "ask"},
    ApprovalMode.FULL_AUTO: {"read": "allow", "edit": "allow", "exec": "allow",
                             "network": "allow"},
}


class ApprovalDecision(StrEnum):
    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"
    DENY = "deny"


@dataclass(slots=True)
class ApprovalRequest:
    """What a front end shows the user when a tool call needs a decision."""

    call_id: str
    tool: str
    kind: ToolKind
    arguments: dict[str, Any]
    reason: str
    preview: str  # the command, the diff or the URL


Approver = Callable[[ApprovalRequest], Awaitable[ApprovalDecision]]
"""Injected by a front end; the engine never knows which one answered."""


@dataclass
class ToolPolicy:
    """Applies an approval mode, plus the tools the user allowed for this session."""

    mode: ApprovalMode = ApprovalMode.AUTO_EDIT
    allowed_for_session: set[str] = field(default_factory=set)

    def verdict(self, tool: str, kind: ToolKind) -> Verdict:
        base = _TABLE[self.mode][kind]
        if base == "ask" and tool in self.allowed_for_session:
            return "allow"
        return base

    def reason(self, tool: str, kind: ToolKind) -> str:
        what = {"edit": "changes files", "exec": "runs a command",
                "network": "makes a network request", "read": "reads files"}[kind]
        return f"{tool} {what}; approval mode '{self.mode.value}' asks before it does"

    def remember(self, tool: str, decision: ApprovalDecision) -> None:
        if decision is ApprovalDecision.ALLOW_SESSION:
            self.allowed_for_session.add(tool)
