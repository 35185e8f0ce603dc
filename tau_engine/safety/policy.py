"""Approval modes, the table the permission policy starts from, and the approval question.

Each tool has a ``kind``: ``read`` (no side effects), ``edit`` (changes files in
the workspace), ``exec`` (runs commands) or ``network`` (calls out). The mode
gives each kind a default verdict, which the safety profile and the permission
rules then refine (``permissions.py``):

============  =====  =====  =====  =======
mode          read   edit   exec   network
============  =====  =====  =====  =======
read-only     allow  deny   deny   deny
ask           allow  ask    ask    ask
auto-edit     allow  allow  ask    ask
full-auto     allow  allow  allow  allow
============  =====  =====  =====  =======

"ask" with no approver (headless runs) is a denial that goes back to the model
as the tool's result. When a front end asks, the ``ApprovalRequest`` carries why
(the rule or setting that asks, and where it is written) and the rule that
"allow for this session" or "always allow" would add, with its breadth.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from tau_engine.protocol.approval import ApprovalMode

__all__ = [
    "ApprovalDecision",
    "ApprovalMode",
    "ApprovalRequest",
    "Approver",
    "ToolKind",
    "ToolPolicy",
    "Verdict",
]

ToolKind = Literal["read", "edit", "exec", "network"]
Verdict = Literal["allow", "ask", "deny"]


_TABLE: dict[ApprovalMode, dict[str, Verdict]] = {
    ApprovalMode.READ_ONLY: {"read": "allow", "edit": "deny", "exec": "deny", "network": "deny"},
    ApprovalMode.ASK: {"read": "allow", "edit": "ask", "exec": "ask", "network": "ask"},
    ApprovalMode.AUTO_EDIT: {"read": "allow", "edit": "allow", "exec": "ask", "network": "ask"},
    ApprovalMode.FULL_AUTO: {"read": "allow", "edit": "allow", "exec": "allow", "network": "allow"},
}


class ApprovalDecision(StrEnum):
    ALLOW_ONCE = "allow_once"
    ALLOW_SESSION = "allow_session"
    # Save the suggested rule in .tau/permissions.toml: later runs allow it unasked.
    ALLOW_ALWAYS = "allow_always"
    DENY = "deny"


@dataclass(slots=True)
class ApprovalRequest:
    """What a front end shows the user when a tool call needs a decision."""

    call_id: str
    tool: str
    kind: ToolKind
    arguments: dict[str, Any]
    reason: str  # why tau asks: the rule or setting, and the file and line it is written in
    preview: str  # the command, the diff or the URL
    # The rule "allow for this session" and "always allow" would add (``bash(touch *)``) and
    # how much it covers; None: this call can only be allowed once (``no_rule_reason``).
    rule: str | None = None
    breadth: str = ""
    no_rule_reason: str = ""
    save_to: str = ".tau/permissions.toml"  # where "always allow" writes the rule
    risk: str = ""  # set when an injection flag raised the session's risk


Approver = Callable[[ApprovalRequest], Awaitable[ApprovalDecision]]
"""Injected by a front end; the engine never knows which one answered."""


@dataclass
class ToolPolicy:
    """The approval mode's verdict per tool kind (the permission policy's starting point)."""

    mode: ApprovalMode = ApprovalMode.AUTO_EDIT

    def verdict(
        self, tool: str, kind: ToolKind, arguments: Mapping[str, Any] | None = None
    ) -> Verdict:
        return _TABLE[self.mode][kind]
