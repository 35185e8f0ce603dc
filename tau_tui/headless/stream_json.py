"""``--output-format stream-json``: every event, one JSON object per line.

The line is the event as the log stores it (``docs/events.md``): ``type`` names
it, and ``v``, ``seq``, ``ts`` and ``session_id`` come with each. Nothing is
left out and nothing else is written to stdout, so the output can be read back
with ``tau_engine.events.parse_event``. A ``text_delta`` carries only its own
text: the output stays linear in the answer's size.
"""

from __future__ import annotations

from typing import Any

from tau_engine.events import Event
from tau_tui.headless.output import HeadlessRenderer


class StreamJsonRenderer(HeadlessRenderer):
    """Writes each event as a line of JSON."""

    def render(self, event: Event) -> None:
        # Every event is written the same way: no per-type choice to make here.
        self.out.write(event.model_dump_json())
        self.out.write("\n")
        if self.flush_each:
            self.out.flush()

    def write_end(self, result: Any, exit_code: int | None) -> None:
        """Nothing: the last events said how the run ended."""
