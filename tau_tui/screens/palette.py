"""The command palette's tau commands (Ctrl+P): every slash command and screen action."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tau_tui.slash_commands import COMMANDS

SCREEN_ACTIONS: tuple[tuple[str, str, str], ...] = (
    ("Interrupt the running turn", "interrupt", "stop the model; the partial answer stays"),
    ("Expand or collapse the last tool call", "toggle_last_tool", "show arguments and output"),
    ("Go to the first message", "jump_start", "show the start of the session"),
    ("Go to the last message", "jump_end", "show the latest output and follow it"),
    (
        "Open the operator shell",
        "operator_shell",
        "sessions, jobs, missions, memory, providers and audit of this workspace (F2)",
    ),
)


class TauCommands(Provider):
    """Slash commands and agent-screen actions for Textual's command palette."""

    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        from tau_tui.screens.agent import AgentScreen

        screen = next(
            (s for s in reversed(self.app.screen_stack) if isinstance(s, AgentScreen)), None
        )
        if screen is None:
            return []
        found: list[tuple[str, Callable[[], object], str]] = [
            (f"/{c.name}", partial(screen.run_command_line, f"/{c.name}"), c.help) for c in COMMANDS
        ]
        found += [
            (title, partial(screen.run_action, action), help_text)
            for title, action, help_text in SCREEN_ACTIONS
        ]
        return found

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = max(matcher.match(name), matcher.match(help_text) * 0.5)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
