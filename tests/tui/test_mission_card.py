"""The mission card fed ``mission_phase`` events through the real bridge, its snapshot,
and the bridge's lifecycle messages, each handled on purpose by the agent screen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.message import Message
from textual.pilot import Pilot

from tau_engine.events import (
    MissionPhaseEvent,
    RunStarted,
    SessionFinished,
    SessionStarted,
    UserMessage,
)
from tau_tui.bridge import EngineBridge
from tau_tui.widgets.entries import UserEntry
from tau_tui.widgets.mission_card import MissionCard
from tau_tui.widgets.mission_entry import MissionEntry
from tests.tui.conftest import (
    FIXED_WALL_CLOCK,
    SIZE,
    AppFactory,
    engine_ready,
    screen_text,
    settle,
    wait_for,
)

T0 = FIXED_WALL_CLOCK
MISSION = "bf4505152d6c"
# (phase, status, attempt, note, seconds after T0)
BRANCH_NOTE = f"worktree .tau/worktrees/{MISSION} on tau/mission-{MISSION} from 36184f449bb5"
INTAKE_NOTE = "authority patch /tmp/demo/fix.diff; verifier 'python3 -m unittest -v'"
EDIT_NOTE = "attempt 1: applied the patch to calc/__init__.py (+1 -1 in 1 file)"
PHASES: list[tuple[str, str, int | None, str, float]] = [
    ("intake", "finished", None, INTAKE_NOTE, 0.05),
    ("branch", "started", None, "", 0.05),
    ("branch", "finished", None, BRANCH_NOTE, 0.2),
    ("red", "started", None, "", 0.2),
    ("red", "finished", None, "RED: the verifier failed 2/2 runs (exit 1; 1 failing test)", 1.4),
    ("edit", "started", None, "", 1.4),
    ("edit", "finished", 1, EDIT_NOTE, 1.45),
    ("green", "started", 1, "", 1.45),
    ("green", "finished", 1, "attempt 1: GREEN (verifier exit 0)", 2.1),
    ("checks", "started", None, "", 2.1),
    ("checks", "finished", None, "test files unchanged", 2.12),
    ("commit", "started", None, "", 2.12),
    ("commit", "finished", None, "green: committed cf16c2f2c9bf on tau/mission-bf4505152d6c", 2.3),
    ("evidence", "started", None, "", 2.3),
    ("evidence", "finished", None, "evidence in /tmp/demo/.tau/missions/bf4505152d6c", 2.4),
]  # fmt: skip


def recording_stop(message: Message) -> list[bool]:
    """What the handler passed to the message's public ``stop()``, as it is called."""
    calls: list[bool] = []
    stop = message.stop

    def recorded(stop_it: bool = True) -> Message:
        calls.append(stop_it)
        return stop(stop_it)

    message.stop = recorded  # type: ignore[method-assign,assignment]
    return calls


def phase_event(phase: str, status: str, attempt: int | None, note: str, at: float) -> Any:
    event = MissionPhaseEvent(
        mission_id=MISSION,
        phase=phase,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        attempt=attempt,
        note=note,
        outcome="green" if phase == "commit" and status == "finished" else None,  # type: ignore[arg-type]
    )
    event.ts = T0 + at
    return event


async def green_card(app: Any, upto: int = len(PHASES)) -> MissionEntry:
    """A running mission's card, fed ``upto`` phase events through the bridge's sink."""
    entry = MissionEntry(task="Fix add() so that it adds", started_at=T0)
    app.agent.missions.entry = entry
    app.agent.transcript.add(entry)
    sink = app.agent.bridge.sink
    for item in PHASES[:upto]:
        # The bus stamps ts on emit; here the sink is called directly, as the bus would.
        sink(phase_event(*item))
    await settle(app)
    return entry


def finish(app: Any, entry: MissionEntry) -> None:
    entry.running = False
    entry.finished_at = T0 + 2.4
    entry.title = entry.task
    entry.commit, entry.branch = "cf16c2f2c9bf0e1d", f"tau/mission-{MISSION}"
    entry.evidence_dir = Path(f"/tmp/demo/.tau/missions/{MISSION}")
    app.agent.missions.entry = None
    app.agent.transcript.refresh_entry(entry)


