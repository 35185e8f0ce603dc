"""Which instruction files the system prompt holds, and the ``/memory`` overview.

The guidance loader (``prompt.py``) decides; this asks it the way a run does (through
the workspace guard, within the guidance budget) and reports each candidate file, next
to learned memory (``memory/overview.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from tau_engine.agent.prompt import build_system_prompt, guidance_files, guidance_heading
from tau_engine.conversation import StoredMessage
from tau_engine.memory.overview import InstructionFile, MemoryOverview, build_overview
from tau_engine.memory.runtime import MemoryRuntime


def instruction_files(root: Path) -> list[InstructionFile]:
    """The workspace's guidance files and whether the system prompt holds each. Blocking."""
    skipped: list[str] = []
    prompt = build_system_prompt(root, skipped=skipped)
    files: list[InstructionFile] = []
    for path in guidance_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            size = path.lstat().st_size
        except OSError:
            size = 0
        if f"{guidance_heading(rel)}:\n" in prompt:
            files.append(InstructionFile(rel, size, True, "in the prompt"))
            continue
        why = next(
            (
                note.split(" not loaded: ", 1)[-1]
                for note in skipped
                if note.startswith(f"guidance file {rel} not loaded")
            ),
            "",
        )
        if not why:
            # The guard let it through: it is empty, or the guidance budget was spent.
            why = "empty" if _is_blank(path) else "left out: the guidance budget was spent"
        files.append(InstructionFile(rel, size, False, why))
    return files


def _is_blank(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return not handle.read(64 * 1024).strip()
    except OSError:
        return False


async def memory_overview(
    root: Path, memory: MemoryRuntime | None, history: Sequence[StoredMessage]
) -> MemoryOverview:
    """Both kinds of memory of the workspace at ``root`` and the session's last offer."""
    files = await asyncio.to_thread(instruction_files, root)
    service = memory.service if memory is not None else None
    return await build_overview(files, service, [stored.message for stored in history])
