"""The engine facade: one workspace, its settings, store, provider, tools and session.

Front ends hold one ``Engine`` and drive it: ``run(prompt)`` for a turn,
``cancel()`` to interrupt, ``undo``/``redo``/``fork``/``resume`` for the session,
and they subscribe to ``engine.bus`` for the event stream. The approver is
injected at ``open`` (the TUI's modal; none in headless runs).

The engine applies the workspace's trust (an untrusted ``.env`` supplies keys
only) and assembles the safety layer (``engine_safety.py``): its redaction
funnel sees every event before any sink, every stored message, provider request
and error, recording, export and the run's result.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from tau_engine.agent.loop import AgentLoop, Compacted, LoopConfig, RunResult
from tau_engine.agent.prompt import build_system_prompt
from tau_engine.agent.provenance import mark_untrusted
from tau_engine.config import Settings
from tau_engine.conversation import Message, StoredMessage, Usage
from tau_engine.engine_safety import (
    RedactingSessionSink,
    attach_safety,
    build_pipeline,
    link_memory,
    open_safety,
    redact_run_result,
    restore_risk,
)
from tau_engine.errors import ProviderError, StoreError, UsageError
from tau_engine.events import EventBus, Notice, SessionStarted
from tau_engine.memory.overview import MemoryOverview
from tau_engine.memory.runtime import MemoryRuntime
from tau_engine.paths import WorkspacePaths
from tau_engine.providers.base import Provider, ProviderEvent, ProviderRequest
from tau_engine.providers.router import CircuitBreaker
from tau_engine.safety.layer import SafetyLayer, SafetyState
from tau_engine.safety.policy import ApprovalMode, Approver
from tau_engine.safety.redact import SecretRedactor
from tau_engine.store import SessionInfo, SessionStore, UndoReport
from tau_engine.store.claim import IfBusy, claim_session
from tau_engine.store.models import title_from_prompt
from tau_engine.store.session_lock import LockSlot
from tau_engine.store.session_store import new_session_id
from tau_engine.tools.base import Tool


class Engine:
    """One workspace's engine. Create with ``await Engine.open(...)``."""

    def __init__(self, *, paths: WorkspacePaths, settings: Settings, store: SessionStore,
                 environ: Mapping[str, str], approver: Approver | None,
                 safety: SafetyLayer, script_path: Path | None) -> None:
        self.paths = paths
        self.settings = settings
        self.store = store
        self.environ = dict(environ)
        self.approver = approver
        self.safety = safety
        self.policy = safety.policy  # the permission policy: front ends set its mode
        self.redaction = safety.redaction
        self.script_path = script_path
        self.bus = EventBus()
        attach_safety(self.bus, safety)
        self.session: SessionInfo | None = None
        self.notices: list[str] = []
        self.model_id = ""
        self._provider: Provider | None = None
        self._resolved: Any = None
        self._loop: AgentLoop | None = None
        self._task: asyncio.Task[RunResult] | None = None
        self._writer: Any = None
        self._resumed = False
        self._locks = LockSlot(paths.locks_dir)  # holds the write lock of ``session``
        self._retired: list[Provider] = []
        self.record_path: Path | None = None
        self.redactor = SecretRedactor()
        self._pending_notices: list[Notice] = []  # emitted once the session has started
        self.memory: MemoryRuntime | None = None  # learned memory (issue 15), when enabled
        # One breaker for the engine's life, so switching models keeps what was learnt
        # about failing routes.
        self._breaker = CircuitBreaker()

    # -- construction --------------------------------------------------------
    @classmethod
    async def open(
        cls,
        *,
        workspace: WorkspacePaths,
        settings: Settings,
        approver: Approver | None = None,
        environ: Mapping[str, str] | None = None,
        resume: str | None = None,
        continue_latest: bool = False,
        default_approval: str = "auto-edit",
        script_path: Path | None = None,
        record_path: Path | None = None,
        if_busy: IfBusy = "fail",
        require_session_model: bool = False,
    ) -> Engine:
        """Resolve the model, open the store and (optionally) the session to resume.

        ``environ`` (default: the process environment) is the real environment; the
        workspace ``.env`` is added to it here, by the workspace's trust.

        The session to resume is locked for this engine; when another process holds
        it, ``if_busy="fail"`` raises ``SessionLockedError`` (exit code 2), ``"fork"``
        continues in a fork of it and ``"new"`` in a new session.

        A resumed session keeps its model unless ``settings.model`` names one. When that
        model cannot be used (its key is missing, ``offline/replay`` has no script), the
        engine falls back to the default model with a notice, or, with
        ``require_session_model`` (headless runs, where a quiet switch would pass for
        success), raises ``UsageError`` saying why.
        """
        from tau_engine.providers.registry import (
            provider_environ,
            provider_key_values,
            stored_keys,
        )
        from tau_engine.resources.trust import withheld_notice, workspace_withheld

        real_env = dict(os.environ if environ is None else environ)
        stored = stored_keys()
        env = provider_environ(settings, real_env, workspace.root,
                               trusted=settings.workspace_trusted, credentials=stored)
        mode_name = settings.approval or default_approval
        try:
            mode = ApprovalMode(mode_name)
        except ValueError:
            choices = ", ".join(m.value for m in ApprovalMode)
            raise UsageError(f"unknown approval mode '{mode_name}'; choose one of: "
                             f"{choices}") from None
        # Every key the user has (environment, credentials file, .env), used or not.
        keys = provider_key_values(settings, real_env, workspace.root, credentials=stored)
        safety = await asyncio.to_thread(open_safety, workspace, settings, real_env, keys,
                                         mode)
        workspace.ensure()
        store = await asyncio.to_thread(SessionStore.open, workspace)
        engine = cls(paths=workspace, settings=settings, store=store, environ=env,
                     approver=approver, safety=safety, script_path=script_path)
        engine.record_path = record_path
        engine.redactor = SecretRedactor(keys)
        withheld = workspace_withheld(workspace, settings, real_env)
        if withheld:
            engine.notices.append(withheld_notice(withheld))
        try:
            engine.memory = await MemoryRuntime.open_if_enabled(settings, workspace, engine.bus,
                                                                engine.redactor)
            if engine.memory is not None:
                link_memory(safety, engine.memory)
            if resume:
                engine.session = await store.get_session(resume)
                engine._resumed = True
            elif continue_latest:
                engine.session = await store.latest_session()
                engine._resumed = engine.session is not None
                if engine.session is None:
                    engine.notices.append("no earlier session in this workspace; "
                                          "starting a new one")
            if engine.session is not None:
                engine.session, notice = await claim_session(
                    store, engine._locks, engine.session, if_busy=if_busy)
                engine._resumed = engine.session is not None
                engine.notices += [notice] if notice else []
            # A resumed session keeps its model unless one is given explicitly.
            session_model = engine.session.model if engine.session else None
            if settings.model or not session_model:
                engine._select_model(settings.model)
            else:
                try:
                    engine._select_model(session_model)
                except UsageError as exc:
                    assert engine.session is not None
                    where = f"session {engine.session.id[:8]} uses {session_model}"
                    if require_session_model:
                        raise UsageError(f"{where}, which cannot be used: {exc}; pass "
                                         "--model to continue it with another model") from exc
                    engine._select_model(None, announce_offline=False)
                    engine.notices.append(f"{where}, which cannot be used: {exc}. Continuing "
                                          f"with {engine.model_id}; /model switches")
        except BaseException:
            engine._locks.release()
            if engine.memory is not None:
                engine.memory.close()
            store.close()
            raise
        engine.notices = [engine.redaction.redact(n, where="notice") for n in engine.notices]
        return engine

    def _select_model(self, model_id: str | None, *, announce_offline: bool = True) -> None:
        from tau_engine.providers.registry import (
            create_routed_provider,
            default_model,
            resolve_model,
        )

        chosen = model_id or default_model(self.settings, self.environ, self.paths.root)
        resolved = resolve_model(chosen, self.settings, self.environ, self.paths.root)
        from tau_engine.providers.redacting import RedactingProvider

        provider: Provider = create_routed_provider(
            resolved, self.settings, self.environ, self.paths.root,
            script_path=self.script_path, on_event=self._route_event,
            breaker=self._breaker)
        if self.record_path is not None:
            from tau_engine.providers.recording import RecordingProvider

            provider = RecordingProvider(provider, self.record_path,
                                         redact=self.redaction.redact_data)
        # Outermost: the recorder and the provider see the redacted request.
        provider = RedactingProvider(provider, self.redaction)
        old = self._provider
        self._provider = provider
        self._resolved = resolved
        self.model_id = resolved.model_id
        self._loop = None
        if old is not None:
            self._retired.append(old)  # closed with the engine; a turn may still hold it
        if resolved.warning:
            self.notices.append(resolved.warning)
        if resolved.provider == "offline" and not model_id and not self.settings.model \
                and announce_offline:
            self.notices.append(
                "no model configured and no API key found: using offline/echo. Set "
                "ANTHROPIC_API_KEY, OPENAI_API_KEY or GEMINI_API_KEY, or pass --model "
                "provider/model (see docs/providers.md)")

    def _route_event(self, kind: str, data: dict[str, Any]) -> None:
        # Retry and fallback notices quote the provider's error, which may echo a key.
        data = {key: self.redaction.redact_data(value) for key, value in data.items()}
        message = str(data.get("message") or "")
        if not message:
            if kind == "fallback":
                message = (f"{data.get('from')} failed ({data.get('reason')}); "
                           f"falling back to {data.get('to')}")
            else:
                message = f"{kind}: " + ", ".join(f"{k}={v}" for k, v in data.items())
        self.bus.emit(Notice(kind=kind, message=message, data=data))

    # -- properties ------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def context_window(self) -> int | None:
        """The model's context window (the catalog's, else the registry's default)."""
        return getattr(self._resolved, "context_window", None)

    def usage_totals(self) -> tuple[Usage, float | None]:
        if self._loop is not None:
            return self._loop.usage_total, self._loop.cost_total
        if self.session is not None:
            return self.session.usage, self.session.cost_usd
        return Usage(), None

    # -- running ---------------------------------------------------------------
    async def expand_mentions(self, text: str) -> tuple[str, dict[str, Any] | None]:
        """Attach the files a prompt ``@mentions``: the prompt to send, and the message
        ``meta`` that keeps the prompt as typed, the attached paths and a note per
        mention not attached whole (None if the prompt mentions nothing)."""
        from tau_engine.mentions import attach_mentions

        found = await asyncio.to_thread(attach_mentions, text, self.paths.root)
        # An attached file (``@.env``) may hold a key: it is sent and stored, so redact it.
        prompt = self.redaction.redact(found.prompt, where="prompt")
        if not found.attached and not found.notes:
            return prompt, None
        meta: dict[str, Any] = {"typed": self.redaction.redact(text, where="prompt"),
                                "attachments": found.attached}
        if found.notes:
            meta["mention_notes"] = found.notes
        return prompt, meta

    async def run(self, prompt: str, *, meta: dict[str, Any] | None = None) -> RunResult:
        """Run one prompt through the agent loop. Interrupted by ``cancel()``.

        ``@path`` mentions are attached here unless the caller passes ``meta`` (it
        expanded them itself with ``expand_mentions``)."""
        if self.running:
            raise UsageError("a turn is already running")
        if not prompt.strip():
            raise UsageError("the prompt is empty")
        if meta is None:
            prompt, meta = await self.expand_mentions(prompt)
        prompt = self.redaction.redact(prompt, where="prompt")
        loop = await self._ensure_loop(prompt)
        assert self.session is not None
        self.safety.begin_run(self.session.id)
        self.bus.emit(SessionStarted(model=self.model_id, workspace=str(self.paths.root),
                                     resumed=self._resumed,
                                     title=self.session.title or title_from_prompt(prompt)))
        for notice in self._pending_notices:
            self.bus.emit(notice)
        self._pending_notices = []
        self._resumed = True
        for note in (meta or {}).get("mention_notes", []):
            self.bus.emit(Notice(kind="mention", message=note))
        self._task = task = asyncio.ensure_future(loop.run(prompt, meta=meta))
        try:
            return redact_run_result(await asyncio.shield(task), self.redaction)
        except asyncio.CancelledError:
            # The caller itself was cancelled: stop the run and wait for it to settle.
            self.cancel()
            return redact_run_result(await task, self.redaction)
        finally:
            await self.safety.aflush_audit()
            # A run that ended on a store failure has reported it as its error; the
            # same failure here would only say it twice.
            reported = task.done() and not task.cancelled() and task.exception() is None \
                and task.result().error is not None
            try:
                if self._writer is not None:
                    await asyncio.to_thread(self._writer.flush)
                self.session = await self.store.get_session(self.session.id)
            except StoreError:
                if not reported:
                    raise

    def cancel(self) -> None:
        """Interrupt the running turn; the partial answer stays, marked interrupted.

        Idempotent while the turn settles: Ctrl+C, a signal and a lost terminal may
        all ask, and a second cancellation would interrupt the saving of the answer
        the first one stopped.
        """
        task = self._task
        if task is not None and not task.done() and not task.cancelling():
            task.cancel()

    async def _ensure_loop(self, prompt: str) -> AgentLoop:
        if self.session is None:
            # Locked before it exists, so no other process can continue it first.
            session_id = new_session_id()
            self._locks.hold(session_id)
            # The store titles the session from its first user message.
            self.session = await self.store.create_session(model=self.model_id,
                                                           session_id=session_id)
        elif self.session.model != self.model_id:
            await self.store.set_model(self.session.id, self.model_id)
        if self._loop is not None and self._loop.session_id == self.session.id:
            return self._loop
        from tau_engine.agent.compaction import request_view
        from tau_engine.providers.catalog import cost_usd
        from tau_engine.providers.registry import request_options

        session_id = self.session.id
        # Parsed from the last compaction on: the summarized turns are not read.
        stored = await self.store.request_history(session_id)
        history = request_view(stored)
        # The session's totals, "estimated" included (a server that reports no usage).
        totals = self.session.usage
        self._bind_events(session_id, await self.store.last_seq(session_id))
        info = getattr(self._resolved, "info", None)
        settings = self.settings
        config = LoopConfig(
            model_id=self.model_id, max_turns=settings.max_turns, max_cost=settings.max_cost,
            max_tokens=settings.max_tokens, max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature, context_window=self.context_window,
            request_options=request_options(self._resolved, settings))
        skipped: list[str] = []
        system_prompt = self.redaction.redact(await asyncio.to_thread(
            build_system_prompt, self.paths.root, skipped=skipped), where="system prompt")
        self._pending_notices += [Notice(kind="guidance", message=note) for note in skipped]
        tainting = await restore_risk(self.store, self.safety, session_id,
                                      with_untrusted_tools=self.memory is not None)
        extra: list[Tool] = []  # learned memory adds its tools, offers memory per prompt
        retriever = None if self.memory is None else self.memory.bind(
            session_id, [*tainting, *stored], extra)
        self._loop = AgentLoop(
            bus=self.bus, stream=self._stream, pipeline=build_pipeline(
                self.paths.root, settings, self.safety, self.bus, self.approver,
                self.redactor, extra),
            sink=RedactingSessionSink(self.store, session_id, self.redaction),
            system_prompt=system_prompt, config=config,
            cost=lambda usage: cost_usd(info, usage), history=history,
            usage_totals=totals, cost_total=self.session.cost_usd,
            compactor=self._compactor, session_id=session_id, memory=retriever)
        return self._loop

    async def _compactor(self, messages: list[Message], context_tokens: int,
                         force: bool) -> Compacted | None:
        """Summarize older turns when the next request nears the context window."""
        from tau_engine.agent.compaction import (
            compaction_message,
            estimate_tokens,
            plan_compaction,
            request_view,
            summarize,
        )
        from tau_engine.providers.catalog import cost_usd

        assert self._loop is not None and self.session is not None
        system = self._loop.system_prompt
        before = max(context_tokens, estimate_tokens(system, messages))
        window = self.context_window
        if not force and (window is None
                          or before < self.settings.compaction_threshold * window):
            return None
        history = await self.store.request_history(self.session.id)
        plan = plan_compaction(history, self.settings.keep_recent_turns)
        if plan is None:
            return None
        self.bus.emit(Notice(kind="compacting", message=f"compacting the conversation "
                             f"(~{before:,} tokens) with {self.model_id}..."))
        summary, usage, provider_cost = await summarize(
            self._stream, model=self.model_id.split("/", 1)[1], system=system,
            messages=mark_untrusted(plan.summarize),
            max_output_tokens=self.settings.max_output_tokens)
        cost = provider_cost if provider_cost is not None else cost_usd(
            getattr(self._resolved, "info", None), usage)
        await self.store.append(self.session.id, compaction_message(
            summary, keep_from=plan.keep_from, before_tokens=before),
            usage=usage, cost_usd=cost, model=self.model_id)
        view = request_view(await self.store.request_history(self.session.id))
        return Compacted(messages=view, usage=usage, cost_usd=cost, before_tokens=before,
                         after_tokens=estimate_tokens(system, view))

    async def compact(self) -> str:
        """``/compact``: summarize older turns now. Returns what happened, for a notice."""
        if self.running:
            raise UsageError("wait for the running turn to finish before compacting")
        if self.session is None:
            raise UsageError("nothing to compact: no session yet")
        loop = await self._ensure_loop("")
        done = await loop.compact_now()
        if not done:
            return "nothing to compact yet: the conversation is shorter than the turns kept"
        return (f"compacted the conversation to ~{loop.context_tokens:,} tokens; "
                "earlier messages stay in the session")

    def _bind_events(self, session_id: str, last_seq: int) -> None:
        if self._writer is not None:
            self.bus.unsubscribe(self._writer.write)
            self._writer.close()
        self.bus.rebind(session_id, last_seq)
        self._writer = self.store.event_writer(session_id)
        # The writer comes first so an event is stored before any renderer sees it.
        self.bus.subscribe(self._writer.write, first=True)

    async def _stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        """The provider stream of one turn, under the whole-turn deadline. Retries,
        fallbacks and the circuit breaker live in the routed provider, which reports
        them through ``_route_event`` as notices."""
        assert self._provider is not None
        deadline = time.monotonic() + self.settings.turn_deadline_s
        async for event in self._provider.stream(request):
            if time.monotonic() > deadline:
                raise ProviderError(
                    f"the turn took longer than {self.settings.turn_deadline_s:g}s",
                    kind="timeout", provider=self._resolved.provider)
            yield event

    # -- sessions ----------------------------------------------------------------
    def _switch(self, session: SessionInfo | None, resumed: bool) -> None:
        if self.running:
            raise UsageError("wait for the running turn to finish (or interrupt it) first")
        if session is None:
            self._locks.release()
        else:
            self._locks.hold(session.id)
        self.session = session
        self._loop = None
        self._resumed = resumed
        # What was allowed for the session, and a raised risk, end with the session.
        self.safety.new_session()

    async def new_session(self) -> None:
        """Start a fresh session (created on the next prompt)."""
        self._switch(None, False)

    async def resume(self, id_or_prefix: str) -> SessionInfo:
        """Switch to another session (``SessionLockedError`` if a process is running it)."""
        session = await self.store.get_session(id_or_prefix)
        self._switch(session, True)
        # Re-read it: its last writer may have moved on before the lock was ours.
        self.session = session = await self.store.get_session(session.id)
        return session

    async def history(self) -> list[StoredMessage]:
        if self.session is None:
            return []
        return await self.store.history(self.session.id)

    async def recent(self, limit: int) -> list[StoredMessage]:
        if self.session is None:
            return []
        return await self.store.recent(self.session.id, limit)

    async def list_sessions(self, limit: int = 50) -> list[SessionInfo]:
        return await self.store.list_sessions(limit)

    async def undo(self) -> UndoReport:
        if self.session is None:
            raise UsageError("nothing to undo: no session yet")
        if self.running:
            raise UsageError("wait for the running turn to finish (or interrupt it) first")
        report = await self.store.undo(self.session.id, self.paths.root)
        self._loop = None
        self.session = await self.store.get_session(self.session.id)
        return report

    async def redo(self) -> UndoReport:
        if self.session is None:
            raise UsageError("nothing to redo: no session yet")
        if self.running:
            raise UsageError("wait for the running turn to finish (or interrupt it) first")
        report = await self.store.redo(self.session.id, self.paths.root)
        self._loop = None
        self.session = await self.store.get_session(self.session.id)
        return report

    async def fork(self, at_message_id: str | None = None) -> SessionInfo:
        """Branch the current session into a new one, at a message (default: the head)."""
        if self.session is None:
            raise UsageError("nothing to fork: no session yet")
        target = at_message_id or self.session.head_id
        if target is None:
            raise UsageError("nothing to fork: the session is empty")
        if self.running:
            raise UsageError("wait for the running turn to finish (or interrupt it) first")
        fork_id = new_session_id()
        self._locks.hold(fork_id)  # the fork is ours before it exists
        try:
            forked = await self.store.fork(self.session.id, target, fork_id=fork_id)
        except BaseException:
            self._locks.hold(self.session.id)
            raise
        self._switch(forked, True)
        return forked

    async def memory_overview(self) -> MemoryOverview:
        """``/memory``: instruction files in the prompt, learned memory, the last offer."""
        from tau_engine.agent.instructions import memory_overview

        return await memory_overview(self.paths.root, self.memory, await self.history())

    def set_model(self, model_id: str) -> None:
        """Switch model for the next turn (raises ``UsageError`` on a bad id or missing key)."""
        if self.running:
            raise UsageError("wait for the running turn to finish before switching model")
        self._select_model(model_id)

    def safety_state(self) -> SafetyState:
        """The profile, its source, the sandbox and the raised risk, for front ends."""
        return self.safety.state()

    def clear_risk(self) -> int:
        """``/clear-risk``: side effects follow the rules again; returns the flags cleared."""
        return self.safety.clear_risk()

    def set_approval(self, mode: str) -> None:
        try:
            self.policy.mode = ApprovalMode(mode)
        except ValueError:
            choices = ", ".join(m.value for m in ApprovalMode)
            raise UsageError(f"unknown approval mode '{mode}'; choose one of: "
                             f"{choices}") from None

    async def close(self) -> None:
        """Stop any run, flush the event log, close the provider and the store."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        await self.safety.aflush_audit()
        for provider in [*self._retired, *([self._provider] if self._provider else [])]:
            await provider.aclose()
        self._provider = None
        self._retired = []
        if self.memory is not None:
            self.memory.close()
        try:
            self.store.close()
        finally:
            self._locks.release()

