"""The slash commands: names, argument hints and help, declared once.

The prompt's completion, ``/help``, the command palette and the command runner
all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SlashCommand:
    """One command of the prompt, e.g. ``/model [ID]``."""

    name: str
    help: str
    args: str = ""

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


COMMANDS: tuple[SlashCommand, ...] = (
    SlashCommand("help", "show commands and keys"),
    SlashCommand("model", "switch model; without an id, pick one from the catalog", "[ID]"),
    SlashCommand("session", "show the current session"),
    SlashCommand("sessions", "resume or fork an earlier session"),
    SlashCommand("resume", "resume an earlier session; without an id, pick one", "[ID]"),
    SlashCommand("new", "start a new session"),
    SlashCommand("fork", "branch this session into a new one"),
    SlashCommand("undo", "undo the last turn and restore the files it changed"),
    SlashCommand("redo", "redo the last undone turn"),
    SlashCommand("compact", "summarize older turns to free context"),
    SlashCommand("cost", "show the session's tokens and cost"),
    SlashCommand("approval", "show or set the approval mode", "[MODE]"),
    SlashCommand("memory", "instructions and learned memory, and what this turn was offered",
                 "[approve ID]"),
    SlashCommand("theme", "switch theme (remembered); without a name, pick one", "[NAME]"),
    SlashCommand("clear", "start a fresh context (the old session stays; /resume it)"),
    SlashCommand("clear-risk", "after a prompt-injection flag, let calls follow the rules "
                 "again"),
    SlashCommand("export", "write the session as JSONL", "[FILE]"),
    SlashCommand("quit", "quit tau"),
    SlashCommand("exit", "quit tau"),
)

BY_NAME = {command.name: command for command in COMMANDS}


def parse_command(line: str) -> tuple[SlashCommand | None, str, str]:
    """Split ``/name args`` into (command or None, name, argument string)."""
    body = line.strip()[1:]
    name, _, rest = body.partition(" ")
    return BY_NAME.get(name.lower()), name, rest.strip()
