"""``PromptInput``: the multi-line prompt, with history and completion.

Enter sends; Shift+Enter or Ctrl+J inserts a newline; Ctrl+D on an empty
prompt asks to quit (elsewhere it deletes the character to the right). Up on the first line and
Down on the last line walk the prompt history. While the completion menu is
open, Up/Down move in it, Tab accepts, Enter accepts (or runs a complete slash
command), Esc closes it. The prompt only posts messages (``Submitted``,
``FilesWanted``); the screen decides what a submission does.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual import events
from textual.message import Message
from textual.widgets import TextArea

from tau_tui.slash_commands import COMMANDS, SlashCommand
from tau_tui.widgets.completion import CompletionMenu, Suggestion, suggest
from tau_tui.widgets.prompt_history import PromptHistory

PLACEHOLDER = "Ask tau… (Enter to send, Shift+Enter for a newline, / for commands, @ for files)"


class PromptInput(TextArea):
    """Where the user types prompts and slash commands."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
        margin: 0 1;
        border: round $primary 40%;
        background: $surface;
    }
    PromptInput:focus {
        border: round $primary;
    }
    """

    class Submitted(Message):
        """The user pressed Enter on a non-empty prompt."""

        def __init__(self, prompt: PromptInput, text: str) -> None:
            super().__init__()
            self.prompt = prompt
            self.text = text

    class FilesWanted(Message):
        """An ``@`` mention began and the workspace's file list is not loaded yet."""

    class EndOfInput(Message):
        """Ctrl+D on an empty prompt: the user is done (as in a shell)."""

    def __init__(
        self,
        *,
        history: PromptHistory,
        commands: Sequence[SlashCommand] = COMMANDS,
        id: str | None = None,
    ) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            compact=False,
            highlight_cursor_line=False,
            placeholder=PLACEHOLDER,
        )
        self.prompt_history = history
        self.commands = commands
        self.menu: CompletionMenu | None = None
        self.files: Sequence[str] | None = None
        self._history_index: int | None = None
        self._draft = ""
        self._quiet_text: str | None = None  # text set by history: no completion for it

    # -- keys --------------------------------------------------------------------
    async def _on_key(self, event: events.Key) -> None:
        if self._handle_key(event.key):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def _handle_key(self, key: str) -> bool:
        menu = self.menu
        if menu is not None and key in ("tab", "enter"):
            # Keys can arrive faster than the Changed messages that update the menu.
            self.refresh_completion()
        if menu is not None and menu.is_open:
            selected = menu.selected
            if key in ("up", "down"):
                menu.move(-1 if key == "up" else 1)
                return True
            if key == "escape":
                menu.close()
                return True
            if key == "tab" and selected is not None:
                self.accept(selected)
                return True
            if key == "enter" and selected is not None:
                complete = selected.command and self.text.strip() == selected.insert
                if not complete:
                    self.accept(selected)
                    return True
                menu.close()
        if key == "enter":
            self.submit()
            return True
        if key == "ctrl+d" and not self.text:
            self.post_message(self.EndOfInput())
            return True
        if key in ("shift+enter", "ctrl+j"):
            self.insert("\n")
            return True
        row, _ = self.cursor_location
        if key == "up" and row == 0 and self.prompt_history.entries:
            self.history_step(-1)
            return True
        if (
            key == "down"
            and row == self.document.line_count - 1
            and self._history_index is not None
        ):
            self.history_step(1)
            return True
        return False

    # -- actions -------------------------------------------------------------------
    def submit(self) -> None:
        """Send the prompt (if not blank) and clear the input."""
        text = self.text
        if not text.strip():
            return
        self.prompt_history.add(text)
        self._history_index = None
        self._draft = ""
        self._set_text_quietly("")
        if self.menu is not None:
            self.menu.close()
        self.post_message(self.Submitted(self, text))

    def history_step(self, step: int) -> None:
        """Show the previous (-1) or next (+1) prompt of the history."""
        entries = self.prompt_history.entries
        if self._history_index is None:
            if step > 0:
                return
            self._draft = self.text
            index = len(entries) - 1
        else:
            index = self._history_index + step
        if index < 0:
            return
        if index >= len(entries):
            self._history_index = None
            self._set_text_quietly(self._draft)
            return
        self._history_index = index
        self._set_text_quietly(entries[index])

    def _set_text_quietly(self, text: str) -> None:
        self._quiet_text = text
        self.load_text(text)
        self.move_cursor(self.document.end)
        if self.menu is not None:
            self.menu.close()

    def accept(self, suggestion: Suggestion) -> None:
        """Put a suggestion in place of the word being completed."""
        row, _ = self.cursor_location
        self.replace(suggestion.insert, (row, suggestion.start), (row, suggestion.end))
        self.move_cursor((row, suggestion.start + len(suggestion.insert)))
        if not suggestion.folder and self.menu is not None:
            self.menu.close()
            self._quiet_text = self.text

    # -- completion -----------------------------------------------------------------
    def refresh_completion(self) -> None:
        """Recompute suggestions for the word at the cursor."""
        if self.menu is None:
            return
        if self._quiet_text is not None and self.text == self._quiet_text:
            self.menu.close()
            return
        self._quiet_text = None
        row, column = self.cursor_location
        before = self.document.get_line(row)[:column]
        if row > 0 and before.startswith("/"):
            before = " " + before  # slash commands only complete on the first line
        if "@" in before and self.files is None:
            self.post_message(self.FilesWanted())
        self.menu.show(suggest(before, self.commands, self.files or ()))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self.refresh_completion()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        if self.menu is not None and self.menu.is_open:
            self.refresh_completion()
