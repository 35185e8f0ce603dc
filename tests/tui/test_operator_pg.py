"""The watch screen on a PostgreSQL store: it reads the database it was given, not the
workspace's SQLite file, and follows another connection's commits."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tau_tui.operator_app import OperatorApp
from tau_tui.screens.operator import OperatorScreen
from tau_tui.widgets.panel_table import PanelTable
from tests.cli.tau_process import run_tau
from tests.support.operator_seed import seed_workspace
from tests.tui.conftest import wait_for

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (tau[postgres])")


async def test_watch_screen_follows_a_postgresql_store(tmp_path: Path, postgres_url: str) -> None:
    seed_workspace(tmp_path, now=time.time())
    assert run_tau(["store", "migrate", "--to", postgres_url], cwd=tmp_path).returncode == 0
    (tmp_path / ".tau" / "tau.db").unlink()  # only the database holds the rows now
    app = OperatorApp(tmp_path, mode="watch", interval_s=0.05, store_url=postgres_url)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = app.screen
        assert isinstance(screen, OperatorScreen)
        sessions = screen.query_one("#panel-sessions", PanelTable)
        await wait_for(lambda: sessions.row_count == 3)
        with psycopg.connect(postgres_url, autocommit=True) as other:
            other.execute(
                "INSERT INTO sessions (id, title, model, created_at, updated_at) "
                "VALUES (%s, 'from another machine', 'offline/echo', %s, %s)",
                ("e5" * 16, time.time(), time.time()),
            )
        await wait_for(lambda: sessions.row_count == 4)
        assert f"session:{'e5' * 16}" in sessions.marked
        await pilot.press("q")
