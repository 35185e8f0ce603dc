"""The transcript's widgets, one per entry, each rebuilt from its entry alone."""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.widgets.entries import AssistantEntry, Entry, NoticeEntry, ToolEntry, UserEntry
from tau_tui.widgets.markdown_view import MarkdownView
from tau_tui.widgets.mission_card import MissionCard
from tau_tui.widgets.mission_entry import MissionEntry
from tau_tui.widgets.tool_card import ToolCard

THINKING_PREVIEW_CHARS = 160


class UserMessage(Static):
    """A prompt the user sent, shown verbatim (never as Markdown)."""

    DEFAULT_CSS = """
    UserMessage {
        width: 1fr;
        padding: 0 1;
        margin: 1 0 0 0;
        background: $boost;
        color: $user-prompt;
    }
    """

    def __init__(self, entry: UserEntry) -> None:
        super().__init__(self._content(entry), id=f"entry-{entry.uid}")
        self.entry = entry

    @staticmethod
    def _content(entry: UserEntry) -> Content:
        parts: list[Content | tuple[str, str] | str] = [
            ("› ", "bold"),
            strip_terminal_controls(entry.text),
        ]
        for path in entry.attachments:
            parts += ["\n  ", (f"↳ {path}", "$text-muted")]
        return Content.assemble(*parts)

    def update_entry(self) -> None:
        self.update(self._content(self.entry))


class AssistantMessage(MarkdownView):
    """An answer of the model, streamed into a ``MarkdownView``."""

    DEFAULT_CSS = """
    AssistantMessage {
        padding: 0 1;
        margin: 1 0 0 0;
    }
    """

    def __init__(self, entry: AssistantEntry) -> None:
        super().__init__(entry.text, id=f"entry-{entry.uid}")
        self.entry = entry
        if not entry.streaming:
            self.finish()
        self._sync_frame()

    def append_text(self, text: str) -> None:
        """Show more streamed text (the entry already holds it)."""
        self.append(text)

    def update_entry(self) -> None:
        """Re-sync after the entry's state changed (finished, interrupted, thinking)."""
        if not self.entry.streaming and not self._finished:
            self.finish()
        self._sync_frame()

    def _sync_frame(self) -> None:
        entry = self.entry
        header = None
        if entry.thinking:
            if entry.streaming and not entry.text:
                preview = " ".join(strip_terminal_controls(entry.thinking).split())[
                    -THINKING_PREVIEW_CHARS:
                ]
                header = Content.styled(f"✻ {preview}", "$text-muted italic")
            else:
                words = len(entry.thinking.split())
                header = Content.styled(f"✻ thought for {words} words", "$text-muted italic")
        footer = None
        if entry.interrupted:
            footer = Content.styled("■ interrupted", "$text-warning")
        elif entry.incomplete:
            footer = Content.styled("⚠ the answer was cut off", "$text-error")
        if header != self._header:
            self.set_header(header)
        if footer != self._footer:
            self.set_footer(footer)


NOTICE_ICONS = {"info": "•", "warning": "⚠", "error": "✗"}


class NoticeLine(Static):
    """A notice: a retry, a fallback, help text, a command's result, an error."""

    DEFAULT_CSS = """
    NoticeLine {
        width: 1fr;
        padding: 0 1;
        color: $notice;
    }
    NoticeLine.-warning { color: $text-warning; }
    NoticeLine.-error { color: $text-error; }
    """

    def __init__(self, entry: NoticeEntry) -> None:
        super().__init__(self._content(entry), id=f"entry-{entry.uid}", classes=f"-{entry.level}")
        self.entry = entry

    @staticmethod
    def _content(entry: NoticeEntry) -> Content:
        # Notices quote servers and tools (error bodies): untrusted text.
        return Content.assemble(
            (NOTICE_ICONS[entry.level] + " ", "bold"), strip_terminal_controls(entry.message)
        )

    def update_entry(self) -> None:
        self.update(self._content(self.entry))


EntryWidget = UserMessage | AssistantMessage | ToolCard | NoticeLine | MissionCard


def widget_for(entry: Entry) -> EntryWidget:
    """A fresh widget showing ``entry``."""
    if isinstance(entry, UserEntry):
        return UserMessage(entry)
    if isinstance(entry, AssistantEntry):
        return AssistantMessage(entry)
    if isinstance(entry, ToolEntry):
        return ToolCard(entry)
    if isinstance(entry, MissionEntry):
        return MissionCard(entry)
    return NoticeLine(entry)


def is_entry_widget(widget: Widget) -> bool:
    """Whether a child of the transcript shows an entry."""
    return isinstance(widget, UserMessage | AssistantMessage | ToolCard | NoticeLine | MissionCard)
