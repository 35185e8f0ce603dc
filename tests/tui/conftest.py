"""Fixtures of the app tests: a temp workspace, a fixed clock, the loopback provider.

Snapshots (pytest-textual-snapshot) are stored under the repository's top-level
``snapshots/`` folder instead of ``__snapshots__`` next to the tests.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_textual_snapshot
from rich.cells import cell_len
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
    while True:
        asked = loop.time()
        if predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        # A predicate that reads the screen (``screen_text`` renders it: a few ms) is asked
        # less often, so polling takes at most a fifth of the time the app has to run.
        await asyncio.sleep(max(0.01, 4 * (loop.time() - asked)))


async def engine_ready(app: TauApp) -> None:
    await wait_for(lambda: app.agent.engine_ready.is_set())


async def settle(app: App[Any], timeout: float = 10.0) -> None:
    """Wait until the app, its current screen and the screen's widgets have handled every
    message queued for them, twice over (a handler of the first round may post to a
    child), and the screen has painted since.

    Public Textual API only: ``call_later`` queues a callback behind the messages already
    waiting (``Pilot.pause`` settles the screen the same way) and ``wait_for_refresh``
    returns after the next paint."""
    for _ in range(2):
        pumps = [app, *app.screen.walk_children(with_self=True)]
        handled = []
        for pump in pumps:
            done = asyncio.Event()
            if pump.call_later(done.set):  # False: the widget is closing; nothing to wait for
                handled.append(done.wait())
        await asyncio.wait_for(asyncio.gather(*handled), timeout)
    await asyncio.wait_for(app.screen.wait_for_refresh(), timeout)


async def idle(app: TauApp) -> None:
    """Wait for the running prompt (if any) to finish and the screen to settle."""
    await wait_for(lambda: not app.agent.running and not app.agent.pending)
    # Let the screen handle what the run posted last, then paint it.
    await settle(app)


# One text cell of the SVG screenshot (Rich's ``Console.export_svg``): its column (x in
# units of the character width), its row (the clip path's line number) and its text.
_SVG_TEXT = re.compile(
    r'<text class="[^"]*" x="([0-9.]+)" y="[0-9.]+" textLength="[0-9.]+" '
    r'clip-path="url\(#[^"]*-line-([0-9]+)\)">([^<]*)</text>'
)
_SVG_CHAR_WIDTH = 20 * 0.61  # export_svg's character height times its font aspect ratio


def screen_text(app: App[Any]) -> str:
    """The characters on screen, one line per row.

    Read from ``App.export_screenshot`` (public; it renders the whole screen, overlays and
    modals included): its SVG places each run of text at a column of a row."""
    height = app.size.height
    rows: list[list[tuple[int, str]]] = [[] for _ in range(height)]
    for x, line, content in _SVG_TEXT.findall(app.export_screenshot()):
        text = html.unescape(content).replace("\xa0", " ")
        rows[int(line)].append((round(float(x) / _SVG_CHAR_WIDTH), text))
    lines = []
    for runs in rows:
        line = ""
        for column, text in sorted(runs):
            line += " " * max(0, column - cell_len(line)) + text
        lines.append(line.rstrip())
    return "\n".join(lines)
