"""Session grants: what "allow for this session" covers, and nothing more.

A grant is scoped. For a tool that runs commands (kind ``exec``) it covers
commands that start with the same leading words as the approved one: the
program, plus the next word when it reads like a subcommand (``git status``,
``npm run``, ``make test``; but just ``pytest`` for ``pytest -q``). For any
other tool it covers that tool by name (``edit``, ``http``).

Prefix matching only means something for one simple command, so it fails
closed: a command with shell syntax that could run or redirect anything else
(``;``, ``&``, ``|``, ``<``, ``>``, ``$``, backticks, parentheses, braces,
newlines) is never covered by a grant, and approving one offers no grant at
all. Nor do programs whose job is to run another command (``sh``, ``env``,
``sudo``, ``xargs``...): a prefix grant for them would be a grant for all of
bash. A real shell parser can later widen what is covered; until then,
anything this module cannot read with confidence asks again.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Shell syntax that can chain, substitute or redirect: a command containing any of
# these is never matched against a prefix grant.
_SHELL_SYNTAX = re.compile(r"[;&|<>$`(){}\n\r\\]")
# A word that reads like a subcommand name: "status", "run", "test:unit".
_SUBCOMMAND = re.compile(r"[a-z][a-z0-9:_-]*")
# Programs that run other commands: granting their prefix would grant everything.
COMMAND_RUNNERS = frozenset({
    "sh", "bash", "zsh", "dash", "ksh", "fish", "csh", "tcsh", "env", "sudo", "doas", "su",
    "xargs", "eval", "exec", "command", "builtin", "nohup", "timeout", "nice", "ionice",
    "time", "watch", "source", ".", "setsid", "stdbuf", "chroot", "unshare", "flock",
    "parallel", "busybox", "script", "strace", "ltrace", "gdb", "run-parts",
})


def command_words(command: object) -> list[str] | None:
    """The words of one simple shell command, or None when it is anything more
    (shell syntax, unbalanced quotes, an environment assignment, empty)."""
    if not isinstance(command, str) or _SHELL_SYNTAX.search(command):
        return None
    try:
        words = shlex.split(command, posix=True)
    except ValueError:
        return None
    if not words or "=" in words[0]:
        return None
    return words


def command_prefix(command: object) -> tuple[str, ...] | None:
    """The leading words a grant for ``command`` covers, or None if it gets no grant."""
    words = command_words(command)
    if words is None or words[0].rsplit("/", 1)[-1] in COMMAND_RUNNERS:
        return None
    if len(words) > 1 and _SUBCOMMAND.fullmatch(words[1]):
        return (words[0], words[1])
    return (words[0],)


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """One "allow for this session" answer: a tool, and for commands a word prefix."""

    tool: str
    prefix: tuple[str, ...] = ()

    def covers(self, tool: str, arguments: Mapping[str, Any] | None) -> bool:
        """Whether a call of ``tool`` with ``arguments`` runs without asking."""
        if tool != self.tool:
            return False
        if not self.prefix:
            return True
        words = command_words((arguments or {}).get("command"))
        return words is not None and tuple(words[:len(self.prefix)]) == self.prefix

    def describe(self) -> str:
        """What the grant covers, in the words a front end shows the user."""
        if self.prefix:
            return f"`{' '.join(self.prefix)} …` commands ({self.tool})"
        return f"every {self.tool} call"


def grant_for(tool: str, kind: str, arguments: Mapping[str, Any] | None) -> SessionGrant | None:
    """The grant that approving this call for the session would give, or None when
    the call can only be allowed once (a command that is not one simple command)."""
    if kind != "exec":
        return SessionGrant(tool)
    prefix = command_prefix((arguments or {}).get("command"))
    return SessionGrant(tool, prefix) if prefix is not None else None


def why_no_grant(arguments: Mapping[str, Any] | None) -> str:
    """Why a command gets no session grant, in a few words for the user."""
    command = (arguments or {}).get("command")
    if isinstance(command, str) and _SHELL_SYNTAX.search(command):
        return "the command uses shell syntax (; & | < > $ ` ( ) { } \\ or a newline)"
    words = command_words(command)
    if words is None:
        if isinstance(command, str) and "=" in command.split(" ", 1)[0]:
            return "the command starts by setting a variable"
        return "the command is not one simple command tau can read"
    return f"{words[0]} runs other commands, so a grant for it would cover everything"
