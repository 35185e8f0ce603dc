"""The command table's shape: a command, what it is given, what it may offer to pick
from, and the table that parses a ``/name args`` line and runs it.

This module imports only the standard library (the app reads the table for its
completion before its first frame); handlers import what they use when run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tau_engine.engine import Engine
    from tau_engine.session_control import SessionControl


@dataclass(frozen=True, slots=True)
class CommandInput:
    """What a command is given: the text after its name, and the session to act on
    instead of the current one (``tau sessions undo ID``, an RPC request)."""

    text: str = ""
    session: str | None = None


@dataclass
class CommandContext:
    """What a command runs against. ``engine`` is None where only sessions are open
    (``tau sessions``); the commands that need a model then refuse."""

    sessions: SessionControl
    table: CommandTable
    engine: Engine | None = None

    @classmethod
    def of(cls, engine: Engine, table: CommandTable) -> CommandContext:
        return cls(sessions=engine.sessions, table=table, engine=engine)

    def need_engine(self, name: str) -> Engine:
        """The engine, or ``UsageError`` naming the command that needs it."""
        if self.engine is None:
            from tau_engine.errors import UsageError

            raise UsageError(f"/{name} needs a running engine (start tau in the workspace)")
        return self.engine


@dataclass(frozen=True, slots=True)
class Choice:
    """One thing a front end may offer to pick: its value, label and a detail line."""

    value: str
    label: str
    detail: str = ""


@dataclass(frozen=True)
class ChoiceList:
    """What a command offers to pick from when its argument is left out (``/model``):
    a front end that can ask shows it, then runs the command with the choice."""

    title: str
    choices: list[Choice]
    current: str | None = None
    filterable: bool = True
    note: str = ""


Handler = Callable[[CommandContext, CommandInput], Awaitable[Any]]
ChoicesSource = Callable[[CommandContext], Awaitable[ChoiceList]]


@dataclass(frozen=True)
class Command:
    """One command, e.g. ``/model [ID]``. ``run`` does it through the engine and returns
    its result as data (``results.py``); None: a front end does it itself (the app's
    ``/theme``). ``choices``: what to pick from when ``args`` are left out."""

    name: str
    help: str
    args: str = ""
    run: Handler | None = field(default=None, repr=False, compare=False)
    choices: ChoicesSource | None = field(default=None, repr=False, compare=False)

    @property
    def usage(self) -> str:
        return f"/{self.name} {self.args}".rstrip()


class CommandTable:
    """Commands by name, in the order ``/help`` lists them."""

    def __init__(self, commands: Iterable[Command]) -> None:
        self.commands: tuple[Command, ...] = tuple(commands)
        self._by_name = {command.name: command for command in self.commands}

    def __iter__(self) -> Iterator[Command]:
        return iter(self.commands)

    def __len__(self) -> int:
        return len(self.commands)

    def get(self, name: str) -> Command | None:
        return self._by_name.get(name.lower())

    def with_commands(self, *extra: Command, before: str | None = None) -> CommandTable:
        """This table plus a front end's own commands (inserted before ``before``, else at
        the end); one of the same name replaces the table's."""
        names = {command.name for command in extra}
        kept = [command for command in self.commands if command.name not in names]
        at = next((i for i, c in enumerate(kept) if c.name == before), len(kept))
        return CommandTable([*kept[:at], *extra, *kept[at:]])

    def parse(self, line: str) -> tuple[Command | None, str, CommandInput]:
        """Split ``/name args`` into (the command or None, the name as typed, its input)."""
        body = line.strip().removeprefix("/")
        name, _, rest = body.partition(" ")
        return self.get(name), name, CommandInput(rest.strip())

    def lookup(self, line: str) -> tuple[Command, CommandInput]:
        """The command of a line, or ``UsageError`` for an unknown one."""
        command, name, given = self.parse(line)
        if command is None:
            from tau_engine.errors import UsageError

            raise UsageError(f"unknown command /{name}; type /help for the list")
        return command, given

    async def run(
        self, ctx: CommandContext, command: Command, given: CommandInput | None = None
    ) -> Any:
        """Run ``command``; its result (``results.py``). Raises ``TauError``."""
        if command.run is None:
            from tau_engine.errors import UsageError

            raise UsageError(f"/{command.name} is not available here")
        return await command.run(ctx, given or CommandInput())

    async def execute(self, ctx: CommandContext, line: str) -> Any:
        """Parse and run one ``/name args`` line."""
        command, given = self.lookup(line)
        return await self.run(ctx, command, given)
