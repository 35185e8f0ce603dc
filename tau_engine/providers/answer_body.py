"""What came back for a streaming request: an event stream, one whole JSON answer, or neither.

tau always asks for a stream, but not every server streams. llama-cpp-python,
LM Studio and several proxies answer a streaming request that carries tools
with one complete JSON body, in the provider's non-streaming shape; a wrong
base URL or a captive portal answers 200 with an HTML page. Read as SSE, both
hold no event at all and looked like a stream cut short, which was retried
five times and then failed with nothing.

Every 2xx body is read as an event stream, whatever its ``Content-Type`` says
(servers mislabel both ways: JSON as ``text/event-stream``, streams as
``application/json``), and ``BodyHead`` keeps its first bytes until an event
arrives. A body that ends without any event is looked at once more: JSON is a
whole answer, handed to the wire format's ``complete`` parser; anything else
fails at once with an error naming the ``Content-Type`` and what the body was
(``kind="bad_response"``, not retried: the same request gets the same page).
An empty body is still a broken stream.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tau_engine.errors import ProviderError

# A whole answer is rarely over a few hundred KB; a body with no event past this is none.
MAX_WHOLE_BODY_BYTES = 16 * 1024 * 1024
_SNIPPET_CHARS = 160
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)

BAD_RESPONSE = "bad_response"


def content_type(response: httpx.Response) -> str:
    """The response's media type, lowercased, without parameters (``""`` if none)."""
    raw = str(response.headers.get("content-type", ""))
    return raw.split(";", 1)[0].strip().lower()


def decode_whole(raw: bytes, provider: str, media_type: str) -> Any:
    """``raw`` as JSON, or ``bad_response`` naming what the server sent instead."""
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        raise unexpected_body(provider, media_type, raw) from None


class BodyHead:
    """Keeps the first bytes of a body until its first SSE event arrives.

    Wrap the byte stream with ``record``; call ``event_seen`` when the decoder
    produced an event (recording stops and the bytes are dropped). At the end,
    ``leftover`` is what the body held if it never held an event.
    """

    def __init__(self, limit: int = MAX_WHOLE_BODY_BYTES) -> None:
        self._limit = limit
        self._bytes = bytearray()
        self._recording = True
        self.overflowed = False

    async def record(self, chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass ``chunks`` through, keeping a copy while no event has been seen."""
        async for chunk in chunks:
            if self._recording:
                if len(self._bytes) + len(chunk) > self._limit:
                    self.overflowed = True
                    self._recording = False
                    self._bytes.clear()
                else:
                    self._bytes += chunk
            yield chunk

    def event_seen(self) -> None:
        """The body is an event stream after all: stop keeping its bytes."""
        if self._recording:
            self._recording = False
            self._bytes.clear()

    def whole_answer(self, provider: str, media_type: str) -> Any | None:
        """At the end of the body: the JSON it held if it held no event, ``None`` when
        it was an event stream or empty; raises ``bad_response`` for anything else."""
        if self.overflowed:
            raise unexpected_body(
                provider, media_type, b"", why="no event stream and larger than any answer"
            )
        if not self._recording or not bytes(self._bytes).strip():
            return None
        return decode_whole(bytes(self._bytes), provider, media_type)


def unexpected_body(
    provider: str,
    media_type: str,
    raw: bytes,
    *,
    why: str = "neither an event stream nor a JSON answer",
) -> ProviderError:
    """The error for a 2xx body that is not a model answer: what it was, in one line."""
    label = media_type or "no Content-Type"
    return ProviderError(
        f"the server answered the streaming request with {label} that is {why}: "
        f"{describe_body(raw)}",
        kind=BAD_RESPONSE,
        provider=provider,
        retryable=False,
    )


def unknown_json(provider: str, expected: str, body: Any) -> ProviderError:
    """The error for JSON that parsed but is not ``expected`` (``a chat completion``)."""
    text = json.dumps(body, ensure_ascii=False)
    return ProviderError(
        f"the server answered with JSON that is not {expected}: {describe_body(text.encode())}",
        kind=BAD_RESPONSE,
        provider=provider,
        retryable=False,
    )


def describe_body(raw: bytes) -> str:
    """A short, one-line picture of a body: an HTML page's title, else its start."""
    title = _TITLE.search(raw[:65536])
    if title is not None and b"<html" in raw[:4096].lower():
        name = " ".join(title.group(1).decode("utf-8", errors="replace").split())
        return f"an HTML page titled {name[:_SNIPPET_CHARS]!r}"
    flat = " ".join(raw[:4096].decode("utf-8", errors="replace").split())
    if len(flat) > _SNIPPET_CHARS:
        flat = flat[: _SNIPPET_CHARS - 1] + "…"
    return repr(flat) if flat else "an empty body"
