"""``--output-format text``: the answer on stdout, tool calls and notices on stderr."""

from __future__ import annotations

from typing import IO, assert_never

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
from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.headless.activity import ActivityLines


class TextRenderer(ActivityLines):
    """The answer as it streams, for people and ``tau -p ... > answer.txt``; also the
    line REPL's and scripted sessions' printer."""

    def __init__(self, out: IO[str], err: IO[str], *, color: bool) -> None:
        super().__init__(out, err, color=color)
        self._text_open = False  # the answer's last line has no newline yet

    def render(self, event: Event) -> None:
        match event:
            case TextDelta(text=text):
                text = strip_terminal_controls(text)
                self.out.write(text)
                if text:
                    self._text_open = not text.endswith("\n")
                if self.flush_each:
                    self.out.flush()
            case TurnFinished():
                self.before_line()
            case ToolCallEvent() | ToolResultEvent() | Notice() | ErrorEvent():
                self.activity(event)
            case (
                SessionStarted()
                | SessionFinished()
                | RunStarted()
                | UserMessage()
                | TurnStarted()
                | ThinkingDelta()
                | ApprovalNeeded()
                | ToolOutputDelta()
                | UsageEvent()
                | RunFinished()
                | MissionPhaseEvent()
            ):
                pass  # not shown: the prompt was typed here, thinking and live output stay
            case _:
                assert_never(event)

    def before_line(self) -> None:
        """End the answer's open line, so a stderr line does not land inside it."""
        if self._text_open:
            self.out.write("\n")
            self.out.flush()
            self._text_open = False

    def write_end(self, result: object, exit_code: int | None) -> None:
        self.before_line()
