"""Edit an entry's text in the user's editor (``$VISUAL``, else ``$EDITOR``)."""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from pathlib import Path


def edit_in_editor(text: str) -> str:
    """The text after the user edited it; ``UsageError`` if no editor is set, the editor
    fails, or the text comes back unchanged or empty."""
    from tau_engine.errors import UsageError

    command = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not command:
        raise UsageError("no editor: give the new text with --text, or set VISUAL or EDITOR")
    with tempfile.TemporaryDirectory(prefix="tau-memory-") as folder:
        path = Path(folder) / "entry.md"
        path.write_text(text + "\n", encoding="utf-8")
        try:
            done = subprocess.run([*shlex.split(command), str(path)], check=False)
        except OSError as exc:
            raise UsageError(f"cannot run the editor {command!r}: {exc.strerror or exc}") from None
        if done.returncode != 0:
            raise UsageError(
                f"the editor {command!r} exited with code {done.returncode}; the entry is unchanged"
            )
        edited = path.read_text(encoding="utf-8", errors="replace").strip()
    if not edited:
        raise UsageError(
            "the edited text is empty; the entry is unchanged (retire it with tau memory retire ID)"
        )
    if edited == text.strip():
        raise UsageError("the text was not changed; the entry is unchanged")
    return edited
