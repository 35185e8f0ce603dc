"""Tool calls, notices and errors as lines on stderr: shared by ``text`` and ``json``.

One line per tool call when it ends (``tool=edit path=src/x.py ok``, the label
from its ``tool_call`` event), one per notice (``tau: retry: ...``) and one per
error (``tau: error: ...``), each stripped of terminal controls: they quote the
model, tools and servers, which must not drive the terminal.
"""

from __future__ import annotations

from typing import IO

from tau_engine.events import ErrorEvent, Notice, ToolCallEvent, ToolResultEvent
from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.headless.output import HeadlessRenderer

Activity = ToolCallEvent | ToolResultEvent | Notice | ErrorEvent
"""The events these lines are made of."""


class ActivityLines(HeadlessRenderer):
    """The stderr side of a headless run; subclasses add what goes to stdout."""

    def __init__(self, out: IO[str], err: IO[str], *, color: bool) -> None:
        super().__init__(out, err, color=color)
        self._labels: dict[str, str] = {}  # by call id, until the call's result

    def before_line(self) -> None:
        """Called before each stderr line (the text format ends its answer line)."""

    def activity(self, event: Activity) -> None:
        """Write the line of one activity event (a tool call's comes with its result)."""
        match event:
            case ToolCallEvent(call_id=call_id, label=label):
                self._labels[call_id] = strip_terminal_controls(label)
            case ToolResultEvent():
                self.before_line()
                self._line(self._tool_line(event))
            case Notice(kind=kind, message=message):
                self.before_line()
                self._line(self.paint(strip_terminal_controls(f"tau: {kind}: {message}"), "dim"))
            case ErrorEvent(message=message):
                self.before_line()
                self._line(self.paint(strip_terminal_controls(f"tau: error: {message}"), "fail"))

    def _tool_line(self, event: ToolResultEvent) -> str:
        label = self._labels.pop(event.call_id, "")
        if event.denied:
            status = self.paint("denied", "warn")
        elif event.ok:
            status = self.paint("ok", "ok")
        else:
            output = strip_terminal_controls(event.output).strip()
            first = output.splitlines()[0] if output else ""
            status = self.paint("error", "fail") + (f" {first[:120]}" if first else "")
        name = strip_terminal_controls(event.name)
        return " ".join(p for p in (f"tool={name}", label, status) if p)

    def _line(self, line: str) -> None:
        self.err.write(line + "\n")
        self.err.flush()
