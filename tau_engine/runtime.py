"""The composition root: a workspace, its settings and a model wired into an agent loop.

``AgentRuntime`` holds what every agent of one workspace shares: the settings, the
environment (the workspace's ``.env`` merged in by its trust), the redactor of the
user's provider keys, the workspace's safety layer (profile, permission policy and
approval mode, sandbox, redaction funnel, audit; ``engine_safety.py``), the model
selector and the session store. ``build_loop`` wires one session's ``AgentLoop``:
the tool pipeline (the built-in tools plus extras such as learned memory's, acting
in a workspace: the runtime's, or a mission's worktree with its own safety layer,
behind the checks and filters) with its approver, the store as message sink
(through the redaction funnel, with or without file checkpoints), the system
prompt, the history and totals, the budgets, the whole-turn deadline and, when
asked, the compaction policy.

The engine (``engine.py``) builds its loops here, and so does the mission editor
(``missions/agent_editor.py``), without the engine's facade; job workers run
``tau -p``, an engine, in child processes.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tau_engine.agent.loop import AgentLoop
from tau_engine.agent.loop_config import LoopConfig, MessageSink
from tau_engine.config import Settings
from tau_engine.conversation import Message, Usage
from tau_engine.errors import ProviderError
from tau_engine.events import EventBus
from tau_engine.memory.retrieval import TurnRetriever
from tau_engine.model_selector import ModelSelector, RouteEvents, SelectedModel
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.approval import ApprovalMode
from tau_engine.providers.base import ProviderEvent, ProviderRequest
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import Approver
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.redaction import RedactionFilter
from tau_engine.store import SessionStore, open_store
from tau_engine.tools.base import Tool


class StoreSink(MessageSink):
    """The loop's messages go to one session of the store, through the redaction funnel;
    with ``checkpoints``, the files a turn changes are saved first, for undo (a mission
    snapshots its worktree itself and needs none)."""

    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        redaction: RedactionFilter,
        *,
        checkpoints: bool = True,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.redaction = redaction
        self.checkpoints = checkpoints

    async def append(
        self,
        message: Message,
        *,
        usage: Usage | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
    ) -> str:
        from tau_engine.engine_safety import redact_message

        stored = await self.store.append(
            self.session_id,
            redact_message(message, self.redaction),
            usage=usage,
            cost_usd=cost_usd,
            model=model,
        )
        return stored.id

    async def append_many(self, messages: Sequence[Message]) -> list[str]:
        from tau_engine.engine_safety import redact_message

        stored = await self.store.append_many(
            self.session_id, [redact_message(m, self.redaction) for m in messages]
        )
        return [m.id for m in stored]

    async def checkpoint(self, turn_message_id: str, path: Path) -> None:
        if self.checkpoints:
            await self.store.checkpoint_file(self.session_id, turn_message_id, path)


@dataclass(frozen=True)
class Budget:
    """A run's spending limits (None: no limit)."""

    max_cost: float | None = None
    max_tokens: int | None = None


@dataclass
class LoopSpec:
    """One session's loop: what it runs on beyond the runtime's shared parts."""

    session_id: str
    bus: EventBus
    approver: Approver | None = None
    workspace: Path | None = None  # where the tools act; default: the runtime's root
    # The checks and filters of the tools (a mission's worktree has its own); default:
    # the runtime's, the workspace's safety layer. The caller attaches it to ``bus``.
    safety: SafetyLayer | None = None
    history: list[Message] = field(default_factory=list)
    usage_totals: Usage | None = None  # the session's totals so far
    cost_total: float | None = None
    budget: Budget | None = None  # default: the settings' max_cost and max_tokens
    checkpoints: bool = True
    compaction: bool = False
    extra_tools: list[Tool] = field(default_factory=list)
    memory: TurnRetriever | None = None


@dataclass
class BuiltLoop:
    """A loop, and the guidance files its system prompt left out (with why)."""

    loop: AgentLoop
    skipped_guidance: list[str]


