"""``OperatorApp``: the Textual app of ``tau shell`` and ``tau watch`` (no engine, no model).

The operator screens only read the workspace's state and run ``tau jobs`` commands, so this
app opens no engine: it starts at once, even while another tau process holds the session
or the model is unreachable. The agent app reaches the same screen with a key (F2) and the
command palette.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from tau_tui.screens.operator import OperatorScreen, SnapshotReader
from tau_tui.themes import DEFAULT_THEME, load_themes, variable_defaults


class OperatorApp(App[int]):
    """The operator shell (``mode="shell"``) or live-watch (``mode="watch"``) on its own."""

    TITLE = "tau"
    # A default screen's own CSS_PATH is not loaded by Textual: the app loads it (absolute,
    # so that a subclass defined elsewhere, a test's or a bench's, finds it too).
    CSS_PATH = str(Path(__file__).resolve().parent / "screens" / "operator.tcss")
    BINDINGS = [
        Binding(
            "ctrl+c",
            "quit",
            "Quit",
            show=False,
            priority=True,
            id="operator.ctrl_c",
            tooltip="Quit",
        )
    ]

    def __init__(
        self,
        root: Path,
        *,
        mode: str = "shell",
        readonly: bool = False,
        interval_s: float = 1.0,
        reader: SnapshotReader | None = None,
        theme: str = DEFAULT_THEME,
        store_url: str | None = None,
    ) -> None:
        super().__init__()
        self.root = root
        self.mode = mode
        self.readonly = readonly
        self.interval_s = interval_s
        self.reader = reader
        self.store_url = store_url
        for loaded in load_themes(None).themes:
            self.register_theme(loaded)
        self.theme = theme if theme in self.available_themes else DEFAULT_THEME

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return variable_defaults(self.current_theme)

    def get_default_screen(self) -> Screen[Any]:
        return OperatorScreen(
            self.root,
            watch=self.mode == "watch",
            readonly=self.readonly,
            reader=self.reader,
            interval_s=self.interval_s,
            store_url=self.store_url,
        )


def run_operator_app(
    root: Path,
    *,
    mode: str,
    readonly: bool = False,
    interval_s: float = 1.0,
    store_url: str | None = None,
) -> int:
    """Run the operator app until the user quits (reading the store ``store_url`` names,
    else the workspace's SQLite file); its exit code."""
    app = OperatorApp(
        root, mode=mode, readonly=readonly, interval_s=interval_s, store_url=store_url
    )
    app.run()
    return app.return_code or 0
