"""What a run produces: its result for the front ends, and its id.

A run is one prompt through the agent loop, announced between ``run_started`` and
``run_finished`` with the same ``run_id``; ``RunResult`` is what the loop returns
and what ``--output-format json`` prints.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tau_engine.conversation import Usage


@dataclass
class ToolCallRecord:
    """One tool call of a run, as reported in ``--output-format json``."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    denied: bool = False  # refused by the approval mode or the user


@dataclass
class RunResult:
    """What one run produced."""

    session_id: str
    result: str
    stop_reason: str  # end_turn | max_tokens | max_turns | interrupted | error | budget
    turns: int
    usage: Usage
    cost_usd: float | None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    duration_ms: float = 0.0
    error: str | None = None
    error_kind: str | None = None
    run_id: str = ""


def new_run_id() -> str:
    """A run's id: 32 hex digits, like a session's."""
    return uuid.uuid4().hex
