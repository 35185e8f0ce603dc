"""The pieces of the tool pipeline: a call on its way through, and the two kinds of stage.

A :class:`PendingCall` is one validated call (the tool found, its arguments parsed). Each
:class:`PreCallCheck` looks at it in order and either lets it go on (``None``) or stops it with
a :class:`Refusal`, whose text is the call's result for the model. Once the tool has run, each
:class:`PostCallFilter` in order may change the :class:`CallResult` (cap it, redact it, flag
it) before it is announced, stored and sent. Checks and filters are small named objects; the
safety layer and, later, hooks add theirs to a pipeline's lists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tau_engine.conversation import ToolCall
from tau_engine.safety.permissions import Decision
from tau_engine.safety.permissions import ToolCall as PolicyCall
from tau_engine.safety.shell_sandbox import SandboxStatus
from tau_engine.tools.base import Tool


@dataclass
class PendingCall:
    """One validated call: what the model sent, the tool, its parsed arguments, and what
    the checks found out on the way (the policy's decision, the sandbox's status)."""

    call: ToolCall
    tool: Tool
    args: Any
    policy_call: PolicyCall
    decision: Decision | None = None
    sandbox: SandboxStatus | None = None
    # How the user answered an approval, when asked (allow_once, allow_session, ...).
    answer: str | None = None

    @property
    def name(self) -> str:
        return self.tool.name


@dataclass(frozen=True, slots=True)
class Refusal:
    """A check's "no". ``text`` is the result the model gets; ``denied`` marks a refusal by
    the policy or the user (front ends show "denied"), as opposed to an error."""

    text: str
    denied: bool = True


@dataclass
class CallResult:
    """A call's result while the filters work on it.

    ``output`` and ``diff`` are what is announced and stored; ``meta`` goes with the stored
    message (provenance, injection flags, the denial); ``from_tool`` is False for results
    tau wrote itself (a refusal, an unknown tool), which are not scanned for injection."""

    output: str
    ok: bool
    diff: str | None = None
    paths: list[str] = field(default_factory=list)
    denied: bool = False
    from_tool: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


class PreCallCheck(Protocol):
    """A stage before the tool runs: ``None`` lets the call go on, a ``Refusal`` stops it."""

    name: str

    async def check(self, pending: PendingCall) -> Refusal | None: ...


class PostCallFilter(Protocol):
    """A stage after the tool ran (or was refused): returns the result, changed or not."""

    name: str

    def apply(
        self, pending: PendingCall | None, call: ToolCall, result: CallResult
    ) -> CallResult: ...
