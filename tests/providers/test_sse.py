"""The SSE decoder of ``providers/sse.py``: framing rules and the quirks of real streams."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tau_engine.providers.sse import SSEDecoder, SSEEvent, aiter_sse, iter_sse
from tests.support.provider_run import WIRE, split, wire_expected

FIXTURES = sorted(p.name for p in WIRE.glob("*.sse"))
EXPECTED = wire_expected()


def parse(*chunks: bytes) -> list[tuple[str, str, str | None]]:
    return [(e.event, e.data, e.id) for e in iter_sse(chunks)]


def test_data_lines_dispatch_on_blank_line() -> None:
    assert parse(b"data: one\n\ndata: two\n\n") == [
        ("message", "one", None),
        ("message", "two", None),
    ]


def test_event_and_id_fields() -> None:
    assert parse(b"event: ping\nid: 7\ndata: {}\n\n") == [("ping", "{}", "7")]


def test_event_name_does_not_leak_into_the_next_event() -> None:
    assert parse(b"event: delta\ndata: a\n\ndata: b\n\n") == [
        ("delta", "a", None),
        ("message", "b", None),
    ]


def test_crlf_and_lone_cr_line_ends() -> None:
    assert parse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n") == [
        ("message", "a", None),
        ("message", "b", None),
        ("message", "c", None),
    ]


def test_crlf_split_between_chunks_is_one_line_end() -> None:
    # If the CR were taken as a line end on its own, the LF would dispatch early and the
    # second data line would become a separate event.
    assert parse(b"data: a\r", b"\ndata: b\r\n\r\n") == [("message", "a\nb", None)]


def test_utf8_sequence_split_between_chunks() -> None:
    raw = "data: 68°F ✓\n\n".encode()
    cut = raw.index("°".encode()) + 1  # inside the two-byte sequence
    assert parse(raw[:cut], raw[cut:]) == [("message", "68°F ✓", None)]
    assert parse(*[raw[i : i + 1] for i in range(len(raw))]) == [("message", "68°F ✓", None)]


def test_comment_lines_are_counted_and_ignored() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b": OPENROUTER PROCESSING\n\n:\n\ndata: x\n\n")
    assert [e.data for e in events] == ["x"]
    assert decoder.comments == 2


def test_multi_line_data_is_joined_with_newlines() -> None:
    assert parse(b'data: {\ndata:   "a": 1\ndata: }\n\n') == [("message", '{\n  "a": 1\n}', None)]


def test_only_one_leading_space_is_stripped_and_trailing_spaces_are_kept() -> None:
    assert parse(b"data:no-space\n\ndata:  two  \n\n") == [
        ("message", "no-space", None),
        ("message", " two  ", None),
    ]


def test_last_event_is_flushed_at_eof_without_blank_line() -> None:
    assert parse(b"data: a\n\ndata: last") == [("message", "a", None), ("message", "last", None)]
    assert parse(b"data: last\r") == [("message", "last", None)]


def test_blank_lines_without_data_dispatch_nothing() -> None:
    assert parse(b"\n\n\r\nevent: lonely\n\n") == []


def test_unknown_fields_and_retry_are_ignored() -> None:
    assert parse(b"retry: 1000\nfoo: bar\ndata: x\n\n") == [("message", "x", None)]


async def test_async_twin_gives_the_same_events() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for piece in (b"event: a\r\nda", b"ta: 1\r", b"\n\r\ndata: 2"):
            yield piece

    events = [e async for e in aiter_sse(chunks())]
    assert events == [SSEEvent("a", "1"), SSEEvent("message", "2")]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_fixture_parses_the_same_whole_and_byte_by_byte(name: str) -> None:
    raw = (WIRE / name).read_bytes()
    whole = list(iter_sse([raw]))
    by_byte = list(iter_sse(split(raw, 1)))
    odd = list(iter_sse(split(raw, 13)))
    assert len(whole) == EXPECTED[name]["events"]
    assert by_byte == whole
    assert odd == whole
    if "crlf" in EXPECTED[name]:
        assert (b"\r\n" in raw) is EXPECTED[name]["crlf"]
