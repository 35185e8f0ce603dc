"""What the operator shell drills into below a row, one level at a time.

A mission's trail is: the mission → its latest attempt → that attempt's verifier log → the
diff → the commit → ``PR.md``, read from the store (read-only) and from the mission's
evidence folder ``.tau/missions/<id>/``. Both are workspace content, so untrusted: the id
must look like a mission id before it names a folder, files are opened without following
symlinks, only regular files are read and at most ``MAX_CHARS`` of each is shown.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tau_engine.status.record import record
from tau_engine.status.snapshot import open_readonly

MAX_CHARS = 64_000
_MISSION_ID = re.compile(r"[0-9a-f]{6,32}")
_RELATIVE = re.compile(r"[A-Za-z0-9._/-]{1,200}")


@record
class DrillStep:
    """One level: a title and the text shown for it."""

    title: str
    text: str


def read_evidence(folder: Path, name: str) -> str | None:
    """A file of an evidence folder, or None when absent, not a regular file or a link."""
    if not _RELATIVE.fullmatch(name) or ".." in name.split("/"):
        return None
    try:
        fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        import stat

        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_CHARS * 4)
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "\n… (cut)"


def _fields(data: dict[str, object]) -> str:
    return "\n".join(f"{key}: {value}" for key, value in data.items()
                     if not isinstance(value, dict | list))


def mission_trail(root: Path, mission_id: str) -> list[DrillStep]:
    """The levels below a mission row, in drill-down order (those that exist)."""
    if not _MISSION_ID.fullmatch(mission_id):
        return []
    db = root / ".tau" / "tau.db"
    try:
        conn = open_readonly(db)
        try:
            row = conn.execute("SELECT state FROM missions WHERE id = ?",
                               (mission_id,)).fetchone()
        finally:
            conn.close()
    except Exception:
        return []
    try:
        state = json.loads(row[0]) if row else None
    except ValueError:
        state = None
    if not isinstance(state, dict):
        return []
    folder = root / ".tau" / "missions" / mission_id
    steps = [DrillStep("mission", _fields(state))]
    attempts = [a for a in state.get("attempts") or [] if isinstance(a, dict)]
    if attempts:
        attempt = attempts[-1]
        steps.append(DrillStep(f"attempt {attempt.get('number', len(attempts))}",
                               _fields(attempt)))
        verifier = attempt.get("verifier")
        log = verifier.get("log") if isinstance(verifier, dict) else None
        text = read_evidence(folder, log) if isinstance(log, str) else None
        if text is not None:
            steps.append(DrillStep("verifier log", text))
    for name, title in (("diff.patch", "diff"), ("commit.txt", "commit"), ("PR.md", "PR.md")):
        text = read_evidence(folder, name)
        if text is not None:
            steps.append(DrillStep(title, text))
    return steps
