"""Completion of slash commands and ``@path`` mentions in the prompt.

``suggest`` is pure: given the prompt's text before the cursor, the commands
and the workspace's files, it returns what may replace the word being typed.
``CompletionMenu`` shows the suggestions above the prompt; the prompt drives it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

if TYPE_CHECKING:
    from tau_tui.slash_commands import SlashCommand


MAX_SUGGESTIONS = 12


@dataclass(frozen=True)
class Suggestion:
    """Replace ``[start, end)`` of the cursor's line with ``insert``."""

    start: int
    end: int
    insert: str
    label: str
    help: str = ""
    command: bool = False  # a slash command name (Enter on a complete one runs it)
    folder: bool = False  # a directory: accepting it keeps completing inside it


def suggest(
    before_cursor: str, commands: Sequence[SlashCommand], files: Sequence[str]
) -> list[Suggestion]:
    """Suggestions for the word that ends at the cursor (the line up to the cursor)."""
    if before_cursor.startswith("/") and " " not in before_cursor:
        typed = before_cursor[1:].lower()
        return [
            Suggestion(0, len(before_cursor), f"/{c.name}", c.usage, c.help, command=True)
            for c in commands
            if c.name.startswith(typed)
        ]
    word_start = max(before_cursor.rfind(" "), before_cursor.rfind("\t")) + 1
    word = before_cursor[word_start:]
    if not word.startswith("@"):
        return []
    return _path_suggestions(word[1:], word_start, len(before_cursor), files)


def _path_suggestions(typed: str, start: int, end: int, files: Sequence[str]) -> list[Suggestion]:
    lowered = typed.lower()
    folders: dict[str, None] = {}
    prefix_hits: list[str] = []
    other_hits: list[str] = []
    for path in files:
        low = path.lower()
        if low.startswith(lowered):
            # Offer the next folder level first, so deep trees stay navigable.
            rest = path[len(typed) :]
            slash = rest.find("/")
            if slash >= 0:
                folders.setdefault(path[: len(typed) + slash + 1], None)
            else:
                prefix_hits.append(path)
        elif lowered and lowered in low:
            other_hits.append(path)
    out = [
        Suggestion(start, end, f"@{folder}", folder, "folder", folder=True) for folder in folders
    ]
    out += [Suggestion(start, end, f"@{path} ", path, "file") for path in prefix_hits + other_hits]
    return out[:MAX_SUGGESTIONS]


class CompletionMenu(OptionList, can_focus=False):
    """The list of suggestions shown above the prompt while completing."""

    DEFAULT_CSS = """
    CompletionMenu {
        display: none;
        height: auto;
        max-height: 12;
        margin: 0 1;
        border: none;
        background: $panel;
    }
    CompletionMenu.-open { display: block; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.suggestions: list[Suggestion] = []

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def show(self, suggestions: list[Suggestion]) -> None:
        """Show these suggestions (an empty list closes the menu)."""
        if suggestions == self.suggestions and self.is_open == bool(suggestions):
            return
        self.suggestions = suggestions
        self.clear_options()
        if not suggestions:
            self.remove_class("-open")
            return
        options = []
        width = max(len(s.label) for s in suggestions)
        for s in suggestions:
            label = Content.assemble(
                (s.label.ljust(width), "bold" if s.command else ""),
                ("  " + s.help, "$text-muted") if s.help else "",
            )
            options.append(Option(label))
        self.add_options(options)
        self.highlighted = 0
        self.add_class("-open")

    def close(self) -> None:
        self.show([])

    def move(self, step: int) -> None:
        """Move the highlight up or down, wrapping around."""
        if not self.suggestions:
            return
        current = self.highlighted or 0
        self.highlighted = (current + step) % len(self.suggestions)

    @property
    def selected(self) -> Suggestion | None:
        if not self.is_open or self.highlighted is None:
            return None
        if 0 <= self.highlighted < len(self.suggestions):
            return self.suggestions[self.highlighted]
        return None
