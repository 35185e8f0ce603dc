"""The tool interface.

A tool declares its name, description and JSON schema (what the model sees),
its ``kind`` (what the safety policy decides on), parses and validates its
arguments (``parse_args`` raises ``ToolError`` with a message that tells the
model what is wrong), says what a call acts on (``paths``, ``policy_call``: the
command, the paths or the URL the permission policy judges; ``result_source``:
where its result's text comes from), previews what it would do (for
approvals), and runs. Tools resolve every path through ``ctx.guard`` and call
``ctx.before_change`` before they modify a file, so undo can restore it.

A tool takes what it depends on (a sandbox, a network policy, a service) in its
constructor; ``ToolContext`` carries only what every call shares.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tau_engine.conversation import ToolSpec
from tau_engine.safety.permissions import ToolCall as PolicyCall
from tau_engine.safety.policy import ToolKind
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.workspace import WorkspaceGuard

BeforeChange = Callable[[Path], Awaitable[None]]
OutputWriter = Callable[[str], None]


async def _no_checkpoint(path: Path) -> None:
    return None


@dataclass
class ToolContext:
    """What a running tool may use."""

    workspace: Path
    guard: WorkspaceGuard
    before_change: BeforeChange = _no_checkpoint
    # Cap on the characters of output a tool returns to the model.
    max_output_chars: int = 30_000
    env: dict[str, str] | None = None
    # Applied by the tool runner to every result before it is stored or sent.
    redactor: SecretRedactor = field(default_factory=SecretRedactor)
    # Where a tool writes output as it produces it (bash does), so front ends can show
    # it live and an interrupted call keeps it. The tool runner sets it for each call.
    on_output: OutputWriter | None = None


@dataclass
class ToolOutcome:
    """The result of one call. ``output`` goes back to the model as the tool result."""

    output: str
    ok: bool = True
    diff: str | None = None  # unified diff of the changes, for the UI
    paths: list[str] = field(default_factory=list)  # workspace-relative paths touched
    data: dict[str, Any] = field(default_factory=dict)  # e.g. {"exit_code": 0}


class Tool(ABC):
    """Base class of every tool."""

    name: ClassVar[str]
    description: ClassVar[str]
    parameters: ClassVar[dict[str, Any]]
    kind: ClassVar[ToolKind]

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)

    @abstractmethod
    def parse_args(self, arguments: dict[str, Any]) -> Any:
        """Validate raw arguments; raise ``ToolError`` saying what is wrong."""

    def target(self, args: Any) -> str:
        """A short label of what the call acts on (a path, a command), for one-line logs."""
        return ""

    def paths(self, args: Any) -> list[str]:
        """The workspace paths the call reads (a ``read`` tool) or writes (an ``edit`` tool),
        as the model gave them: checked by the workspace guard before the call runs."""
        return []

    def policy_call(self, args: Any) -> PolicyCall:
        """What the permission policy judges: by default the tool and its paths."""
        return PolicyCall(self.name, self.kind, subjects=tuple(self.paths(args)))

    def result_source(self, args: Any) -> str:
        """Where the result's text comes from, for the untrusted marker the model sees:
        ``file:src/x.py``, ``http:https://…``, ``bash:make test``."""
        target = self.target(args)
        return f"{self.name}:{target}" if target else self.name

    async def preview(self, args: Any, ctx: ToolContext) -> str:
        """What the user approves: the command, the diff, the URL."""
        return self.target(args)

    @abstractmethod
    async def run(self, args: Any, ctx: ToolContext) -> ToolOutcome:
        """Do the work; raise ``ToolError`` (or ``WorkspaceError``) on failure."""
