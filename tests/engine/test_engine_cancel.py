"""Cancelling a turn twice (Ctrl+C, then a signal, then a lost terminal) still saves the
partial answer: a repeated cancel must not interrupt the saving of what the first stopped."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.paths import WorkspacePaths


async def test_a_second_cancel_while_the_turn_settles_is_harmless(tmp_path: Path) -> None:
    script = tmp_path / "long.json"
    script.write_text(json.dumps({"version": 1, "turns": [{"text": "word " * 20_000}]}))
    engine = await Engine.open(
        workspace=WorkspacePaths(tmp_path / "ws"),
        environ={},
        settings=Settings(model="offline/replay"),
        script_path=script,
    )
    loop = asyncio.get_running_loop()

    def cancel_repeatedly(event: object) -> None:
        if getattr(event, "type", "") == "text_delta":
            engine.cancel()
            # More requests arrive while the interrupted turn saves its partial answer.
            for delay in (0, 0.001, 0.005, 0.02):
                loop.call_later(delay, engine.cancel)

    engine.bus.subscribe(cancel_repeatedly)
    try:
        result = await engine.run("talk")
        history = await engine.history()
    finally:
        await engine.close()
    assert result.stop_reason == "interrupted"
    assert history[-1].message.meta == {"interrupted": True}
    assert history[-1].message.content.startswith("word")
