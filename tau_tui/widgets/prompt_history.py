"""The prompt history of one workspace, kept in ``.tau/prompt_history``.

One format for every front end: the app's prompt and ``tau --line`` (through
``tau_tui.repl``'s prompt-toolkit adapter) read and write the same file. It
holds one JSON string per line, so multi-line prompts survive; the newest last.
Writes only append, so two front ends open on one workspace never erase each
other's prompts; past twice ``limit`` lines the file is rewritten, atomically,
with its newest ``limit`` entries. Lines in prompt-toolkit's own file format
(``+text`` lines, written by ``tau --line`` before the formats were one) are
read too. The module imports no Textual. File access is blocking and meant to
run in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_ENTRIES = 1000


def parse_history(raw: str) -> list[str]:
    """The prompts of a history file's text, oldest first; unreadable lines skipped."""
    entries: list[str] = []
    legacy: list[str] = []  # the "+" lines of one prompt-toolkit entry

    def end_legacy() -> None:
        if legacy:
            text = "\n".join(legacy)
            if text.strip():
                entries.append(text)
            legacy.clear()

    for line in raw.splitlines():
        if line.startswith("+"):
            legacy.append(line[1:])
            continue
        end_legacy()
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(value, str) and value.strip():
            entries.append(value)
    end_legacy()
    return entries


class PromptHistory:
    """Recent prompts, oldest first; ``load`` and ``save`` touch the disk."""

    def __init__(self, path: Path | None, limit: int = MAX_ENTRIES) -> None:
        self.path = path
        self.limit = limit
        self.entries: list[str] = []
        self._unsaved: list[str] = []

    def load(self) -> list[str]:
        """Read the file (blocking); prompts added before the load stay the newest."""
        if self.path is None:
            return self.entries
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return self.entries
        self.entries = parse_history(raw)[-self.limit :] + self.entries
        return self.entries

    def add(self, prompt: str) -> None:
        """Remember a prompt in memory (a repeat of the latest one is not added twice);
        ``save`` writes it."""
        if not prompt.strip() or (self.entries and self.entries[-1] == prompt):
            return
        self.entries.append(prompt)
        del self.entries[: -self.limit]
        self._unsaved.append(prompt)

    def save(self) -> None:
        """Append the prompts added since the last save (blocking). Another front end's
        prompts written meanwhile are kept: the file is only ever appended to, and
        compacted (atomically) once it holds twice the limit."""
        if self.path is None or not self._unsaved:
            return
        pending, self._unsaved = self._unsaved, []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = "".join(json.dumps(e) + "\n" for e in pending)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(text)
        self._compact_if_long()

    def _compact_if_long(self) -> None:
        assert self.path is not None
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return
        if raw.count("\n") <= 2 * self.limit:
            return
        kept = parse_history(raw)[-self.limit :]
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in kept), encoding="utf-8")
        os.replace(tmp, self.path)
