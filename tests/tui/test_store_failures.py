"""A damaged store ends the app with the error, instead of leaving it with no model."""

from __future__ import annotations

from pathlib import Path

from tau_engine.errors import StoreDamagedError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.sqlite.errors import forget_damage
from tests.support.damage import damage_table, session_with_messages
from tests.tui.conftest import SIZE, AppFactory, wait_for


async def test_a_damaged_store_ends_the_app_with_what_to_do(make_app: AppFactory, ws: Path) -> None:
    await session_with_messages(ws)
    db_path = WorkspacePaths(ws).db_path
    damage_table(db_path, "messages")
    app = make_app(continue_latest=True)
    try:
        async with app.run_test(size=SIZE):
            await wait_for(lambda: app.startup_error is not None)
        assert isinstance(app.startup_error, StoreDamagedError)
        assert "tau sessions recover" in str(app.startup_error)
        assert app.return_code == 1
    finally:
        forget_damage(db_path)
