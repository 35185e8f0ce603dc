"""``--output-format json``: one compact JSON object on the last line of stdout.

Tool calls, notices and errors still go to stderr as lines (as in ``text``); the
answer itself is only in the object, written when the run ends (``result_json``),
or, for a run that failed before it could end (``failure_json``), by the runner.
"""

from __future__ import annotations

import json
from typing import Any, assert_never

from tau_engine.events import (
    ApprovalNeeded,
    ErrorEvent,
    Event,
    MissionPhaseEvent,
    Notice,
    RunFinished,
    RunStarted,
    SessionFinished,
    SessionStarted,
    TextDelta,
    ThinkingDelta,
    ToolCallEvent,
    ToolOutputDelta,
    ToolResultEvent,
    TurnFinished,
    TurnStarted,
    UsageEvent,
    UserMessage,
)
from tau_tui.headless.activity import ActivityLines


class JsonResultRenderer(ActivityLines):
    """Activity lines on stderr as the run goes; the result object at ``finish``."""

    def render(self, event: Event) -> None:
        match event:
            case ToolCallEvent() | ToolResultEvent() | Notice() | ErrorEvent():
                self.activity(event)
            case (
                SessionStarted()
                | SessionFinished()
                | RunStarted()
                | UserMessage()
                | TurnStarted()
                | TextDelta()
                | ThinkingDelta()
                | ApprovalNeeded()
                | ToolOutputDelta()
                | UsageEvent()
                | TurnFinished()
                | RunFinished()
                | MissionPhaseEvent()
            ):
                pass  # in the result object, or not part of it
            case _:
                assert_never(event)

    def write_end(self, result: Any, exit_code: int | None) -> None:
        self.out.write(json.dumps(result_json(result, exit_code), separators=(",", ":")) + "\n")


def result_json(result: Any, exit_code: int | None = None) -> dict[str, Any]:
    """The ``--output-format json`` object of a run. ``is_error`` and ``exit_code`` say
    how the process ends (without ``exit_code``: 0 when the run ended normally, else 1)."""
    if exit_code is None:
        exit_code = 0 if result.stop_reason in ("end_turn", "max_tokens") else 1
    return {
        "is_error": exit_code != 0,
        "exit_code": exit_code,
        "session_id": result.session_id,
        "result": result.result,
        "stop_reason": result.stop_reason,
        "turns": result.turns,
        "usage": {
            "input_tokens": result.usage.input_tokens,
            "output_tokens": result.usage.output_tokens,
            # Only when tau counted the tokens itself (the server reported none).
            **({"estimated": True} if result.usage.estimated else {}),
        },
        "cost_usd": result.cost_usd,
        "tool_calls": [
            {"name": c.name, "arguments": c.arguments, "ok": c.ok, "denied": c.denied}
            for c in result.tool_calls
        ],
        "permission_denials": sum(1 for c in result.tool_calls if c.denied),
        "duration_ms": round(result.duration_ms, 1),
        "error": result.error,
    }


def failure_json(error: str, exit_code: int) -> dict[str, Any]:
    """The ``--output-format json`` object of a run that failed before it could end
    normally (bad usage, a missing key, an internal error): the same keys as
    ``result_json``, empty where nothing happened."""
    return {
        "is_error": True,
        "exit_code": exit_code,
        "session_id": None,
        "result": "",
        "stop_reason": "error",
        "turns": 0,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "cost_usd": None,
        "tool_calls": [],
        "permission_denials": 0,
        "duration_ms": 0.0,
        "error": error,
    }
