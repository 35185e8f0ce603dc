"""The edit step of a mission, behind one interface: a patch now, a model next.

The runner hands an ``Editor`` the worktree and what to do (``EditRequest``)
and gets back what it spent and said (``EditResult``). Which files changed is
not the editor's word: the runner compares snapshots of the worktree taken
before and after, so the commit holds exactly what the edit step changed.

- ``PatchEditor`` applies the supplied patch with the ``edit_many`` tool: all
  or nothing, in the worktree only. It cannot repair (the patch is fixed), so a
  patch mission has one attempt.
- ``AgentEditor`` (``agent_editor.py``) runs the agent loop in the worktree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from tau_engine.errors import TauError
from tau_engine.missions.model import Failed
from tau_engine.missions.patch_input import parse_patch_text


@dataclass
class EditRequest:
    """One edit attempt: where, what, and what is left of the budget."""

    worktree: Path
    mission_id: str
    task: str
    attempt: int
    context: str  # the first context or the repair context, as sent
    max_tokens: int | None = None  # what is left of the mission's budgets
    max_cost: float | None = None
    deadline_s: float | None = None


@dataclass
class EditResult:
    """What an attempt spent and said. ``failure`` set: the edit could not be made."""

    summary: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = 0.0
    failure: Failed | None = None
    error: str | None = None
    session_id: str | None = None


class Editor(Protocol):
    """Makes one attempt's changes in the worktree."""

    authority: str
    repairable: bool  # whether a second attempt can do anything different

    async def edit(self, request: EditRequest) -> EditResult:
        """Change files in ``request.worktree``; never commits."""
        ...

    async def aclose(self) -> None: ...


class PatchEditor:
    """Applies the mission's patch, all or nothing."""

    authority = "patch"
    repairable = False

    def __init__(self, patch_text: str) -> None:
        self.patch = parse_patch_text(patch_text)

    async def edit(self, request: EditRequest) -> EditResult:
        from tau_engine.safety.workspace import WorkspaceGuard
        from tau_engine.tools.base import ToolContext
        from tau_engine.tools.edit_many import EditManyTool

        tool = EditManyTool()
        ctx = ToolContext(workspace=request.worktree, guard=WorkspaceGuard(request.worktree))
        try:
            args = tool.parse_args(self.patch.arguments)
            outcome = await tool.run(args, ctx)
        except TauError as exc:
            return EditResult(failure=Failed.PATCH_DOES_NOT_APPLY, error=str(exc))
        return EditResult(summary="applied the patch to " + ", ".join(outcome.paths))

    async def aclose(self) -> None:
        return None
