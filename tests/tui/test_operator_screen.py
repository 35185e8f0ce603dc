"""The operator shell and watch screens: navigation, drill-down, filter, job actions, the
selection surviving a refresh, ``--readonly``, and the same counts as ``tau status``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tau_engine.status.snapshot import read_snapshot
from tau_tui.operator_app import OperatorApp
from tau_tui.screens.operator import OperatorScreen
from tau_tui.widgets.panel_table import PanelTable
from tests.support.operator_seed import (
    GREEN_MISSION,
    NOW,
    STUCK_JOB,
    add_job,
    add_session,
    open_store,
    seed_workspace,
)
from tests.tui.conftest import screen_text, wait_for

SIZE = (120, 40)


def fixed_reader(root: Path) -> Any:
    """The snapshot at the seed's clock, with the disk figure fixed (snapshots compare)."""

    def read() -> dict[str, Any]:
        data = read_snapshot(root, limit=50, now=NOW).to_json()
        data["store"]["disk_free_bytes"] = 42 * 1024**3
        return data

    return read


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The detail pane shows local times: pin the zone so snapshots compare anywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    seed_workspace(tmp_path, now=NOW)
    evidence = tmp_path / ".tau" / "missions" / GREEN_MISSION
    (evidence / "attempt-1").mkdir(parents=True)
    (evidence / "attempt-1" / "verifier.log").write_text("1 passed in 0.01s\n")
    (evidence / "diff.patch").write_text("--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a\n+b\n")
    (evidence / "commit.txt").write_text("1234567890abcdef fix the parser\n")
    (evidence / "PR.md").write_text("# Fix the parser\n\nVerified green.\n")
    return tmp_path


def make_app(root: Path, **options: Any) -> OperatorApp:
    return OperatorApp(root, reader=fixed_reader(root), **options)


async def ready(app: OperatorApp, refreshes: int = 1) -> OperatorScreen:
    screen = app.screen
    assert isinstance(screen, OperatorScreen)
    await wait_for(lambda: screen.refreshes >= refreshes)
    await asyncio.sleep(0.05)
    return screen


def table(screen: OperatorScreen, name: str) -> PanelTable:
    return screen.query_one(f"#panel-{name}", PanelTable)


def detail_text(screen: OperatorScreen) -> str:
    return str(screen.query_one("#operator-detail").render())


