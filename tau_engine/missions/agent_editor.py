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

This wires the loop by hand until the runtime module (the composition root
missions are meant to share with jobs) exists; the wiring follows ``Engine``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tau_engine.agent.loop import AgentLoop, LoopConfig, MessageSink
from tau_engine.agent.prompt import build_system_prompt
from tau_engine.config import Settings
from tau_engine.conversation import Message, Usage
from tau_engine.events import EventBus
from tau_engine.missions.editors import EditRequest, EditResult
from tau_engine.missions.model import Failed, MissionState
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.base import Provider
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import ApprovalMode
from tau_engine.safety.redact import SecretRedactor
from tau_engine.store import SessionStore


class _SessionSink(MessageSink):
    """Messages go to the session; file checkpoints are not needed (the mission
    snapshots the worktree itself)."""

    def __init__(self, store: SessionStore, session_id: str) -> None:
        self.store = store
        self.session_id = session_id

    async def append(self, message: Message, *, usage: Usage | None = None,
                     cost_usd: float | None = None, model: str | None = None) -> str:
        stored = await self.store.append(self.session_id, message, usage=usage,
                                         cost_usd=cost_usd, model=model)
        return stored.id

    async def append_many(self, messages: Sequence[Message]) -> list[str]:
        stored = await self.store.append_many(self.session_id, list(messages))
        return [m.id for m in stored]

    async def checkpoint(self, turn_message_id: str, path: Path) -> None:
        return None


class AgentEditor:
    """Runs the agent loop in the worktree for each attempt."""

    authority = "provider"
    repairable = True

    def __init__(self, *, model_id: str, settings: Settings, environ: Mapping[str, str],
                 repo: Path) -> None:
        """``environ`` is the environment providers see (``.env`` merged by trust)."""
        from tau_engine.providers.registry import provider_key_values

        self.model_id = model_id
        self.settings = settings
        self.environ = dict(environ)
        self.repo = repo
        self.redactor = SecretRedactor(provider_key_values(settings, self.environ))
        self._provider: Provider | None = None
        self._resolved: Any = None
        self._store: SessionStore | None = None

    @classmethod
    def for_mission(cls, state: MissionState, environ: Mapping[str, str]) -> AgentEditor:
        from tau_engine.missions.environment import mission_settings, provider_environ

        repo = Path(state.inputs.repo)
        settings = mission_settings(repo, environ)
        assert state.inputs.model is not None
        return cls(model_id=state.inputs.model, settings=settings,
                   environ=provider_environ(repo, environ, settings), repo=repo)

    async def _open(self) -> tuple[Provider, SessionStore]:
        if self._provider is None:
            from tau_engine.providers.redacting import RedactingProvider
            from tau_engine.providers.registry import create_routed_provider, resolve_model

            self._resolved = resolve_model(self.model_id, self.settings, self.environ,
                                           self.repo)
            self._provider = RedactingProvider(create_routed_provider(
                self._resolved, self.settings, self.environ, self.repo), self.redactor)
        if self._store is None:
            self._store = await asyncio.to_thread(SessionStore.open,
                                                  WorkspacePaths(self.repo))
        return self._provider, self._store

    async def edit(self, request: EditRequest) -> EditResult:
        from tau_engine.engine_safety import attach_safety, build_pipeline
        from tau_engine.providers.catalog import cost_usd
        from tau_engine.providers.registry import request_options

        provider, store = await self._open()
        resolved = self._resolved
        session = await store.create_session(
            model=resolved.model_id, title=f"mission {request.mission_id} attempt "
            f"{request.attempt}", meta={"mission": request.mission_id,
                                        "mission_attempt": request.attempt})
        bus = EventBus(session.id, 0)
        settings = self.settings
        safety = await asyncio.to_thread(
            SafetyLayer.open, request.worktree, mode=ApprovalMode.AUTO_EDIT,
            safety=settings.safety, workspace_trusted=settings.workspace_trusted,
            protected_paths=settings.protected_paths, secrets=self.redactor.pairs,
            state_dir=WorkspacePaths(self.repo).state_dir)
        attach_safety(bus, safety)
        safety.begin_run(session.id)
        writer = store.event_writer(session.id)
        bus.subscribe(writer.write, first=True)
        config = LoopConfig(
            model_id=resolved.model_id, max_turns=settings.max_turns,
            max_cost=request.max_cost, max_tokens=request.max_tokens,
            max_output_tokens=settings.max_output_tokens, temperature=settings.temperature,
            context_window=resolved.context_window,
            request_options=request_options(resolved, settings))
        loop = AgentLoop(
            bus=bus, stream=provider.stream,
            pipeline=build_pipeline(request.worktree, settings, safety, bus, None,
                                    self.redactor),
            sink=_SessionSink(store, session.id),
            system_prompt=safety.redaction.redact(build_system_prompt(request.worktree)),
            config=config,
            cost=lambda usage: cost_usd(resolved.info, usage), history=[],
            session_id=session.id)
        try:
            prompt = self.redactor.redact(request.context)
            if request.deadline_s is not None:
                result = await asyncio.wait_for(loop.run(prompt), max(request.deadline_s, 0.001))
            else:
                result = await loop.run(prompt)
        except TimeoutError:
            return self._spent(loop, session.id, failure=Failed.BUDGET_TIME,
                               error="the time budget ran out while the model was editing")
        finally:
            await safety.aflush_audit()
            await asyncio.to_thread(writer.close)
        if result.stop_reason == "budget":
            kind = Failed.BUDGET_COST if "cost" in (result.error or "") else \
                Failed.BUDGET_TOKENS
            return self._spent(loop, session.id, failure=kind, error=result.error)
        if result.stop_reason in ("error", "interrupted"):
            return self._spent(loop, session.id, failure=Failed.EDITOR_ERROR,
                               error=result.error or result.stop_reason)
        summary = " ".join(result.result.split())[:300]
        return self._spent(loop, session.id, summary=summary)

    def _spent(self, loop: AgentLoop, session_id: str, *, summary: str = "",
               failure: Failed | None = None, error: str | None = None) -> EditResult:
        usage = loop.run_usage
        return EditResult(summary=summary, input_tokens=usage.input_tokens,
                          output_tokens=usage.output_tokens, cost_usd=loop.run_cost,
                          failure=failure, error=error, session_id=session_id)

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()
            self._provider = None
        if self._store is not None:
            self._store.close()
            self._store = None
