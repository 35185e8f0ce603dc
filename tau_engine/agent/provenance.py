"""Provenance markers: the model sees every tool result as untrusted data, never as orders.

The store keeps a tool's output as it was shown to the user; the requests sent to a model carry
it wrapped as ``<untrusted source="file:README.md">…</untrusted>`` (``safety.injection.
wrap_untrusted``), with the injection scanner's flags named on the marker so the model is told
what looked suspicious. tau's own results (a refusal, an unknown tool, bad arguments) are not
wrapped: they are not text from outside.
"""

from __future__ import annotations

from collections.abc import Sequence

from tau_engine.conversation import Message
from tau_engine.safety.injection import InjectionHit, wrap_untrusted


def _hits(meta: dict[str, object]) -> list[InjectionHit]:
    items = meta.get("injection")
    if not isinstance(items, list):
        return []
    return [
        InjectionHit(
            str(i.get("rule", "?")), str(i.get("category", "?")), 0, 0, str(i.get("excerpt", ""))
        )
        for i in items
        if isinstance(i, dict)
    ]


def marked(message: Message) -> Message:
    """``message`` as a model should see it: a tool's output wrapped as untrusted."""
    if message.role != "tool" or message.meta.get("denied"):
        return message
    source = message.meta.get("source")
    if message.meta.get("interrupted"):
        source = message.name or "tool"  # what it printed before it was stopped
    if not isinstance(source, str) or not source:
        return message  # tau's own text: a refusal, an unknown tool, bad arguments
    content = wrap_untrusted(message.content, source, _hits(message.meta))
    return message.model_copy(update={"content": content})


def mark_untrusted(messages: Sequence[Message]) -> list[Message]:
    """The request view of a conversation: every tool output marked as untrusted."""
    return [marked(message) for message in messages]
