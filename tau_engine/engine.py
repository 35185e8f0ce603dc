"""The engine facade: one workspace's agent, driven by a front end.

Front ends hold one ``Engine`` and drive it: ``run(prompt)`` for a turn,
``cancel()`` to interrupt, the commands of ``tau_engine.commands`` for the rest
(sessions, model, approval mode, compaction), and ``state()`` for what to show.
They subscribe to ``engine.bus`` for the event stream. The approver is injected
at ``open`` (the TUI's modal; none in headless runs).

The engine composes its parts and adds what a conversation needs on top:
``AgentRuntime`` (``runtime.py``: settings, environment, the key redactor, the
model selector, the store; it builds the agent loop), ``SessionControl``
(``session_control.py``: the current session and its lock), learned memory, the
event log's writer, and the notices a front end shows. The workspace's trust is
applied by the runtime (an untrusted ``.env`` supplies keys only), and so is the
safety layer (``engine_safety.py``): its redaction funnel sees every event before
any sink, every stored message, provider request and error, recording, export and
the run's result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from tau_engine.agent.loop import AgentLoop
from tau_engine.agent.run_result import RunResult
from tau_engine.config import Settings
from tau_engine.conversation import StoredMessage, Usage
from tau_engine.engine_safety import (
    attach_safety,
    link_memory,
    redact_notice,
    redact_run_result,
    restore_risk,
)
from tau_engine.errors import StoreError, UsageError
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import EventBus, EventSink, Notice, SessionStarted
from tau_engine.memory.overview import MemoryOverview
from tau_engine.memory.runtime import MemoryRuntime
from tau_engine.mentions import expand_prompt
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.approval import parse_approval_mode
from tau_engine.protocol.state import EngineState
from tau_engine.runtime import AgentRuntime, LoopSpec
from tau_engine.safety.layer import SafetyState
from tau_engine.safety.policy import Approver
from tau_engine.session_control import SessionControl
from tau_engine.session_log import SessionLog
from tau_engine.session_model import select_first_model
from tau_engine.store import SessionInfo
from tau_engine.store.claim import IfBusy
from tau_engine.store.models import title_from_prompt
from tau_engine.tools.base import Tool

BUSY = "wait for the running turn to finish (or interrupt it) first"


class Engine:
    """One workspace's engine. Create with ``await Engine.open(...)``."""

    def __init__(
        self, *, runtime: AgentRuntime, sessions: SessionControl, approver: Approver | None
    ) -> None:
        self.runtime = runtime
        self.sessions = sessions
        self.paths = runtime.paths
        self.settings = runtime.settings
        self.store = runtime.store
        self.redactor = runtime.redactor
        self.approver = approver
        self.safety = runtime.safety
        self.policy = self.safety.policy  # the permission policy: front ends set its mode
        self.redaction = self.safety.redaction
        self.bus = EventBus()
        attach_safety(self.bus, self.safety)
        # The notices of opening: emitted when nobody listened yet, so ``subscribe``
        # hands them to each front end.
        self.startup_notices: list[Notice] = []
        self._opening = True
        self.log = SessionLog(self.bus, self.store)
        self.memory: MemoryRuntime | None = None  # learned memory (issue 15), when enabled
        self._loop: AgentLoop | None = None
        self._task: asyncio.Task[RunResult] | None = None
        runtime.models.on_route_event = self._route_event
        sessions.guard = self._refuse_while_running
        sessions.on_leave = self._end_session_switched
        sessions.on_switch = self._session_switched
        sessions.on_rewrite = self._drop_loop
        sessions.redact = self.redaction.redact_data  # what /export writes

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
        workspace ``.env`` is added to it by the workspace's trust.

        The session to resume is locked for this engine; when another process holds
        it, ``if_busy="fail"`` raises ``SessionLockedError`` (exit code 2), ``"fork"``
        continues in a fork of it and ``"new"`` in a new session.

        A resumed session keeps its model unless ``settings.model`` names one. When that
        model cannot be used (its key is missing, ``offline/replay`` has no script), the
        engine falls back to the default model with a notice, or, with
        ``require_session_model`` (headless runs, where a quiet switch would pass for
        success), raises ``UsageError`` saying why.
        """
        import os

        from tau_engine.resources.trust import withheld_notice, workspace_withheld

        real_env = dict(os.environ if environ is None else environ)
        mode = parse_approval_mode(settings.approval or default_approval)
        runtime = await AgentRuntime.open(
            workspace,
            settings,
            environ=real_env,
            script_path=script_path,
            record_path=record_path,
            mode=mode,
        )
        engine = cls(
            runtime=runtime, sessions=SessionControl(runtime.store, workspace), approver=approver
        )
        withheld = workspace_withheld(workspace, settings, real_env)
        if withheld:
            engine._notice(NoticeKind.TRUST, withheld_notice(withheld))
        try:
            engine.memory = await MemoryRuntime.open_if_enabled(
                settings, workspace, engine.bus, engine.redactor
            )
            if engine.memory is not None:
                link_memory(engine.safety, engine.memory)
            await engine._open_session(resume, continue_latest, if_busy)
            engine._select_first_model(require_session_model)
        except BaseException:
            engine.sessions.release()
            if engine.memory is not None:
                engine.memory.close()
            await runtime.aclose()
            raise
        engine._opening = False
        return engine

    async def _open_session(
        self, resume: str | None, continue_latest: bool, if_busy: IfBusy
    ) -> None:
        for notice in await self.sessions.open_first(resume, continue_latest, if_busy=if_busy):
            self._notice(NoticeKind.SESSION, notice)

    def _select_first_model(self, require_session_model: bool) -> None:
        # A resumed session keeps its model unless one is given explicitly.
        warnings = select_first_model(
            self.runtime.models,
            self.settings.model,
            self.session,
            require_session_model=require_session_model,
        )
        self._loop = None
        for warning in warnings:
            self._notice(NoticeKind.MODEL, warning)

    def _route_event(self, notice: Notice) -> None:
        # Retry and fallback notices quote the provider's error, which may echo a key.
        self.bus.emit(redact_notice(notice, self.redaction))

    def _notice(self, kind: NoticeKind, message: str) -> None:
        """Emit a notice (the bus's redaction funnel sees it first); while the engine
        opens, also keep it for ``subscribe``."""
        notice = self.bus.emit(Notice(kind=kind, message=message))
        if self._opening:
            self.startup_notices.append(notice)

    def subscribe(self, sink: EventSink) -> None:
        """Subscribe a front end to the event stream. It is handed the notices of opening
        first (``startup_notices``: nobody listened when they were emitted)."""
        for notice in self.startup_notices:
            sink(notice)
        self.bus.subscribe(sink)

    # -- state -------------------------------------------------------------------
    @property
    def session(self) -> SessionInfo | None:
        """The current session (None until the first prompt of a new one)."""
        return self.sessions.current

    @property
    def model_id(self) -> str:
        current = self.runtime.models.current
        return current.model_id if current is not None else ""

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    @property
    def context_window(self) -> int | None:
        """The model's context window (the catalog's, else the registry's default)."""
        current = self.runtime.models.current
        return current.context_window if current is not None else None

    def usage_totals(self) -> tuple[Usage, float | None]:
        """The current session's tokens and cost, the run in progress included."""
        if self._loop is not None:
            return self._loop.usage_total, self._loop.cost_total
        if self.session is not None:
            return self.session.usage, self.session.cost_usd
        return Usage(), None

    def state(self) -> EngineState:
        """What a front end may show: a read-only snapshot."""
        usage, cost = self.usage_totals()
        return EngineState(
            workspace=self.paths.root,
            model_id=self.model_id,
            approval=self.policy.mode,
            context_window=self.context_window,
            running=self.running,
            session=self.sessions.summary(),
            usage=usage,
            cost_usd=cost,
            memory_enabled=self.memory is not None,
        )

    # -- running ---------------------------------------------------------------
    async def expand_mentions(self, text: str) -> tuple[str, dict[str, Any] | None]:
        """Attach the files a prompt ``@mentions``: the prompt to send, and the message
        ``meta`` that keeps the prompt as typed, the attached paths and a note per
        mention not attached whole (None if the prompt mentions nothing)."""
        return await expand_prompt(
            text, self.paths.root, lambda typed: self.redaction.redact(typed, where="prompt")
        )

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
        loop = await self._ensure_loop()
        session = self.session
        assert session is not None
        self.safety.begin_run(session.id)
        self.log.start_run(
            SessionStarted(
                model=self.model_id,
                workspace=str(self.paths.root),
                resumed=self.sessions.resumed,
                title=session.title or title_from_prompt(prompt),
            )
        )
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
            reported = (
                task.done()
                and not task.cancelled()
                and task.exception() is None
                and task.result().error is not None
            )
            try:
                await self.log.flush()
                await self.sessions.refresh()
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

    async def _ensure_loop(self) -> AgentLoop:
        session = self.session
        if session is None:
            session = await self.sessions.create(self.model_id)
        elif session.model != self.model_id:
            await self.store.set_model(session.id, self.model_id)
        if self._loop is not None and self._loop.session_id == session.id:
            return self._loop
        from tau_engine.agent.compaction import request_view

        session_id = session.id
        # Parsed from the last compaction on: the summarized turns are not read.
        stored = await self.store.request_history(session_id)
        self.log.bind(session_id, await self.store.last_seq(session_id))
        # Learned memory adds its tools and offers memory with each prompt.
        # A flagged result in any turn (the summarized ones too) raises the risk again;
        # outside content taints learned memory's writes for the whole session.
        tainting = await restore_risk(
            self.store, self.safety, session_id, with_untrusted_tools=self.memory is not None
        )
        extra: list[Tool] = []
        retriever = (
            None
            if self.memory is None
            else self.memory.bind(session_id, [*tainting, *stored], extra)
        )
        built = await self.runtime.build_loop(
            LoopSpec(
                session_id=session_id,
                bus=self.bus,
                approver=self.approver,
                history=request_view(stored),
                # The session's totals, "estimated" included (a server that reports no usage).
                usage_totals=session.usage,
                cost_total=session.cost_usd,
                compaction=True,
                extra_tools=extra,
                memory=retriever,
            )
        )
        self.log.pending += [
            Notice(kind=NoticeKind.GUIDANCE, message=note) for note in built.skipped_guidance
        ]
        self._loop = built.loop
        return self._loop

    async def compact(self) -> int | None:
        """``/compact``: summarize older turns now. The context's size afterwards, or None
        when nothing was old enough to summarize."""
        if self.running:
            raise UsageError("wait for the running turn to finish before compacting")
        if self.session is None:
            raise UsageError("nothing to compact: no session yet")
        loop = await self._ensure_loop()
        if not await loop.compact_now():
            return None
        return loop.context_tokens

    # -- sessions (``engine.sessions``, a ``SessionControl``, does the work) -------------------
    def _refuse_while_running(self) -> None:
        if self.running:
            raise UsageError(BUSY)

    def _drop_loop(self) -> None:
        self._loop = None

    def _end_session(self, reason: Literal["closed", "switched"]) -> None:
        self.log.end(reason, *self.usage_totals())

    def _end_session_switched(self) -> None:
        self._end_session("switched")

    def _session_switched(self) -> None:
        self._loop = None
        # What was allowed for the session, and a raised risk, end with the session.
        self.safety.new_session()

    async def history(self) -> list[StoredMessage]:
        """The current session's messages (the app shows them when it resumes one)."""
        return await self.sessions.history()

    # -- settings of the conversation ---------------------------------------------------------
    async def memory_overview(self) -> MemoryOverview:
        """``/memory``: instruction files in the prompt, learned memory, the last offer."""
        from tau_engine.agent.instructions import memory_overview

        return await memory_overview(self.paths.root, self.memory, await self.history())

    def set_model(self, model_id: str) -> list[str]:
        """Switch model for the next turn (raises ``UsageError`` on a bad id or missing key);
        what the user should be told about the new model."""
        if self.running:
            raise UsageError("wait for the running turn to finish before switching model")
        selected = self.runtime.models.select(model_id)
        self._loop = None
        return list(selected.warnings)  # the caller shows them as the command's result

    def safety_state(self) -> SafetyState:
        """The profile, its source, the sandbox and the raised risk, for front ends."""
        return self.safety.state()

    def clear_risk(self) -> int:
        """``/clear-risk``: side effects follow the rules again; returns the flags cleared."""
        return self.safety.clear_risk()

    def set_approval(self, mode: str) -> None:
        self.policy.mode = parse_approval_mode(mode)

    async def close(self) -> None:
        """Stop any run, flush the event log, close the provider and the store."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        self._end_session("closed")
        try:
            await self.safety.aflush_audit()
            await self.runtime.models.aclose()
            if self.memory is not None:
                self.memory.close()
            self.runtime.store.close()
        finally:
            self.sessions.release()