class AgentRuntime:
    """One workspace's shared agent parts. Create with ``await AgentRuntime.open(...)``."""

    def __init__(
        self,
        *,
        paths: WorkspacePaths,
        settings: Settings,
        environ: Mapping[str, str],
        store: SessionStore,
        redactor: SecretRedactor,
        safety: SafetyLayer,
        models: ModelSelector,
    ) -> None:
        self.paths = paths
        self.settings = settings
        self.environ = dict(environ)
        self.store = store
        self.redactor = redactor
        self.safety = safety
        self.models = models

    @classmethod
    async def open(
        cls,
        paths: WorkspacePaths,
        settings: Settings,
        *,
        environ: Mapping[str, str] | None = None,
        script_path: Path | None = None,
        record_path: Path | None = None,
        on_route_event: RouteEvents | None = None,
        mode: ApprovalMode = ApprovalMode.AUTO_EDIT,
    ) -> AgentRuntime:
        """Open the workspace's store and prepare its models (none selected yet).

        ``environ`` (default: the process environment) is the real environment; the
        workspace's ``.env`` is merged into it by the workspace's trust (an untrusted
        one supplies keys only) and the key precedence (environment, then the user's
        credentials file, then the ``.env``). ``mode`` is the safety layer's approval
        mode (front ends change it through ``safety.policy.mode``)."""
        from tau_engine.engine_safety import open_safety
        from tau_engine.providers.key_sources import (
            provider_environ,
            provider_key_values,
            stored_keys,
        )

        real = dict(os.environ if environ is None else environ)
        stored = stored_keys()
        env = provider_environ(
            settings, real, paths.root, trusted=settings.workspace_trusted, credentials=stored
        )
        # Every key the user has (environment, credentials file, .env), used or not.
        keys = provider_key_values(settings, real, paths.root, credentials=stored)
        safety = await asyncio.to_thread(open_safety, paths, settings, real, keys, mode)
        paths.ensure()
        store = await asyncio.to_thread(open_store(paths, settings.store.url).open_sessions)
        models = ModelSelector(
            settings,
            env,
            paths.root,
            safety.redaction,
            script_path=script_path,
            record_path=record_path,
            on_route_event=on_route_event,
        )
        return cls(
            paths=paths,
            settings=settings,
            environ=env,
            store=store,
            redactor=SecretRedactor(keys),
            safety=safety,
            models=models,
        )

    def worktree_safety(self, root: Path, mode: ApprovalMode) -> SafetyLayer:
        """A safety layer for tools acting in ``root`` (a mission's worktree): the
        workspace's profile, settings and keys, its audit log in the workspace's ``.tau``
        (blocking: it reads files)."""
        settings = self.settings
        return SafetyLayer.open(
            root,
            mode=mode,
            safety=settings.safety,
            workspace_trusted=settings.workspace_trusted,
            protected_paths=settings.protected_paths,
            secrets=self.redactor.pairs,
            state_dir=self.paths.state_dir,
        )

    @property
    def model(self) -> SelectedModel:
        """The selected model (``models.select`` first)."""
        assert self.models.current is not None, "select a model first"
        return self.models.current

    def stream_with_deadline(self, model: SelectedModel) -> DeadlineStream:
        """``model``'s provider stream under the whole-turn deadline. Retries,
        fallbacks and the circuit breaker live in the routed provider."""
        return DeadlineStream(model, self.settings.turn_deadline_s)

    async def build_loop(self, spec: LoopSpec) -> BuiltLoop:
        """Wire ``spec``'s session into an agent loop on the selected model."""
        from tau_engine.agent.compaction_policy import CompactionPolicy
        from tau_engine.agent.prompt import build_system_prompt
        from tau_engine.engine_safety import build_pipeline
        from tau_engine.providers.catalog import cost_usd
        from tau_engine.providers.registry import request_options

        model = self.model
        settings = self.settings
        root = spec.workspace or self.paths.root
        budget = spec.budget or Budget(settings.max_cost, settings.max_tokens)
        config = LoopConfig(
            model_id=model.model_id,
            max_turns=settings.max_turns,
            max_cost=budget.max_cost,
            max_tokens=budget.max_tokens,
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
            context_window=model.context_window,
            request_options=request_options(model.resolved, settings),
        )
        safety = spec.safety or self.safety
        skipped: list[str] = []
        system_prompt = safety.redaction.redact(
            await asyncio.to_thread(build_system_prompt, root, skipped=skipped),
            where="system prompt",
        )
        stream = self.stream_with_deadline(model)
        compactor = (
            CompactionPolicy(
                store=self.store,
                session_id=spec.session_id,
                bus=spec.bus,
                stream=stream,
                model_id=model.model_id,
                info=model.info,
                context_window=model.context_window,
                settings=settings,
                system_prompt=system_prompt,
            )
            if spec.compaction
            else None
        )
        info = model.info
        loop = AgentLoop(
            bus=spec.bus,
            stream=stream,
            pipeline=build_pipeline(
                root, settings, safety, spec.bus, spec.approver, self.redactor, spec.extra_tools
            ),
            sink=StoreSink(
                self.store, spec.session_id, safety.redaction, checkpoints=spec.checkpoints
            ),
            system_prompt=system_prompt,
            config=config,
            cost=lambda usage: cost_usd(info, usage),
            history=spec.history,
            usage_totals=spec.usage_totals,
            cost_total=spec.cost_total,
            compactor=compactor,
            session_id=spec.session_id,
            memory=spec.memory,
        )
        return BuiltLoop(loop=loop, skipped_guidance=skipped)

    async def aclose(self) -> None:
        """Write the audit log, close the providers and the store."""
        try:
            await self.safety.aflush_audit()
            await self.models.aclose()
        finally:
            self.store.close()


class DeadlineStream:
    """A provider's stream that fails once the turn has run past its deadline."""

    def __init__(self, model: SelectedModel, deadline_s: float) -> None:
        self.model = model
        self.deadline_s = deadline_s

    async def __call__(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        deadline = time.monotonic() + self.deadline_s
        async for event in self.model.provider.stream(request):
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"the turn took longer than {self.deadline_s:g}s",
                    kind="timeout",
                    provider=self.model.provider_name,
                )
            yield event
