"""Provider authority: a model edits the worktree through the agent loop.

Each attempt is one agent run in its own session (stored in the repository's
``.tau/tau.db``, so ``tau sessions show`` replays it), with the worktree as the
workspace and the ``auto-edit`` approval mode, through the same tool pipeline
and safety layer as any run (the repository's safety profile, bash in the
sandbox, the redaction funnel, the audit log in the repository's ``.tau``): the
model may read and edit files there, while what would ask is denied (no one is
there to answer). It cannot commit or push; tau commits once the
verifier passes. The prompt is the mission context (the task and the RED
output, or the repair context); the mission's remaining token and cost budgets
bound the run, and its remaining wall time is a deadline. As in every run, the
user's provider keys are redacted from tool results, the prompt and what reaches
the provider.

The loop is wired by the runtime (``runtime.py``), the composition root the
engine uses too, with the worktree as the tools' workspace and the repository's
store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path

from tau_engine.agent.loop import AgentLoop
from tau_engine.config import Settings
from tau_engine.engine_safety import attach_safety
from tau_engine.events import EventBus
from tau_engine.missions.editors import EditRequest, EditResult
from tau_engine.missions.model import Failed, MissionState
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.approval import ApprovalMode
from tau_engine.runtime import AgentRuntime, Budget, LoopSpec


class AgentEditor:
    """Runs the agent loop in the worktree for each attempt."""

    authority = "provider"
    repairable = True

    def __init__(
        self, *, model_id: str, settings: Settings, environ: Mapping[str, str], repo: Path
    ) -> None:
        """``environ`` is the real environment; the repository's ``.env`` is added to it
        by the repository's trust."""
        self.model_id = model_id
        self.settings = settings
        self.environ = dict(environ)
        self.repo = repo
        self._runtime: AgentRuntime | None = None

    @classmethod
    def for_mission(cls, state: MissionState, environ: Mapping[str, str]) -> AgentEditor:
        from tau_engine.missions.environment import mission_settings

        repo = Path(state.inputs.repo)
        settings = mission_settings(repo, environ)
        assert state.inputs.model is not None
        return cls(model_id=state.inputs.model, settings=settings, environ=environ, repo=repo)

    async def _open(self) -> AgentRuntime:
        if self._runtime is None:
            runtime = await AgentRuntime.open(
                WorkspacePaths(self.repo), self.settings, environ=self.environ
            )
            try:
                runtime.models.select(self.model_id)
            except BaseException:
                await runtime.aclose()
                raise
            self._runtime = runtime
        return self._runtime

    async def edit(self, request: EditRequest) -> EditResult:
        runtime = await self._open()
        store = runtime.store
        session = await store.create_session(
            model=runtime.model.model_id,
            title=f"mission {request.mission_id} attempt {request.attempt}",
            meta={"mission": request.mission_id, "mission_attempt": request.attempt},
        )
        bus = EventBus(session.id, 0)
        safety = await asyncio.to_thread(
            runtime.worktree_safety, request.worktree, ApprovalMode.AUTO_EDIT
        )
        attach_safety(bus, safety)
        safety.begin_run(session.id)
        writer = store.event_writer(session.id)
        bus.subscribe(writer.write, first=True)
        built = await runtime.build_loop(
            LoopSpec(
                session_id=session.id,
                bus=bus,
                workspace=request.worktree,
                safety=safety,
                budget=Budget(request.max_cost, request.max_tokens),
                checkpoints=False,
            )
        )
        loop = built.loop
        try:
            prompt = runtime.redactor.redact(request.context)
            if request.deadline_s is not None:
                result = await asyncio.wait_for(loop.run(prompt), max(request.deadline_s, 0.001))
            else:
                result = await loop.run(prompt)
        except TimeoutError:
            return self._spent(
                loop,
                session.id,
                failure=Failed.BUDGET_TIME,
                error="the time budget ran out while the model was editing",
            )
        finally:
            await safety.aflush_audit()
            await asyncio.to_thread(writer.close)
        if result.stop_reason == "budget":
            kind = Failed.BUDGET_COST if "cost" in (result.error or "") else Failed.BUDGET_TOKENS
            return self._spent(loop, session.id, failure=kind, error=result.error)
        if result.stop_reason in ("error", "interrupted"):
            return self._spent(
                loop,
                session.id,
                failure=Failed.EDITOR_ERROR,
                error=result.error or result.stop_reason,
            )
        summary = " ".join(result.result.split())[:300]
        return self._spent(loop, session.id, summary=summary)

    def _spent(
        self,
        loop: AgentLoop,
        session_id: str,
        *,
        summary: str = "",
        failure: Failed | None = None,
        error: str | None = None,
    ) -> EditResult:
        usage = loop.run_usage
        return EditResult(
            summary=summary,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost_usd=loop.run_cost,
            failure=failure,
            error=error,
            session_id=session_id,
        )

    async def aclose(self) -> None:
        if self._runtime is not None:
            runtime, self._runtime = self._runtime, None
            await runtime.aclose()
