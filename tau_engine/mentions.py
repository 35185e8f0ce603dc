"""``@path`` mentions: the workspace's file list for completion, and attaching files.

Every front end gets the same behaviour through ``Engine.run`` (or
``Engine.expand_mentions`` when a front end wants to show the attachments
first). Both functions here block (they walk the tree and read files): call
them in a thread. Attaching appends each mentioned file's content to the
prompt, so the model sees it without a tool call; the prompt as typed stays
in the message's ``meta``. Paths resolve through the ``WorkspaceGuard``, so a
mention can never attach a file outside the workspace. A mention that is not
attached whole (missing, a folder, binary, cut at the size limit) gets a note,
which the engine emits as a ``mention`` notice for every front end to show.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.errors import WorkspaceError
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.workspace_files import relative_workspace_files

MAX_FILES = 20_000
MAX_ATTACHMENT_BYTES = 100_000
_MENTION = re.compile(r"(?:(?<=\s)|^)@([^\s@]+)")


def list_workspace_files(root: Path) -> list[str]:
    """Workspace-relative file paths, as grep and glob see them (git's view in a repository,
    the one skip list everywhere), at most ``MAX_FILES``."""
    return relative_workspace_files(root.resolve(), MAX_FILES)


def mentioned_paths(text: str) -> list[str]:
    """The ``@path`` tokens of a prompt, in order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _MENTION.finditer(text):
        seen.setdefault(match.group(1).rstrip(".,;:!?)"), None)
    return list(seen)


@dataclass(frozen=True)
class Attachments:
    """A prompt with its mentioned files attached, and what happened to each mention."""

    prompt: str  # the prompt to send: as typed, plus one block per attached file
    attached: list[str] = field(default_factory=list)  # the paths attached, in order
    notes: list[str] = field(default_factory=list)  # one line per mention not (fully) attached


def _size(count: int) -> str:
    return f"{count / 1000:.0f} KB" if count >= 1000 else f"{count} bytes"


def attach_mentions(text: str, root: Path) -> Attachments:
    """Append the mentioned files' contents to the prompt.

    A mention that is not attached whole says why in ``notes``: no such file, a
    folder, outside the workspace, binary, unreadable, or cut at the size limit
    (then the model gets the start). Mentions not attached stay in the prompt as typed.
    """
    guard = WorkspaceGuard(root)
    blocks: list[str] = []
    attached: list[str] = []
    notes: list[str] = []
    limit = _size(MAX_ATTACHMENT_BYTES)
    for rel in mentioned_paths(text):
        try:
            path = guard.resolve(rel)
        except WorkspaceError:
            notes.append(f"@{rel}: outside the workspace; not attached")
            continue
        if path.is_dir():
            notes.append(f"@{rel}: a folder; not attached (mention the files in it)")
            continue
        if not path.is_file():
            notes.append(f"@{rel}: no such file in the workspace; sent as typed")
            continue
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_ATTACHMENT_BYTES + 1)
                size = os.fstat(handle.fileno()).st_size
        except OSError as exc:
            notes.append(f"@{rel}: cannot read it ({exc.strerror or exc}); not attached")
            continue
        if b"\x00" in data[:8192]:
            notes.append(f"@{rel}: a binary file; not attached (the model sees its path)")
            continue
        body = data[:MAX_ATTACHMENT_BYTES].decode("utf-8", errors="replace")
        cut = ""
        if len(data) > MAX_ATTACHMENT_BYTES:
            cut = f"\n[... cut at {limit}]"
            notes.append(f"@{rel}: cut at {limit} of {_size(size)}; the model sees the start")
        blocks.append(f'<attached_file path="{rel}">\n{body}{cut}\n</attached_file>')
        attached.append(rel)
    if not blocks:
        return Attachments(text, [], notes)
    return Attachments(text + "\n\n" + "\n\n".join(blocks), attached, notes)


async def expand_prompt(
    text: str, root: Path, redact: Callable[[str], str]
) -> tuple[str, dict[str, Any] | None]:
    """Attach the files a prompt ``@mentions`` (in a thread): the prompt to send, and the
    message ``meta`` that keeps the prompt as typed, the attached paths and a note per
    mention not attached whole (None if the prompt mentions nothing).

    ``redact`` is applied to the prompt and the typed text: an attached file (``@.env``)
    may hold a key, and both are sent and stored."""
    found = await asyncio.to_thread(attach_mentions, text, root)
    prompt = redact(found.prompt)
    if not found.attached and not found.notes:
        return prompt, None
    meta: dict[str, Any] = {"typed": redact(text), "attachments": found.attached}
    if found.notes:
        meta["mention_notes"] = found.notes
    return prompt, meta
