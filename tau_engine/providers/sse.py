"""A Server-Sent Events parser tolerant of what real providers send.

It follows the WHATWG rules (``event:``/``data:``/``id:`` fields, ``:`` comment
lines, blank line dispatches, multi-line ``data`` joined with ``\\n``) and
handles the quirks seen on the wire: CRLF or LF line ends, bytes split across
network chunks anywhere (even inside a UTF-8 sequence), trailing spaces after
the JSON, and a last event with no closing blank line (flushed at EOF).
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from dataclasses import dataclass


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. ``event`` is "message" when the stream named none."""

    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    """Incremental decoder: feed bytes, get complete events."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buffer = ""
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.comments = 0

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk of bytes and return the events it completed."""
        self._buffer += self._decoder.decode(chunk)
        return self._drain(final=False)

    def close(self) -> list[SSEEvent]:
        """Flush at end of stream: a last event without a blank line is still dispatched."""
        self._buffer += self._decoder.decode(b"", final=True)
        events = self._drain(final=True)
        if self._buffer:
            events.extend(self._line(self._buffer))
            self._buffer = ""
        dispatched = self._dispatch()
        if dispatched is not None:
            events.append(dispatched)
        return events

    def _drain(self, final: bool) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        buf = self._buffer
        start = 0
        n = len(buf)
        while start < n:
            nl = buf.find("\n", start)
            cr = buf.find("\r", start)
            if nl == -1 and cr == -1:
                break
            if cr != -1 and (nl == -1 or cr < nl):
                # A CR at the very end may be the first half of a CRLF split across chunks.
                if cr == n - 1 and not final:
                    break
                end = cr
                step = 2 if cr + 1 < n and buf[cr + 1] == "\n" else 1
            else:
                end = nl
                step = 1
            events.extend(self._line(buf[start:end]))
            start = end + step
        self._buffer = buf[start:]
        return events

    def _line(self, line: str) -> list[SSEEvent]:
        if line == "":
            dispatched = self._dispatch()
            return [dispatched] if dispatched is not None else []
        if line.startswith(":"):
            self.comments += 1
            return []
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        # "retry" and unknown fields are ignored, as the spec says.
        return []

    def _dispatch(self) -> SSEEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SSEEvent(event=self._event or "message", data="\n".join(self._data), id=self._id)
        self._event = ""
        self._data = []
        return event


async def aiter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """Parse an async stream of byte chunks (``httpx.Response.aiter_bytes()``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


async def aiter_sse_batches(chunks: AsyncIterable[bytes]) -> AsyncIterator[list[SSEEvent]]:
    """Like ``aiter_sse``, but yields the events each network read completed together,
    so a client can merge what arrived at once (see ``providers.base.coalesce``)."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        events = decoder.feed(chunk)
        if events:
            yield events
    tail = decoder.close()
    if tail:
        yield tail


def iter_sse(chunks: Iterable[bytes]) -> Iterator[SSEEvent]:
    """Synchronous twin of ``aiter_sse``, for tests and file replay."""
    decoder = SSEDecoder()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    yield from decoder.close()
