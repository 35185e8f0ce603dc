"""What an ``AgentLoop`` is built from: its knobs and the collaborators it is handed.

``LoopConfig`` holds the knobs of a run (the model, the turn and budget limits);
``MessageSink`` is where the loop stores messages (the store, bound to one session);
``StreamFactory``, ``CostFn`` and ``Compactor`` are the provider stream, the price list
and the compaction policy, as plain callables so tests can hand in their own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.conversation import Message, Usage
from tau_engine.providers.base import ProviderRequest

StreamFactory = Callable[[ProviderRequest], Any]
"""Returns the async iterator of provider events for one request (retries included)."""


class MessageSink:
    """Where the loop persists messages: the store, bound to one session."""

    async def append(
        self,
        message: Message,
        *,
        usage: Usage | None = None,
        cost_usd: float | None = None,
        model: str | None = None,
    ) -> str:
        raise NotImplementedError

    async def append_many(self, messages: Sequence[Message]) -> list[str]:
        raise NotImplementedError

    async def checkpoint(self, turn_message_id: str, path: Path) -> None:
        raise NotImplementedError


@dataclass
class LoopConfig:
    """The knobs of one run."""

    model_id: str
    max_turns: int = 25
    max_cost: float | None = None
    max_tokens: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    context_window: int | None = None
    request_options: dict[str, Any] = field(default_factory=dict)


CostFn = Callable[[Usage], float | None]


@dataclass
class Compacted:
    """What a compaction produced: the new request view and what the summary cost."""

    messages: list[Message]
    usage: Usage
    cost_usd: float | None
    before_tokens: int
    after_tokens: int


Compactor = Callable[[list[Message], int, bool], Awaitable["Compacted | None"]]
"""(messages, last known context tokens, force) -> the compacted view, or None."""
