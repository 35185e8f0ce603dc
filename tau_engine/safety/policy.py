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
as the tool's result. "Allow for this session" is remembered as a scoped
``SessionGrant`` (a command prefix for ``bash``, the tool's name otherwise; see
``grants.py``); a grant turns a later "ask" into "allow", never a "deny".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

from tau_engine.safety.grants import SessionGrant, grant_for, why_no_grant

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
    # What "allow for this session" would cover; None: this call can only be allowed
    # once, and ``no_grant_reason`` says why.
    grant: SessionGrant | None = None
    no_grant_reason: str = ""


Approver = Callable[[ApprovalRequest], Awaitable[ApprovalDecision]]
"""Injected by a front end; the engine never knows which one answered."""


@dataclass
class ToolPolicy:
    """Applies an approval mode, plus what the user allowed for this session."""

    mode: ApprovalMode = ApprovalMode.AUTO_EDIT
    grants: list[SessionGrant] = field(default_factory=list)

    def verdict(self, tool: str, kind: ToolKind,
                arguments: Mapping[str, Any] | None = None) -> Verdict:
        base = _TABLE[self.mode][kind]
        if base == "ask" and any(g.covers(tool, arguments) for g in self.grants):
            return "allow"
        return base

    def reason(self, tool: str, kind: ToolKind) -> str:
        what = {"edit": "changes files", "exec": "runs a command",
                "network": "makes a network request", "read": "reads files"}[kind]
        return f"{tool} {what}; approval mode '{self.mode.value}' asks before it does"

    def grant_for(self, tool: str, kind: ToolKind,
                  arguments: Mapping[str, Any] | None) -> SessionGrant | None:
        """What "allow for this session" on this call would cover (None: once only)."""
        return grant_for(tool, kind, arguments)

    def why_no_grant(self, arguments: Mapping[str, Any] | None) -> str:
        """Why a call offers no grant (only asked when ``grant_for`` gave None)."""
        return why_no_grant(arguments)

    def remember(self, grant: SessionGrant | None, decision: ApprovalDecision) -> None:
        """Keep ``grant`` if the user allowed it for the session; nothing otherwise."""
        if decision is ApprovalDecision.ALLOW_SESSION and grant is not None \
                and grant not in self.grants:
            self.grants.append(grant)
