"""What the shell drills into: a mission job's mission, the mission's evidence trail, and
evidence files that try to lead elsewhere."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tau_engine.status.drill import job_mission_id, mission_trail, read_evidence
from tests.support.operator_seed import GREEN_MISSION, NOW, add_job, open_store, seed_workspace


def _evidence(root: Path) -> Path:
    folder = root / ".tau" / "missions" / GREEN_MISSION
    (folder / "attempt-1").mkdir(parents=True)
    (folder / "attempt-1" / "verifier.log").write_text("1 passed\n")
    (folder / "diff.patch").write_text("+b\n")
    (folder / "PR.md").write_text("# PR\n")
    return folder


def test_the_trail_of_a_mission_is_in_drill_order(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=NOW)
    _evidence(tmp_path)
    trail = mission_trail(tmp_path, GREEN_MISSION)
    assert [step.title for step in trail] == [
        "mission",
        "attempt 1",
        "verifier log",
        "diff",
        "PR.md",
    ]  # no commit.txt: no such level
    assert trail[2].text == "1 passed\n"


def test_a_mission_job_leads_to_its_mission(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=NOW)
    conn = open_store(tmp_path)
    add_job(conn, "ab" * 16, state="succeeded", created_at=NOW, kind="mission")
    conn.execute(
        "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, started_at, "
        "detail) VALUES (?, 1, 1, 'submitted', '{}', ?, ?)",
        ("ab" * 16, NOW, json.dumps({"mission_id": GREEN_MISSION})),
    )
    conn.close()
    assert job_mission_id(tmp_path, "ab" * 16) == GREEN_MISSION
    assert job_mission_id(tmp_path, "cd" * 16) is None


def test_evidence_never_follows_a_link_or_leaves_its_folder(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=NOW)
    folder = _evidence(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=hunter2")
    (folder / "PR.md").unlink()
    os.symlink(secret, folder / "PR.md")
    assert read_evidence(folder, "PR.md") is None
    assert read_evidence(folder, "../../../secret.txt") is None
    assert read_evidence(folder, "/etc/passwd") is None
    os.mkfifo(folder / "diff.patch.fifo")
    assert read_evidence(folder, "diff.patch.fifo") is None  # never blocks on a pipe
    titles = [step.title for step in mission_trail(tmp_path, GREEN_MISSION)]
    assert "PR.md" not in titles
    assert mission_trail(tmp_path, "../../etc") == []


def test_a_linked_directory_on_the_way_is_not_followed(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=NOW)
    folder = _evidence(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "verifier.log").write_text("not evidence")
    os.rename(folder / "attempt-1", tmp_path / "moved")
    os.symlink(outside, folder / "attempt-1")
    assert read_evidence(folder, "attempt-1/verifier.log") is None
    assert "verifier log" not in [s.title for s in mission_trail(tmp_path, GREEN_MISSION)]
