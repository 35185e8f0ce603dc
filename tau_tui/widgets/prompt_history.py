"""The prompt history of one workspace, kept in ``.tau/prompt_history``.

One JSON string per line, so multi-line prompts survive; the newest last.
File access is blocking and meant to run in a thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MAX_ENTRIES = 1000


class PromptHistory:
    """Recent prompts, oldest first; ``load`` and ``save`` touch the disk."""

    def __init__(self, path: Path | None, limit: int = MAX_ENTRIES) -> None:
        self.path = path
        self.limit = limit
        self.entries: list[str] = []

    def load(self) -> list[str]:
        """Read the file (blocking); unreadable lines are skipped."""
        if self.path is None:
            return self.entries
        try:
            raw = self.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return self.entries
        loaded: list[str] = []
        for line in raw.splitlines():
            try:
                value = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(value, str) and value.strip():
                loaded.append(value)
        self.entries = loaded[-self.limit:] + self.entries
        return self.entries

    def add(self, prompt: str) -> None:
        """Remember a prompt in memory (a repeat of the latest one is not added twice)."""
        if not prompt.strip() or (self.entries and self.entries[-1] == prompt):
            return
        self.entries.append(prompt)
        del self.entries[:-self.limit]

    def save(self) -> None:
        """Write the history (blocking, atomic: temp file and rename)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in self.entries), encoding="utf-8")
        os.replace(tmp, self.path)
