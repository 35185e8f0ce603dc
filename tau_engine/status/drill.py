"""What the operator shell drills into below a row, one level at a time.

A mission job leads to its mission (``job_mission_id``: the id its attempts recorded). A
mission's trail is: the mission → its latest attempt → that attempt's verifier log → the
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
    """A file of an evidence folder, or None when absent, not a regular file, or reached
    through a link (the folder, any directory on the way or the file itself)."""
    parts = name.split("/")
    if not _RELATIVE.fullmatch(name) or any(part in ("", ".", "..") for part in parts):
        return None
    import stat

    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = os.open(folder, flags | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = inner
        inner = os.open(parts[-1], flags, dir_fd=fd)
        os.close(fd)
        fd = inner
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, MAX_CHARS * 4)
    except OSError:
        return None
    finally:
        os.close(fd)
    text = data.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "\n… (cut)"


def _fields(data: dict[str, object]) -> str:
    return "\n".join(
        f"{key}: {value}" for key, value in data.items() if not isinstance(value, dict | list)
    )


def job_mission_id(root: Path, job_id: str) -> str | None:
    """The mission a mission job ran (recorded by its latest attempt, or in its result)."""
    try:
        conn = open_readonly(root / ".tau" / "tau.db")
        try:
            rows = conn.execute(
                "SELECT detail FROM job_attempts WHERE job_id = ? ORDER BY attempt DESC", (job_id,)
            ).fetchall()
            rows += conn.execute(
                "SELECT result FROM jobs WHERE id = ? AND kind = 'mission'", (job_id,)
            ).fetchall()
        finally:
            conn.close()
    except Exception:
        return None
    for (text,) in rows:
        try:
            data = json.loads(text) if isinstance(text, str) else None
        except ValueError:
            continue
        if isinstance(data, dict):
            found = data.get("mission_id") or data.get("id")
            if isinstance(found, str) and _MISSION_ID.fullmatch(found):
                return found
    return None


def mission_trail(root: Path, mission_id: str) -> list[DrillStep]:
    """The levels below a mission row, in drill-down order (those that exist)."""
    if not _MISSION_ID.fullmatch(mission_id):
        return []
    db = root / ".tau" / "tau.db"
    try:
        conn = open_readonly(db)
        try:
            row = conn.execute("SELECT state FROM missions WHERE id = ?", (mission_id,)).fetchone()
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
        steps.append(DrillStep(f"attempt {attempt.get('number', len(attempts))}", _fields(attempt)))
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
