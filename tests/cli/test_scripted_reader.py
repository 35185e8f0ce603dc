"""How a scripted session cuts its input into prompts."""

from __future__ import annotations

import asyncio
import os

import pytest

from tau_engine.errors import UsageError
from tau_tui.scripted import ScriptLine, ScriptReader


async def _read_all(pieces: list[bytes]) -> list[ScriptLine]:
    read_end, write_end = os.pipe()
    reader = ScriptReader(read_end)
    reader.start()
    try:
        for piece in pieces:  # arriving in pieces, as from a slow writer
            os.write(write_end, piece)
            await asyncio.sleep(0.01)
        os.close(write_end)
        lines = []
        while (line := await reader.next()) is not None:
            lines.append(line)
        return lines
    finally:
        os.close(read_end)


async def test_lines_continuations_and_blank_lines() -> None:
    lines = await _read_all([b"first li", b"ne\\\nsecond\r\n\n  \nthird", b" and last"])
    assert lines == [ScriptLine(1, "first line\nsecond"), ScriptLine(5, "third and last")]


async def test_a_trailing_backslash_at_the_end_sends_what_was_continued() -> None:
    assert await _read_all([b"only\\\n"]) == [ScriptLine(1, "only")]
    assert await _read_all([]) == []


async def test_input_that_is_not_utf8_names_its_line() -> None:
    with pytest.raises(UsageError, match="line 2: not UTF-8"):
        await _read_all([b"fine\n\xff\xfe\n"])
