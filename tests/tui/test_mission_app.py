"""``/mission`` in the app: the card, live and settled, its keys, and stopping it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tau_tui.screens.evidence_viewer import EvidenceViewer
from tau_tui.widgets.mission_card import MissionCard
from tau_tui.widgets.mission_entry import MissionEntry
from tau_tui.widgets.prompt import PromptInput
from tests.missions.support import FIX, VERIFIER, git, make_calc_repo, write
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, settle, wait_for
from tests.tui.test_agent_turns import send


def mission_entry(app: Any) -> MissionEntry:
    entries = [e for e in app.agent.transcript.entries if isinstance(e, MissionEntry)]
    assert entries, "no mission card"
    return entries[-1]


async def settled(app: Any) -> MissionEntry:
    await wait_for(lambda: not mission_entry(app).running, timeout=120)
    await settle(app)
    return mission_entry(app)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = make_calc_repo(tmp_path / "repo")
    write(root / "fix.diff", FIX)
    return root


async def test_a_patch_mission_goes_green_live_and_commits(
    make_app: AppFactory, repo: Path
) -> None:
    app = make_app(workspace=repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        await send(pilot, f"/mission --verifier '{VERIFIER}' --patch fix.diff Fix add() so it adds")
        card = app.query_one(MissionCard)
        await wait_for(lambda: card.has_focus)  # one key away from the start
        entry = await settled(app)
        assert entry.outcome == "green" and entry.reason is None
        phases = [row.label for row in entry.rows]
        assert phases == [
            "intake",
            "branch",
            "red",
            "edit #1",
            "green #1",
            "checks",
            "commit",
            "evidence",
        ]
        assert all(row.status == "done" and row.duration_s is not None for row in entry.rows)
        assert entry.commit and entry.branch == f"tau/mission-{entry.mission_id}"
        await pilot.pause()
        text = screen_text(app)
        assert f"mission {entry.mission_id}" in text
        assert "✓ green · committed" in text and "RED: the verifier failed 2/2 runs" in text
        assert entry.evidence_dir == repo / ".tau" / "missions" / str(entry.mission_id)
        assert "evidence  " in text  # the path wraps under its start on a long tmp path
    # The user's checkout is untouched; the commit is on the mission's branch.
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(repo, "log", "-1", "--format=%s", entry.branch or "") == "Fix add() so it adds"
    assert "return a - b" in (repo / "calc" / "__init__.py").read_text()


async def test_the_cards_keys_copy_and_show_the_evidence(make_app: AppFactory, repo: Path) -> None:
    app = make_app(workspace=repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        await send(pilot, f"/mission --verifier '{VERIFIER}' --patch fix.diff Fix add() so it adds")
        entry = await settled(app)
        card = app.query_one(MissionCard)
        assert card.has_focus
        await pilot.pause()
        hint = "e copy evidence path · g copy gh command · p PR.md · esc back"
        assert hint in screen_text(app)
        evidence = repo / ".tau" / "missions" / str(entry.mission_id)
        await pilot.press("e")
        assert app.clipboard == str(evidence)
        await pilot.press("g")
        pr = (evidence / "PR.md").read_text()
        push, create = app.clipboard.split(" && ")
        assert push.startswith("git push -u origin tau/mission-")
        assert create.startswith("gh pr create --draft --base main --head tau/mission-")
        assert push in pr and create in pr  # the commands PR.md lists
        await pilot.press("p")
        await wait_for(lambda: isinstance(app.screen, EvidenceViewer))
        await pilot.pause()
        assert "PR.md" in screen_text(app)
        assert "failed before (2/2 runs), passes after" in screen_text(app)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, EvidenceViewer))
        # Any other key goes back to the prompt and is typed there.
        await pilot.press("h", "i")
        prompt = app.query_one(PromptInput)
        assert prompt.has_focus and prompt.text == "hi"


async def test_no_verifier_is_blocked_with_the_suggested_command(
    make_app: AppFactory, repo: Path
) -> None:
    app = make_app(workspace=repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        await send(pilot, "/mission --patch fix.diff Fix add() so it adds")
        entry = await settled(app)
        assert (entry.outcome, entry.reason) == ("blocked", "missing-verifier")
        assert entry.unblock_command is not None
        assert "--verifier 'python -m unittest'" in entry.unblock_command
        assert [row.phase for row in entry.rows] == ["intake", "evidence"]
        await pilot.pause()
        text = screen_text(app)
        assert "⊘ blocked (missing-verifier)" in text and "to unblock  tau mission run" in text
        assert "e copy evidence path · u copy unblock command · p report · esc back" in text
        await pilot.press("u")
        assert app.clipboard == entry.unblock_command
        await pilot.press("g")  # a blocked mission has no PR.md
        assert app.clipboard == entry.unblock_command
    assert git(repo, "branch", "--list", "tau/*") == ""


async def test_the_offline_model_is_never_edit_authority(make_app: AppFactory, repo: Path) -> None:
    """No --patch: the session's model edits; offline/echo is blocked as the CLI does."""
    app = make_app(workspace=repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        await send(pilot, "make add() add the numbers")  # the task: the last prompt
        await wait_for(lambda: not app.agent.running)
        await send(pilot, f"/mission --verifier '{VERIFIER}'")
        entry = await settled(app)
        assert (entry.outcome, entry.reason) == ("blocked", "missing-edit-authority")
        assert entry.title == "make add() add the numbers"
        assert "offline/echo is an offline model" in entry.message
        assert entry.unblock_command and "--patch PATCH.diff" in entry.unblock_command
        assert "--model" not in entry.unblock_command  # --patch and --model exclude each other


async def test_bad_arguments_are_one_error_line_and_no_card(
    make_app: AppFactory, repo: Path
) -> None:
    app = make_app(workspace=repo)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/mission --max-attempts zero fix it")
        await wait_for(lambda: "--max-attempts 'zero' is not a valid value" in screen_text(app))
        assert not [e for e in app.agent.transcript.entries if isinstance(e, MissionEntry)]


def held_verifier(repo: Path, hold: Path) -> str:
    """A committed verifier that waits while ``hold`` exists, then runs the tests."""
    script = repo / "check.sh"
    script.write_text(f"#!/bin/sh\nwhile [ -f {hold} ]; do sleep 0.1; done\nexec {VERIFIER}\n")
    script.chmod(0o755)
    git(repo, "add", "check.sh")
    git(repo, "commit", "-qm", "a verifier")
    return "./check.sh"


async def test_escape_stops_a_running_mission_and_resume_finishes_it(
    make_app: AppFactory, repo: Path, tmp_path: Path
) -> None:
    from tau_engine.missions.records import mission_lock
    from tau_engine.missions.service import MissionContext

    hold = tmp_path / "hold"
    hold.write_text("")
    verifier = held_verifier(repo, hold)
    app = make_app(workspace=repo)
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        await send(pilot, f"/mission --verifier {verifier} --patch fix.diff Fix add() so it adds")
        await wait_for(lambda: any(r.phase == "red" for r in mission_entry(app).rows), 60)
        assert app.query_one(MissionCard).has_focus
        # The app goes on meanwhile: a prompt runs; a second mission is refused.
        await send(pilot, "hello while it runs")
        await wait_for(lambda: "last user message: 'hello while it runs'" in screen_text(app))
        await send(pilot, "/mission --patch fix.diff again")
        await wait_for(lambda: "a mission is already running" in screen_text(app))
        assert mission_entry(app).running
        await pilot.click(MissionCard)
        assert app.query_one(MissionCard).has_focus  # a click focuses the card again
        await pilot.press("escape")  # on the card, Esc stops the running mission
        entry = await settled(app)
        assert entry.stopped and entry.outcome is None
        assert entry.rows[-1].phase == "red" and entry.rows[-1].status == "stopped"
        assert entry.next_command == f"tau mission resume {entry.mission_id}"
        assert app.agent.missions.worker is not None and app.agent.missions.worker.is_cancelled
        await pilot.pause()
        assert "■ stopped in phase red" in screen_text(app)
        assert f"to resume  tau mission resume {entry.mission_id}" in screen_text(app)
    mission_id = str(entry.mission_id)
    with mission_lock(repo / ".tau", mission_id):
        pass  # the runner let its lock go
    hold.unlink()
    context = MissionContext.open(repo)
    try:
        state = await context.resume(mission_id)
    finally:
        context.close()
    assert state.outcome is not None and state.outcome.value == "green"
    assert next(r.note for r in state.phases if r.name == "red") == "interrupted"
    assert len(git(repo, "log", "--format=%H", f"main..tau/mission-{mission_id}").split()) == 1
