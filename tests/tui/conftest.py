"""Fixtures of the app tests: a temp workspace, a fixed clock, the loopback provider.

Snapshots (pytest-textual-snapshot) are stored under the repository's top-level
``snapshots/`` folder instead of ``__snapshots__`` next to the tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from syrupy.location import PyTestLocation
from textual.app import App

from tau_tui.app import TauApp
from tests.support.scripted_server import ScriptedServer

SNAPSHOT_DIR = Path(__file__).resolve().parents[2] / "snapshots"
FIXED_MONOTONIC = 1000.0
FIXED_WALL_CLOCK = 1_750_000_000.0
SIZE = (100, 32)


class _RootSnapshotExtension(pytest_textual_snapshot.SVGImageExtension):
    """SVG snapshots in ``snapshots/<test module>/<test name>.svg``."""

    @classmethod
    def dirname(cls, *, test_location: PyTestLocation) -> str:
        return str(SNAPSHOT_DIR / Path(test_location.filepath).stem)


@pytest.fixture(autouse=True)
def _snapshots_at_top_level(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pytest_textual_snapshot, "SVGImageExtension", _RootSnapshotExtension)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as running:
        yield running


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    """A plain (non-git) workspace folder with one file."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "notes.txt").write_text("alpha\nbeta\n")
    return root


AppFactory = Callable[..., TauApp]


@pytest.fixture
def make_app(ws: Path) -> AppFactory:
    """Build the app on an engine for ``ws``: the scripted server's model, or offline/echo."""

    def build(
        server: ScriptedServer | None = None,
        *,
        approval: str = "ask",
        resume: str | None = None,
        continue_latest: bool = False,
        workspace: Path | None = None,
        theme: str = "tau-dark",
        workspace_label: str = "demo",
        first_prompt: str | None = None,
        trusted: bool = False,
        **settings: Any,
    ) -> TauApp:
        root = workspace or ws

        async def open_engine(approver: Any, **options: Any) -> Any:
            from tau_engine.config import Settings
            from tau_engine.engine import Engine
            from tau_engine.paths import WorkspacePaths

            env: dict[str, str] = {}
            if server is not None:
                settings.setdefault("model", "openai/gpt-test")
                settings.setdefault("base_url", server.url + "/v1")
                env["OPENAI_API_KEY"] = "test"
            loaded = Settings(approval=approval, **settings)
            loaded._workspace_trusted = trusted  # as load_settings marks a trusted workspace
            return await Engine.open(
                workspace=WorkspacePaths(root),
                settings=loaded,
                approver=approver,
                environ=env,
                resume=resume,
                continue_latest=continue_latest,
                default_approval="ask",
                **options,
            )

        from tau_engine.paths import WorkspacePaths

        return TauApp(
            open_engine,
            workspace_label=workspace_label,
            history_path=WorkspacePaths(root).history_path,
            theme=theme,
            clock=lambda: FIXED_MONOTONIC,
            wall_clock=lambda: FIXED_WALL_CLOCK,
            cursor_blink=False,
            first_prompt=first_prompt,
        )

    return build


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0) -> None:
    """Let the app run until ``predicate()`` is true (fails the test after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        await asyncio.sleep(0.01)


async def engine_ready(app: TauApp) -> None:
    await wait_for(lambda: app.agent.engine_ready.is_set())


async def idle(app: TauApp) -> None:
    """Wait for the running prompt (if any) to finish and the screen to settle."""
    await wait_for(lambda: not app.agent.running and not app.agent.pending)
    # Let the screen handle what the run posted last, then paint it.
    await wait_for(lambda: app.agent._message_queue.empty())
    await asyncio.sleep(0.05)


def screen_text(app: App[Any]) -> str:
    """The characters on screen, one line per row."""
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())
