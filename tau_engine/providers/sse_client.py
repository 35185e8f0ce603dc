"""The shared shell of the HTTP providers that stream JSON events over SSE.

Anthropic, Gemini and the OpenAI Responses API differ in their URLs, their
auth header and the JSON they stream, which their own modules handle (a
request builder and a ``StreamParser``); what is left is the same for all
three and lives here: the httpx client, the status check *before* parsing
(error bodies may be labelled ``text/event-stream``), SSE decoding, merging
text that arrived in one network read, draining the body after the final
event so the connection is reused, transport errors, and closing. A server
that answers with one whole JSON body instead of a stream gets that body
parsed by the format's ``complete`` (see ``answer_body``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

import httpx

from tau_engine.errors import ProviderError
from tau_engine.providers.answer_body import BodyHead, content_type
from tau_engine.providers.base import ProviderEvent, coalesce
from tau_engine.providers.http import make_client, raise_for_status
from tau_engine.providers.sse import aiter_sse_batches
from tau_engine.providers.transport_failures import transport_error


class StreamParser(Protocol):
    """Turns one provider's decoded stream events into normalized provider events."""

    output_seen: bool

    def handle(self, event: dict[str, Any]) -> list[ProviderEvent]:
        """Events for one decoded SSE ``data`` object; raises ``ProviderError``."""
        ...

    def finish(self) -> list[ProviderEvent] | None:
        """At the end of the body: final events, or raise if the stream was cut short."""
        ...

    def complete(self, body: Any) -> list[ProviderEvent]:
        """Every event of a whole, non-streamed answer (the API's non-streaming JSON
        shape), final ones included; raises ``ProviderError`` for an error object or
        JSON that is not an answer."""
        ...


def decode_event(data: str, provider: str, partial: bool) -> dict[str, Any]:
    """One SSE ``data`` field as a JSON object, or a ``stream`` error."""
    try:
        value = json.loads(data)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProviderError(
            f"undecodable stream event: {data[:80]!r}",
            kind="stream",
            provider=provider,
            retryable=not partial,
            partial_output=partial,
        ) from exc
    if not isinstance(value, dict):
        raise ProviderError(
            f"unexpected stream event: {data[:80]!r}",
            kind="stream",
            provider=provider,
            retryable=not partial,
            partial_output=partial,
        )
    return value


class SSEProvider:
    """Base of the JSON-over-SSE clients; subclasses set the URL and ``auth_headers``."""

    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        api_key: str | None,
        timeout_s: float = 120.0,
        extra_headers: dict[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        key_hint: str | None = None,
    ) -> None:
        self.name = name
        self._api_key = api_key
        self._extra_headers = dict(extra_headers or {})
        self._key_hint = key_hint
        self._owns_client = client is None
        self._client = client if client is not None else make_client(timeout_s, base_url=base_url)

    def auth_headers(self) -> dict[str, str]:
        """The provider's own authentication header(s) for the configured key."""
        return {}

    def headers(self) -> dict[str, str]:
        """The request headers (the key included when one is set)."""
        headers = {"content-type": "application/json", "accept": "text/event-stream"}
        if self._api_key:
            headers.update(self.auth_headers())
        headers.update(self._extra_headers)
        return headers

    async def stream_parsed(
        self, url: str, body: dict[str, Any], parser: StreamParser
    ) -> AsyncIterator[ProviderEvent]:
        """POST ``body`` to ``url`` and stream what ``parser`` makes of the answer."""
        try:
            async with self._client.stream(
                "POST", url, json=body, headers=self.headers()
            ) as response:
                await raise_for_status(
                    response, self.name, key_hint=self._key_hint, key_sent=bool(self._api_key)
                )
                head = BodyHead()
                async for batch in aiter_sse_batches(head.record(response.aiter_bytes())):
                    head.event_seen()
                    events: list[ProviderEvent] = []
                    try:
                        for sse in batch:
                            # Read on to the end of the body even after the final event,
                            # so the connection goes back to the pool.
                            if getattr(parser, "done", False):
                                continue
                            events.extend(
                                parser.handle(decode_event(sse.data, self.name, parser.output_seen))
                            )
                    except ProviderError:
                        for event in coalesce(events):  # what came before the error counts
                            yield event
                        raise
                    for event in coalesce(events):
                        yield event
                # No event at all: a whole answer sent without SSE framing, or a page.
                whole = head.whole_answer(self.name, content_type(response))
                if whole is not None:
                    for event in coalesce(parser.complete(whole)):
                        yield event
                    return
        except httpx.HTTPError as exc:
            raise transport_error(exc, self.name, partial_output=parser.output_seen) from exc
        for event in parser.finish() or ():
            yield event

    async def aclose(self) -> None:
        """Close the HTTP client if this provider created it."""
        if self._owns_client:
            await self._client.aclose()
