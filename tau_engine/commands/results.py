"""What each command returns: plain data a front end renders its own way (a notice or
a picker in the app, a line in the REPL, text or JSON from ``tau sessions``) and the
RPC mode will send as is.

Standard library only at import: the types named in annotations are the engine's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tau_engine.commands.table import Command
    from tau_engine.conversation import Usage
    from tau_engine.memory.overview import MemoryOverview
    from tau_engine.missions.model import MissionState
    from tau_engine.protocol.approval import ApprovalMode
    from tau_engine.store import SessionInfo, UndoReport


@dataclass(frozen=True)
class HelpShown:
    """``/help``: the commands of the table the front end runs."""

    commands: tuple[Command, ...]


@dataclass(frozen=True)
class ModelShown:
    """``/model`` with no id, where nothing is picked: the current model."""

    model_id: str


@dataclass(frozen=True)
class ModelChanged:
    """``/model ID``: the model now used, and what the user should be told about it."""

    model_id: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ApprovalShown:
    """``/approval [MODE]``: the mode now in force (``changed``: it was just set)."""

    mode: ApprovalMode
    changed: bool


@dataclass(frozen=True)
class SessionShown:
    """``/session``: the current session (None before the first prompt) and how many of its
    messages are on the current branch (undo moves the head back; the others stay for redo)."""

    session: SessionInfo | None
    on_branch: int = 0


@dataclass(frozen=True)
class SessionsListed:
    """``/sessions``, or ``/resume`` without an id: newest first, to pick from."""

    sessions: list[SessionInfo]
    current_id: str | None


@dataclass(frozen=True)
class SessionResumed:
    """``/resume ID``: the session now current."""

    session: SessionInfo


@dataclass(frozen=True)
class NewSession:
    """``/new`` or ``/clear`` (``cleared``): the next prompt starts a session; the one
    left, if there was one."""

    previous: SessionInfo | None
    cleared: bool = False


@dataclass(frozen=True)
class SessionForked:
    """``/fork``: ``session`` branched from ``source_id`` (current when ``switched``)."""

    source_id: str
    session: SessionInfo
    switched: bool = True


@dataclass(frozen=True)
class TurnsUndone:
    """``/undo`` or ``/redo``: what moved and which files came back."""

    report: UndoReport


@dataclass(frozen=True)
class CompactionDone:
    """``/compact``: the context's size afterwards, or None when nothing was old enough."""

    context_tokens: int | None

    @property
    def message(self) -> str:
        if self.context_tokens is None:
            return "nothing to compact yet: the conversation is shorter than the turns kept"
        return (
            f"compacted the conversation to ~{self.context_tokens:,} tokens; "
            "earlier messages stay in the session"
        )


@dataclass(frozen=True)
class CostShown:
    """``/cost``: the session's tokens and cost (None: no price known)."""

    usage: Usage
    cost_usd: float | None


@dataclass(frozen=True)
class MemoryShown:
    """``/memory``: instructions, learned memory and the last offer."""

    overview: MemoryOverview


@dataclass(frozen=True)
class MemoryApproved:
    """``/memory approve ID``: the entry now offered."""

    entry_id: int


@dataclass(frozen=True)
class SessionExported:
    """``/export [FILE]``: the session written as JSONL."""

    session_id: str
    path: Path
    records: int


@dataclass(frozen=True)
class RiskCleared:
    """``/clear-risk``: how many injection flags were cleared (0: the risk was not raised),
    what had raised it, and the rules calls follow again."""

    cleared: int
    risk: str
    profile: str
    mode: str


@dataclass(frozen=True)
class MissionFinished:
    """``/mission``: the mission's final state (its outcome, or the phase it stopped in),
    its evidence folder, and the commands that would publish it as a draft pull request
    (the ones PR.md lists; empty when there is no PR.md)."""

    state: MissionState
    evidence_dir: Path
    publish_commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuitRequested:
    """``/quit`` or ``/exit``: the front end ends."""


CommandResult = (
    HelpShown
    | ModelShown
    | ModelChanged
    | ApprovalShown
    | SessionShown
    | SessionsListed
    | SessionResumed
    | NewSession
    | SessionForked
    | TurnsUndone
    | CompactionDone
    | CostShown
    | MemoryShown
    | MemoryApproved
    | SessionExported
    | RiskCleared
    | MissionFinished
    | QuitRequested
)
"""Every result a command of the engine's table returns."""
