"""``EngineState``: what a front end may know about an engine, read-only.

A snapshot taken by ``Engine.state()``: the workspace, the model and its
context window, the approval mode, the current session and the totals the
status bar shows. Front ends read it instead of the engine's parts (its store,
its policy, its paths), so those can change without touching them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tau_engine.conversation import Usage
from tau_engine.protocol.approval import ApprovalMode


@dataclass(frozen=True, slots=True)
class SessionSummary:
    """The current session as a front end shows it."""

    id: str
    title: str
    model: str
    message_count: int
    cost_usd: float | None

    @property
    def short_id(self) -> str:
        return self.id[:8]


@dataclass(frozen=True, slots=True)
class EngineState:
    """One engine's state at one moment. ``session`` is None until the first prompt
    of a new session; ``usage`` and ``cost_usd`` total the current session (the run
    in progress included)."""

    workspace: Path
    model_id: str
    approval: ApprovalMode
    context_window: int | None = None
    running: bool = False
    session: SessionSummary | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    memory_enabled: bool = False
