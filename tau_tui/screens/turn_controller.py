"""``TurnController``: keeps the transcript in step with the running prompt's events.

It owns the live state of a run (the answer being streamed, the tool calls in
flight) and turns each bridge message into a change of transcript entries.
It holds no engine and does no I/O: the screen feeds it messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tau_tui.widgets.entries import AssistantEntry, NoticeEntry, ToolEntry, UserEntry
from tau_tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from tau_engine.events import (
        ApprovalNeeded,
        ErrorEvent,
        Notice,
        RunFinished,
        ToolCallEvent,
        ToolOutputDelta,
        ToolResultEvent,
    )

# A running call's live output kept in its entry: the card shows only its tail, and
# the result replaces it when the call ends.
LIVE_OUTPUT_MAX_CHARS = 20_000
NOTICE_LEVELS = {
    "retry": "warning",
    "fallback": "warning",
    "max_tokens": "warning",
    "interrupted": "warning",
    "mention": "warning",
    # The notices of opening the engine (trust, the session, the model).
    "trust": "warning",
    "session": "warning",
    "model": "warning",
}


class TurnController:
    """Maps one run's events onto transcript entries."""

    def __init__(self, transcript: Transcript) -> None:
        self.transcript = transcript
        self.live: AssistantEntry | None = None
        self.tools: dict[str, ToolEntry] = {}
        self.last_answer: AssistantEntry | None = None

    # -- the user's side ---------------------------------------------------------
    def prompt_sent(self, text: str) -> UserEntry:
        """Show the user's prompt as a new turn begins."""
        self.last_answer = None
        entry = UserEntry(text)
        self.transcript.add(entry)
        return entry

    def notice(self, message: str, level: str = "info", kind: str = "info") -> NoticeEntry:
        """Show a line that is not part of the conversation."""
        entry = NoticeEntry(message, kind=kind, level=level)  # type: ignore[arg-type]
        self.transcript.add(entry)
        return entry

    # -- engine events ---------------------------------------------------------------
    def turn_started(self) -> None:
        """A new model turn: an interruption from now on belongs to it."""
        self.finish_answer()
        self.last_answer = None

    def text(self, text: str, thinking: bool = False) -> None:
        """Streamed answer or thinking text (already coalesced by the bridge)."""
        live = self.live
        if live is None:
            live = self.live = AssistantEntry(streaming=True)
            self.transcript.add(live)
        if thinking:
            live.thinking += text
            self.transcript.refresh_entry(live)
        else:
            first = not live.text
            live.text += text
            self.transcript.append_text(live, text)
            if first and live.thinking:
                self.transcript.refresh_entry(live)

    def finish_answer(self) -> None:
        """The current answer is complete (a tool call or the turn's end follows)."""
        live = self.live
        if live is None:
            return
        live.streaming = False
        self.transcript.refresh_entry(live)
        self.last_answer = live
        self.live = None

    def tool_called(self, event: ToolCallEvent) -> None:
        self.finish_answer()
        entry = ToolEntry(call_id=event.call_id, name=event.name, arguments=dict(event.arguments))
        self.tools[event.call_id] = entry
        self.transcript.add(entry)

    def approval_needed(self, event: ApprovalNeeded) -> None:
        entry = self.tools.get(event.call_id)
        if entry is not None:
            entry.status = "waiting"
            self.transcript.refresh_entry(entry)

    def tool_output(self, event: ToolOutputDelta) -> None:
        """A running call printed more: its card shows the tail as it grows."""
        entry = self.tools.get(event.call_id)
        if entry is None:
            return
        text = event.text
        if event.skipped:
            newline = "" if not entry.output or entry.output.endswith("\n") else "\n"
            text = f"{newline}[… {event.skipped:,} characters not shown …]\n{text}"
        entry.output = (entry.output + text)[-LIVE_OUTPUT_MAX_CHARS:]
        self.transcript.refresh_entry(entry)

    def tool_finished(self, event: ToolResultEvent) -> None:
        entry = self.tools.pop(event.call_id, None)
        if entry is None:
            entry = ToolEntry(call_id=event.call_id, name=event.name)
            self.transcript.add(entry)
        entry.status = "denied" if event.denied else ("ok" if event.ok else "error")
        entry.output = event.output
        entry.diff = event.diff
        entry.duration_ms = event.duration_ms
        self.transcript.refresh_entry(entry)

    def engine_notice(self, event: Notice) -> None:
        if event.kind == "interrupted":
            self._interrupted()
            return
        level = NOTICE_LEVELS.get(event.kind, "info")
        self.notice(event.message, level=level, kind=event.kind)

    def error(self, event: ErrorEvent) -> None:
        if self.live is not None:
            self.live.incomplete = True
        self.finish_answer()
        self.notice(event.message, level="error" if event.fatal else "warning", kind=event.kind)

    def run_finished(self, event: RunFinished) -> None:
        """The run is over: settle every entry that was still in flight."""
        if event.stop_reason == "interrupted":
            self._interrupted()
        self.finish_answer()
        for entry in self.tools.values():
            entry.status = "interrupted"
            self.transcript.refresh_entry(entry)
        self.tools.clear()

    def _interrupted(self) -> None:
        target = self.live
        if target is None and self.tools:
            for entry in self.tools.values():
                entry.status = "interrupted"
                self.transcript.refresh_entry(entry)
            self.tools.clear()
            return
        if target is None:
            target = self.last_answer
        if target is None:
            if not any(
                isinstance(e, NoticeEntry) and e.kind == "interrupted"
                for e in self.transcript.entries[-1:]
            ):
                self.notice("■ interrupted", level="warning", kind="interrupted")
            return
        target.interrupted = True
        self.transcript.refresh_entry(target)
        self.finish_answer()
