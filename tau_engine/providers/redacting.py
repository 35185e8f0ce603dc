"""A provider wrapper that lets none of the user's secrets through, either way.

Every request body passes through the redaction funnel before it is sent (the
system prompt, each message's text and tool-call arguments: what a tool result,
an attached file or a guidance file may have carried in), and every error that
comes back is redacted too: some servers echo the rejected key in a 401 body,
and the error message that tau builds from it would then reach stderr, the JSON
output, the session store and a ``--record`` script. ``RedactingProvider`` sits
outermost, around the routed provider and the recorder.

Provider-private data (``extra``: thinking signatures, encrypted reasoning) is
passed as it is: it is opaque to the user and must round-trip byte for byte.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Protocol

from tau_engine.conversation import Message, ToolCall
from tau_engine.errors import ProviderError
from tau_engine.providers.base import Provider, ProviderEvent, ProviderRequest


class Redactor(Protocol):
    """What the wrapper needs of a redactor: text in, text out; JSON-like data too."""

    def redact(self, text: str) -> str: ...

    def redact_data(self, value: object) -> object: ...


class RedactingProvider:
    """Streams from ``inner`` a redacted request; a ``ProviderError`` it raises is redacted
    in place."""

    def __init__(self, inner: Provider, redactor: Redactor) -> None:
        self.inner = inner
        self.name = inner.name
        self.redactor = redactor

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        try:
            async for event in self.inner.stream(redact_request(request, self.redactor)):
                yield event
        except ProviderError as exc:
            redact_error(exc, self.redactor)
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


def _redact_call(call: ToolCall, redactor: Redactor) -> ToolCall:
    arguments = redactor.redact_data(call.arguments)
    if arguments is call.arguments or not isinstance(arguments, dict):
        return call
    return call.model_copy(update={"arguments": arguments})


def _redact_message(message: Message, redactor: Redactor) -> Message:
    content = redactor.redact(message.content)
    calls = [_redact_call(c, redactor) for c in message.tool_calls]
    if content is message.content and all(
        a is b for a, b in zip(calls, message.tool_calls, strict=True)
    ):
        return message
    return message.model_copy(update={"content": content, "tool_calls": calls})


def redact_request(request: ProviderRequest, redactor: Redactor) -> ProviderRequest:
    """``request`` with its text and tool arguments through the redactor (a copy if changed)."""
    system = redactor.redact(request.system)
    messages = [_redact_message(m, redactor) for m in request.messages]
    if system is request.system and all(
        a is b for a, b in zip(messages, request.messages, strict=True)
    ):
        return request
    return replace(request, system=system, messages=messages)


def redact_error(exc: ProviderError, redactor: Redactor) -> None:
    """Remove secrets from ``exc``'s message (and ``args``, which ``repr`` shows)."""
    exc.message = redactor.redact(exc.message)
    exc.args = (exc.message,)
