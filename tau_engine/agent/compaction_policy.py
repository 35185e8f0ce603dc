"""``CompactionPolicy``: when a session's older turns are summarized, and doing it.

The agent loop calls it (as its ``compactor``) before each request with the
messages it is about to send and the last known context size. Below
``compaction_threshold`` of the context window nothing happens, unless forced
(``/compact``). Otherwise the turns before the last ``keep_recent_turns`` are
summarized by the session's own model, the summary is stored as a compaction
message (the session keeps every earlier message), and the loop continues from
the new request view. The algorithm is ``compaction.py``'s; this object binds it
to one session, its store, its model and its settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tau_engine.agent.loop_config import Compacted, StreamFactory
from tau_engine.agent.provenance import mark_untrusted
from tau_engine.config import Settings
from tau_engine.conversation import Message
from tau_engine.event_kinds import NoticeKind
from tau_engine.events import EventBus, Notice

if TYPE_CHECKING:
    from tau_engine.providers.catalog import ModelInfo
    from tau_engine.store import SessionStore


class CompactionPolicy:
    """The compactor of one agent loop: one session, one model, one system prompt."""

    def __init__(
        self,
        *,
        store: SessionStore,
        session_id: str,
        bus: EventBus,
        stream: StreamFactory,
        model_id: str,
        info: ModelInfo | None,
        context_window: int | None,
        settings: Settings,
        system_prompt: str,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.bus = bus
        self.stream = stream
        self.model_id = model_id
        self.info = info
        self.context_window = context_window
        self.threshold = settings.compaction_threshold
        self.keep_recent_turns = settings.keep_recent_turns
        self.max_output_tokens = settings.max_output_tokens
        self.system_prompt = system_prompt

    def due(self, context_tokens: int) -> bool:
        """Whether a request of ``context_tokens`` is near enough the window to compact."""
        window = self.context_window
        return window is not None and context_tokens >= self.threshold * window

    async def __call__(
        self, messages: list[Message], context_tokens: int, force: bool
    ) -> Compacted | None:
        """Summarize older turns if due (or ``force``); None when nothing was done."""
        from tau_engine.agent.compaction import (
            compaction_message,
            estimate_tokens,
            plan_compaction,
            request_view,
            summarize,
        )
        from tau_engine.providers.catalog import cost_usd

        system = self.system_prompt
        before = max(context_tokens, estimate_tokens(system, messages))
        if not force and not self.due(before):
            return None
        history = await self.store.request_history(self.session_id)
        plan = plan_compaction(history, self.keep_recent_turns)
        if plan is None:
            return None
        self.bus.emit(
            Notice(
                kind=NoticeKind.COMPACTING,
                message=f"compacting the conversation (~{before:,} tokens) with {self.model_id}...",
            )
        )
        summary, usage, provider_cost = await summarize(
            self.stream,
            model=self.model_id.split("/", 1)[1],
            system=system,
            messages=mark_untrusted(plan.summarize),
            max_output_tokens=self.max_output_tokens,
        )
        cost = provider_cost if provider_cost is not None else cost_usd(self.info, usage)
        await self.store.append(
            self.session_id,
            compaction_message(summary, keep_from=plan.keep_from, before_tokens=before),
            usage=usage,
            cost_usd=cost,
            model=self.model_id,
        )
        view = request_view(await self.store.request_history(self.session_id))
        return Compacted(
            messages=view,
            usage=usage,
            cost_usd=cost,
            before_tokens=before,
            after_tokens=estimate_tokens(system, view),
        )
