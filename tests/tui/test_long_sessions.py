"""Long sessions stay light: the transcript mounts a bounded window of widgets."""

from __future__ import annotations

from pathlib import Path

from tau_tui.widgets.transcript import Transcript
from tests.tui.conftest import SIZE, AppFactory, engine_ready, screen_text, wait_for
from tests.tui.long_session import create_long_session


def mounted_widgets(app) -> int:  # type: ignore[no-untyped-def]
    return sum(1 for _ in app.screen.walk_children(with_self=True))


async def test_a_thousand_message_session_mounts_a_bounded_window(
    make_app: AppFactory, ws: Path
) -> None:
    await create_long_session(ws, 1000)
    app = make_app(continue_latest=True)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        transcript = app.query_one(Transcript)
        assert len(transcript.entries) >= 1000
        start, end = transcript.window
        assert end == len(transcript.entries) and end - start <= Transcript.WINDOW
        assert mounted_widgets(app) < 150
        await wait_for(lambda: "resumed session" in screen_text(app))
        assert "This is message 999" in screen_text(app)

        await transcript.jump_to_start()
        await pilot.pause()
        assert transcript.window[0] == 0
        assert "question 0" in screen_text(app)
        assert mounted_widgets(app) < 150

        await transcript.jump_to_end()
        await pilot.pause()
        assert transcript.window[1] == len(transcript.entries)
        await wait_for(lambda: "This is message 999" in screen_text(app))


async def test_scrolling_up_mounts_older_entries_and_unmounts_newer(
    make_app: AppFactory, ws: Path
) -> None:
    await create_long_session(ws, 600)
    app = make_app(continue_latest=True)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        transcript = app.query_one(Transcript)
        # Scroll only once the loaded window has been laid out at the bottom: before
        # that, scrolling home changes nothing and no step is triggered.
        await wait_for(lambda: 0 < transcript.max_scroll_y == transcript.scroll_y)
        first_start = transcript.window[0]
        seen_starts = {first_start}
        for _ in range(6):
            transcript.scroll_home(animate=False, immediate=True)
            # Wait for the whole step: a scroll while one is settling is shifted with the
            # content it showed (the view stays still), so it would not reach the edge.
            await wait_for(
                lambda: transcript.window[0] not in seen_starts and not transcript.stepping
            )
            seen_starts.add(transcript.window[0])
            await pilot.pause()
        start, end = transcript.window
        assert start < first_start
        assert end < len(transcript.entries)  # the newest entries were unmounted
        assert end - start <= Transcript.WINDOW + Transcript.BATCH
        # The view stayed on the entries it showed (no jump to the window's top).
        assert transcript.scroll_y > 0
        await pilot.press("ctrl+end")
        await wait_for(lambda: transcript.window[1] == len(transcript.entries))


async def test_a_jump_while_a_step_is_starting_replaces_the_window_cleanly(
    make_app: AppFactory, ws: Path
) -> None:
    await create_long_session(ws, 600)
    app = make_app(continue_latest=True)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        transcript = app.query_one(Transcript)
        for _ in range(3):
            await wait_for(lambda: 0 < transcript.max_scroll_y == transcript.scroll_y)
            # Reaching the top starts a step into older entries (a worker); the jump
            # replaces the window before that step has run.
            transcript.scroll_home(animate=False, immediate=True)
            assert transcript.stepping
            await transcript.jump_to_start()
            await wait_for(lambda: not transcript.stepping)
            await pilot.pause()
            assert transcript.window == (0, Transcript.WINDOW)
            shown = [getattr(w, "entry", None) for w in transcript.children]
            assert shown == transcript.entries[: Transcript.WINDOW]
            await wait_for(lambda: "question 0" in screen_text(app))
            await transcript.jump_to_end()
            await wait_for(lambda: "This is message 599" in screen_text(app))


async def test_keys_page_and_jump_through_the_transcript(make_app: AppFactory, ws: Path) -> None:
    await create_long_session(ws, 200)
    app = make_app(continue_latest=True)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        transcript = app.query_one(Transcript)
        await wait_for(lambda: "resumed session" in screen_text(app))
        bottom = transcript.scroll_y
        assert bottom > 0
        await pilot.press("pageup")
        await wait_for(lambda: transcript.scroll_y < bottom)
        await pilot.press("ctrl+home")
        await wait_for(lambda: "question 0" in screen_text(app))
        await pilot.press("ctrl+end")
        await wait_for(lambda: "This is message 199" in screen_text(app))
