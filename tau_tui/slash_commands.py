"""The app's slash commands: the engine's command table (``tau_engine.commands``)
plus ``/theme``, the one command that is the app's own.

The prompt's completion, ``/help``, the command palette and the command runner
all read this table.
"""

from __future__ import annotations

from tau_engine.commands import COMMANDS as ENGINE_COMMANDS
from tau_engine.commands import Command, CommandTable

SlashCommand = Command  # what the prompt's completion and the palette list

THEME = Command("theme", "switch theme (remembered); without a name, pick one", "[NAME]")

APP_COMMANDS: CommandTable = ENGINE_COMMANDS.with_commands(THEME, before="clear")

COMMANDS: tuple[Command, ...] = APP_COMMANDS.commands