async def test_panels_show_the_status_counts(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        data = read_snapshot(seeded, now=NOW).to_json()
        titles = {
            name: str(screen.query_one(f"#title-{name}").render())
            for name in ("sessions", "jobs", "missions")
        }
        assert titles["sessions"].startswith(f"Sessions {data['sessions']['count']} ·")
        assert titles["jobs"].startswith(
            f"Jobs {data['jobs']['total']} · running {data['jobs']['by_state']['running']}"
        )
        assert f"stale {data['jobs']['stale']} · stuck {data['jobs']['stuck']}" in titles["jobs"]
        assert titles["missions"].startswith(f"Missions {data['missions']['count']} ·")
        assert table(screen, "jobs").row_count == data["jobs"]["total"]


async def test_tab_moves_between_panels_and_enter_drills_down_esc_goes_back(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        assert pilot.app.focused is table(screen, "sessions")
        await pilot.press("tab", "tab")
        missions = table(screen, "missions")
        assert pilot.app.focused is missions
        await pilot.press("down")  # the older, green mission
        row = missions.selected
        assert row is not None and row.key == f"mission:{GREEN_MISSION}"
        trail = []
        for _ in range(6):
            await pilot.press("enter")
            await pilot.pause()
            trail.append(screen.drill[-1][0])
        assert trail == ["mission", "attempt 1", "verifier log", "diff", "commit", "PR.md"]
        assert "Verified green." in detail_text(screen)
        await pilot.press("enter")  # the end of the trail: it stays
        assert len(screen.drill) == 6
        await pilot.press("escape", "escape")
        assert [t for t, _ in screen.drill][-1] == "diff"
        assert "+b" in detail_text(screen)
        for _ in range(4):
            await pilot.press("escape")
        assert screen.drill == [] and pilot.app.screen is screen


async def test_the_detail_shows_local_times_and_ages_not_epoch_seconds(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        shown = detail_text(screen)  # the latest session, selected on entry
        assert "updated_at: 2027-01-15 07:58:20 (100 s ago)" in shown
        assert "1799999900" not in shown
        for _ in range(4):
            await pilot.press("tab")  # the providers panel: a breaker still cooling down
        shown = detail_text(screen)
        assert "breaker_until: 2027-01-15 08:00:25 (in 25 s)" in shown
        assert "ts: 2027-01-15 07:59:20 (40 s ago)" in shown


async def test_filter_hides_rows_and_esc_clears_it(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("slash")
        await pilot.press(*"stuck")
        jobs = table(screen, "jobs")
        await wait_for(lambda: jobs.row_count == 1)
        assert list(jobs.rows_by_key) == [f"job:{STUCK_JOB}"]
        assert table(screen, "sessions").row_count == 0
        await pilot.press("escape")
        await wait_for(lambda: jobs.row_count == 5)


async def test_selection_survives_a_refresh_with_new_rows(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("tab")
        jobs = table(screen, "jobs")
        await pilot.press("down", "down")
        chosen = jobs.selected
        assert chosen is not None
        conn = open_store(seeded)
        for index in range(3):
            add_job(conn, f"{index:032x}", state="queued", created_at=NOW + index)
        add_session(conn, "e5" * 16, updated_at=NOW, title="new one")
        conn.close()
        await pilot.press("r")
        await wait_for(lambda: jobs.row_count == 8)
        assert jobs.selected is not None and jobs.selected.key == chosen.key
        assert table(screen, "sessions").row_count == 4


async def test_copy_puts_the_next_command_on_the_clipboard(seeded: Path) -> None:
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("tab")
        jobs = table(screen, "jobs")
        await pilot.press(*["down"] * list(jobs.rows_by_key).index(f"job:{STUCK_JOB}"))
        await pilot.press("y")
        assert pilot.app.clipboard == f"tau jobs cancel {STUCK_JOB[:8]}"


async def test_a_job_action_asks_first_shows_the_command_and_runs_it(seeded: Path) -> None:
    from tau_tui.screens.pickers import ChoicePicker

    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("tab")
        jobs = table(screen, "jobs")
        await pilot.press(*["down"] * list(jobs.rows_by_key).index(f"job:{STUCK_JOB}"))
        await pilot.press("C")
        await wait_for(lambda: isinstance(pilot.app.screen, ChoicePicker))
        picker = pilot.app.screen
        assert isinstance(picker, ChoicePicker)
        assert picker.title_text == f"Run tau jobs cancel {STUCK_JOB}?"
        assert f"tau jobs cancel {STUCK_JOB} -w {seeded}" in picker.note
        await pilot.press("escape")  # no: nothing runs
        await wait_for(lambda: pilot.app.screen is screen)
        state = (
            open_store(seeded)
            .execute("SELECT cancel_requested_at FROM jobs WHERE id = ?", (STUCK_JOB,))
            .fetchone()
        )
        assert state == (None,)
        await pilot.press("C")
        await wait_for(lambda: isinstance(pilot.app.screen, ChoicePicker))
        await pilot.press("enter")
        conn = open_store(seeded)
        await wait_for(
            lambda: (
                conn.execute(
                    "SELECT cancel_requested_at IS NOT NULL FROM jobs WHERE id = ?", (STUCK_JOB,)
                ).fetchone()
                == (1,)
            ),
            timeout=60,
        )
        conn.close()


async def test_readonly_hides_the_actions(seeded: Path) -> None:
    async with make_app(seeded, readonly=True).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("tab", "C")
        await pilot.pause()
        assert pilot.app.screen is screen
        keys = {
            b.binding.key
            for b in pilot.app.active_bindings.values()
            if b.binding.action.startswith("job")
        }
        assert keys == set()


async def test_watch_refreshes_when_another_writer_commits(seeded: Path) -> None:
    app = OperatorApp(seeded, mode="watch", interval_s=0.05)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(app)
        assert screen.readonly
        screen.highlight_s = 2.0
        sessions = table(screen, "sessions")
        assert sessions.row_count == 3
        applied = screen.refreshes
        await asyncio.sleep(0.3)
        # Nothing changed and no job's lease can age (the seed's clock is the future): only
        # the running jobs make it re-read, every tick.
        conn = open_store(seeded)
        add_session(conn, "e5" * 16, updated_at=NOW + 10, title="from another process")
        conn.close()
        await wait_for(lambda: sessions.row_count == 4)
        assert screen.refreshes > applied
        new_key = f"session:{'e5' * 16}"
        assert set(sessions.marked) == {new_key}  # only the new row is marked
        assert all(cell.style == PanelTable.HIGHLIGHT for cell in sessions.get_row(new_key))
        # Later reads (the running jobs') leave the row alone; the mark still goes away.
        await wait_for(lambda: all(not cell.style for cell in sessions.get_row(new_key)))
        assert sessions.marked == {} and screen.refreshes > applied + 2
        await pilot.press("q")


async def test_a_read_that_fails_is_a_notice_not_a_crash(seeded: Path) -> None:
    calls = []

    def failing() -> dict[str, Any]:
        calls.append(1)
        raise PermissionError("cannot open .tau/tau.db")

    notified: list[str] = []

    class RecordingApp(OperatorApp):
        """Records what it is asked to notify (``App.notify`` is public; the app's list of
        notifications is not)."""

        def notify(self, message: str, **options: Any) -> None:
            notified.append(message)
            super().notify(message, **options)

    app = RecordingApp(seeded, reader=failing)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: any("cannot open" in message for message in notified))
        assert pilot.app.is_running and calls


async def test_the_agent_screen_opens_the_shell_with_f2(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await wait_for(lambda: isinstance(pilot.app.screen, OperatorScreen))
        await pilot.press("q")
        await wait_for(lambda: not isinstance(pilot.app.screen, OperatorScreen))


async def test_the_palette_opens_the_shell(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"operator shell")
        # The palette searches in a worker: Enter only once the entry (its help) is shown.
        await wait_for(lambda: "providers and audit" in screen_text(pilot.app))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(pilot.app.screen, OperatorScreen))


def test_snapshot_shell_on_a_seeded_workspace(snap_compare: Any, seeded: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot.app)
        await pilot.press("tab", "down")  # the stuck job, with its detail

    assert snap_compare(make_app(seeded), terminal_size=SIZE, run_before=run_before)


def test_snapshot_shell_at_80x24_keeps_the_attention_reasons(
    snap_compare: Any, seeded: Path
) -> None:
    """A narrow screen cuts the health strip's end: the reasons come first."""

    async def run_before(pilot: Any) -> None:
        await ready(pilot.app)
        await pilot.press("tab", "tab", "tab", "tab")  # the providers, an open breaker

    assert snap_compare(make_app(seeded), terminal_size=(80, 24), run_before=run_before)


def test_snapshot_watch_on_a_seeded_workspace(snap_compare: Any, seeded: Path) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot.app)

    app = make_app(seeded, mode="watch", interval_s=60)
    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


async def test_a_mission_job_drills_into_its_mission(seeded: Path) -> None:
    import json

    conn = open_store(seeded)
    add_job(conn, "ab" * 16, state="succeeded", created_at=NOW, kind="mission")
    conn.execute(
        "INSERT INTO job_attempts (job_id, attempt, fence, reason, owner, started_at, "
        "detail) VALUES (?, 1, 1, 'submitted', '{}', ?, ?)",
        ("ab" * 16, NOW, json.dumps({"mission_id": GREEN_MISSION})),
    )
    conn.close()
    async with make_app(seeded).run_test(size=SIZE) as pilot:
        screen = await ready(pilot.app)  # type: ignore[arg-type]
        await pilot.press("tab")
        jobs = table(screen, "jobs")
        await pilot.press(*["down"] * list(jobs.rows_by_key).index(f"job:{'ab' * 16}"))
        for _ in range(4):
            await pilot.press("enter")
        assert [title for title, _ in screen.drill] == [
            "job",
            "mission",
            "attempt 1",
            "verifier log",
        ]
        assert "1 passed" in detail_text(screen)


def test_every_key_of_the_screen_is_in_the_guide() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    table = guide.split("| key | what it does |", 1)[1].split("\n\n", 1)[0]
    shown = {"escape": "| Esc |", "slash": "| `/` |", "question_mark": "| `?` |"}
    for binding in OperatorScreen.BINDINGS:
        key = binding.key  # type: ignore[union-attr]
        assert shown.get(key, f"`{key}`") in table, key