async def test_phases_show_live_as_their_events_arrive(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await engine_ready(app)
        entry = await green_card(app, upto=8)  # up to attempt 1's GREEN check starting
        await wait_for(lambda: [r.label for r in entry.rows][-1:] == ["green #1"])
        assert [(r.label, r.status) for r in entry.rows] == [
            ("intake", "done"),
            ("branch", "done"),
            ("red", "done"),
            ("edit #1", "done"),
            ("green #1", "running"),
        ]
        assert entry.rows[2].duration_s == pytest.approx(1.2)
        await pilot.pause()
        text = screen_text(app)
        assert f"mission {MISSION}" in text and "running" in text
        assert "RED: the verifier failed 2/2 runs" in text and "running…" in text
        sink = app.agent.bridge.sink
        for item in PHASES[8:]:
            sink(phase_event(*item))
        await wait_for(lambda: entry.outcome == "green")
        assert all(r.status == "done" for r in entry.rows)


async def test_a_phase_event_with_no_mission_running_adds_nothing(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        before = list(app.agent.transcript.entries)
        message = EngineBridge.MissionPhaseChanged(phase_event(*PHASES[0]))
        stopped = recording_stop(message)
        app.agent.post_message(message)
        await wait_for(lambda: stopped)  # handled (and stopped) by the screen
        assert app.agent.transcript.entries == before


@pytest.mark.parametrize("size", [(120, 40), (80, 24)], ids=["120x40", "80x24"])
def test_finished_mission_card(
    snap_compare: Any, make_app: AppFactory, size: tuple[int, int]
) -> None:
    async def run_before(pilot: Pilot[int]) -> None:
        app: Any = pilot.app
        await engine_ready(app)
        entry = await green_card(app)
        finish(app, entry)
        card = app.query_one(MissionCard)
        card.focus()
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=size, run_before=run_before)


# -- the lifecycle messages: each handled deliberately -------------------------------------


async def test_user_message_fills_the_attachments_the_model_got(make_app: AppFactory) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        entry = app.agent.controller.prompt_sent("look at the notes")
        event = UserMessage(run_id="r1", message_id="m1", text="…", attachments=["notes.txt"])
        app.agent.bridge.sink(event)
        await wait_for(lambda: entry.attachments == ["notes.txt"])
        await pilot.pause()
        assert "↳ notes.txt" in screen_text(app)
        # An entry that already lists them (from expand_mentions) is left as it is.
        app.agent.bridge.sink(event.model_copy(update={"attachments": ["other.txt"]}))
        await settle(app)
        assert entry.attachments == ["notes.txt"]


@pytest.mark.parametrize(
    "event",
    [
        SessionStarted(model="offline/echo", workspace="/w"),
        SessionFinished(reason="switched", runs=2),
        RunStarted(run_id="r1", model="offline/echo"),
    ],
    ids=["session_started", "session_finished", "run_started"],
)
async def test_lifecycle_events_shown_elsewhere_are_consumed_and_add_no_line(
    make_app: AppFactory, event: Any
) -> None:
    """What the app already shows another way: the session commands' results, the resume
    line, the prompt and the busy bar (``lifecycle_handlers.py`` says which)."""
    app = make_app()
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        before = list(app.agent.transcript.entries)
        kinds: dict[type, Any] = {
            SessionStarted: EngineBridge.SessionBegan,
            SessionFinished: EngineBridge.SessionEnded,
            RunStarted: EngineBridge.RunBegan,
        }
        message = kinds[type(event)](event)
        stopped = recording_stop(message)
        app.agent.post_message(message)
        await wait_for(lambda: stopped)
        assert app.agent.transcript.entries == before
        assert not [e for e in before if isinstance(e, UserEntry)]


def test_the_evidence_viewer_never_follows_a_planted_link(tmp_path: Path) -> None:
    """``.tau/`` is the workspace's: a PR.md linked to a private file is not shown."""
    from tau_tui.screens.evidence_viewer import read_evidence

    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    folder = tmp_path / "evidence"
    folder.mkdir()
    (folder / "PR.md").symlink_to(secret)
    (folder / "report.json").write_text('{"resolved": "FULL"}')
    assert read_evidence(folder) == ("report.json", '{"resolved": "FULL"}')
    (folder / "report.json").unlink()
    name, text = read_evidence(folder)
    assert name == "" and "PRIVATE" not in text
