"""The operator screens: ``shell`` (panels, detail, drill-down, job actions) and ``watch``.

Both show the snapshot's panels (``tau_tui.plain.panels``: the same tables and counts as
``tau shell --no-color``) as DataTables with stable row keys, a health strip and a detail
pane for the selected row. The snapshot is read in a thread worker (it is SQLite and file
I/O); ``watch`` checks each tick whether the store or the logs changed
(``StoreWatcher``) and re-reads only then (or while a job runs: a lease can go stale
with no write). Job actions run the real ``tau jobs`` command in a worker after a
confirmation that shows it, so the screen holds no job logic of its own.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import Worker, WorkerState

from tau_tui.plain.panels import build_panels, clean, detail_lines, health_strip
from tau_tui.widgets.panel_table import PanelTable

SnapshotReader = Callable[[], dict[str, Any]]
PANEL_NAMES = ("sessions", "jobs", "missions", "memory", "providers", "audit")
SNAPSHOT_ROWS = 50
JOB_ROWS = 10_000  # DataTable renders only the visible lines: a fleet's jobs fit
HIGHLIGHT_S = 1.5  # how long watch marks a changed row
JOB_ACTIONS = {"recover": "recover", "replay": "replay", "block": "block", "cancel": "cancel"}
HELP = (
    "Tab/Shift+Tab panel · ↑↓ row · Enter detail, again to drill down · Esc back · "
    "/ filter · r refresh · y copy next command · ? help · q quit"
)
ACTION_HELP = " · jobs: R recover, P replay, B block, C cancel (asks first)"


def workspace_reader(root: Path, store_url: str | None = None) -> SnapshotReader:
    """Read the workspace's snapshot from the store ``store_url`` names (None: its SQLite
    file) (blocking: call it in a thread)."""
    from tau_engine.status.store_choice import read_store_snapshot

    return lambda: read_store_snapshot(
        root, store_url, limit=SNAPSHOT_ROWS, job_limit=JOB_ROWS
    ).to_json()


class OperatorScreen(Screen[None]):
    """The operator shell (``watch=False``) or the read-only live-watch screen."""

    CSS_PATH = "operator.tcss"
    BINDINGS = [
        Binding(
            "escape",
            "back",
            "Back",
            id="operator.back",
            tooltip="Leave the detail, one level at a time, or the screen",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="operator.filter",
            tooltip="Show only rows containing some text",
        ),
        Binding("r", "refresh", "Refresh", id="operator.refresh", tooltip="Read again now"),
        Binding(
            "y",
            "copy_next",
            "Copy next",
            id="operator.copy",
            tooltip="Copy the selected row's next command",
        ),
        Binding("question_mark", "help", "Help", id="operator.help", tooltip="Show the keys"),
        Binding(
            "R", "job('recover')", "Recover", id="operator.recover", tooltip="tau jobs recover"
        ),
        Binding("P", "job('replay')", "Replay", id="operator.replay", tooltip="tau jobs replay ID"),
        Binding("B", "job('block')", "Block", id="operator.block", tooltip="tau jobs block ID"),
        Binding("C", "job('cancel')", "Cancel", id="operator.cancel", tooltip="tau jobs cancel ID"),
        Binding("q", "quit_screen", "Quit", id="operator.quit", tooltip="Leave this screen"),
    ]

    def __init__(
        self,
        root: Path,
        *,
        watch: bool = False,
        readonly: bool = False,
        reader: SnapshotReader | None = None,
        interval_s: float = 1.0,
        store_url: str | None = None,
    ) -> None:
        super().__init__()
        self.root = root
        self.store_url = store_url
        self.live = watch
        self.readonly = readonly or watch
        self.reader = reader or workspace_reader(root, store_url)
        self.interval_s = interval_s
        self.data: dict[str, Any] | None = None
        self.filter_text = ""
        self.drill: list[tuple[str, str]] = []  # (title, text) levels below the selected row
        self.refreshes = 0  # snapshots applied (tests wait on it)
        self.highlight_s = HIGHLIGHT_S
        self._watcher: Any = None

    def compose(self) -> ComposeResult:
        yield Static("reading…", id="operator-health")
        yield Input(
            placeholder="filter rows (Enter keeps it, Esc clears it)",
            id="operator-filter",
            classes="-hidden",
        )
        with Horizontal(id="operator-body"):
            with VerticalScroll(id="operator-panels"):
                for name in PANEL_NAMES:
                    yield Static(name.capitalize(), classes="panel-title", id=f"title-{name}")
                    yield PanelTable(name)
            with Vertical(id="operator-side"):
                yield Static("", id="operator-crumbs")
                with VerticalScroll(id="operator-detail-scroll"):
                    yield Static("", id="operator-detail")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "tau watch" if self.live else "tau shell"
        self.query_one("#panel-sessions", PanelTable).focus()
        if self.live:
            from tau_engine.status.store_choice import store_watcher

            self._watcher = store_watcher(self.root, self.store_url)
            self.set_interval(self.interval_s, self._tick)
        self.action_refresh()

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.close()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """A read or an action that failed is one line on screen, never a crash."""
        if event.state is WorkerState.ERROR and event.worker.error is not None:
            error = event.worker.error
            text = str(error).strip().splitlines()
            self.notify(
                clean(f"{type(error).__name__}: {text[0] if text else ''}"),
                title="could not read the workspace"
                if event.worker.group == "operator-read"
                else "the action failed",
                severity="error",
            )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``--readonly`` and the watch screen hide the job actions."""
        if action == "job":
            return not self.readonly
        return True

    # -- reading ----------------------------------------------------------------------
    def action_refresh(self) -> None:
        self._read(force=True)

    def _tick(self) -> None:
        self._read(force=False)

    @work(thread=True, exclusive=True, group="operator-read", exit_on_error=False)
    def _read(self, force: bool) -> None:
        from tau_engine.status.objects import ages_alone

        running = self.data is not None and ages_alone(self.data)
        changed = self._watcher.changed() if self._watcher is not None else True
        if not (force or changed or running):
            return
        data = self.reader()
        self.app.call_from_thread(self._apply, data)

    def _apply(self, data: dict[str, Any]) -> None:
        self.data = data
        self.query_one("#operator-health", Static).update(Text(health_strip(data)))
        for panel in build_panels(data):
            self.query_one(f"#title-{panel.name}", Static).update(Text(clean(panel.title)))
            table = self.query_one(f"#panel-{panel.name}", PanelTable)
            highlight = self.live and self.refreshes > 0
            table.apply(panel, self.filter_text, highlight=highlight)
            if highlight and table.changed_keys:
                applied = table.applies
                self.set_timer(self.highlight_s, lambda t=table, n=applied: t.unhighlight(n))
        self.refreshes += 1
        self._show_detail()

    # -- selection, detail and drill-down ---------------------------------------------
    @property
    def table(self) -> PanelTable | None:
        focused = self.focused
        return focused if isinstance(focused, PanelTable) else None

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.drill = []
        self._show_detail()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Tab to another panel: the detail follows that panel's selected row."""
        if isinstance(event.widget, PanelTable):
            self.drill = []
            self._show_detail()

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self.drill_down()

    def drill_down(self) -> None:
        """Enter: the next level below the selected row (the row's detail first)."""
        table = self.table
        row = table.selected if table else None
        if row is None:
            return
        levels = self._levels(row.key, row.detail)
        if len(self.drill) < len(levels):
            self.drill.append(levels[len(self.drill)])
        self._show_detail()

    def _levels(self, key: str, detail: dict[str, Any]) -> list[tuple[str, str]]:
        fields = "\n".join(detail_lines(detail, self._now()))
        levels = [(key.split(":", 1)[0], fields)]
        from tau_engine.status.drill import job_mission_id, mission_trail

        if key.startswith("mission:"):
            levels += [
                (step.title, step.text)
                for step in mission_trail(self.root, str(detail.get("id", "")))[1:]
            ]
        elif key.startswith("job:") and detail.get("kind") == "mission":
            mission = job_mission_id(self.root, str(detail.get("id", "")))
            if mission is not None:
                levels += [(step.title, step.text) for step in mission_trail(self.root, mission)]
        return levels

    def _show_detail(self) -> None:
        table = self.table
        row = table.selected if table else None
        crumbs = self.query_one("#operator-crumbs", Static)
        detail = self.query_one("#operator-detail", Static)
        if row is None:
            crumbs.update("")
            detail.update(Text(HELP + ("" if self.readonly else ACTION_HELP)))
            return
        titles = [row.key.split(":", 1)[0] + " " + row.key.split(":", 1)[1][:8]]
        titles += [title for title, _ in self.drill[1:]]
        crumbs.update(Text(" › ".join(clean(t) for t in titles)))
        if self.drill:
            text = self.drill[-1][1]
        else:
            text = "\n".join(detail_lines(row.detail, self._now()))
            if row.next_command:
                text = f"next: {row.next_command}\n\n{text}\n\nEnter: drill down"
        detail.update(Text(clean_block(text)))

    def _now(self) -> float:
        """The snapshot's time: ages in the detail agree with the panels' ages."""
        return float(self.data["generated_at"]) if self.data else time.time()

    def action_back(self) -> None:
        """Esc: clear the filter, else go up one level, else leave the screen."""
        filter_box = self.query_one("#operator-filter", Input)
        if not filter_box.has_class("-hidden"):
            filter_box.value = ""
            filter_box.add_class("-hidden")
            self._set_filter("")
            if self.table is None:
                self.query_one("#panel-sessions", PanelTable).focus()
            return
        if self.drill:
            self.drill.pop()
            self._show_detail()
            return
        self.action_quit_screen()

    def action_quit_screen(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()
        else:
            self.app.exit()

    # -- filter, copy, help -----------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#operator-filter", Input)
        box.remove_class("-hidden")
        box.focus()

    @on(Input.Changed, "#operator-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._set_filter(event.value)

    @on(Input.Submitted, "#operator-filter")
    def _filter_kept(self, event: Input.Submitted) -> None:
        self.query_one("#panel-sessions", PanelTable).focus()

    def _set_filter(self, text: str) -> None:
        self.filter_text = text
        if self.data is not None:
            self._apply(self.data)

    def action_copy_next(self) -> None:
        table = self.table
        row = table.selected if table else None
        if row is None or not row.next_command:
            self.notify("this row has no next command", severity="warning")
            return
        self.app.copy_to_clipboard(row.next_command)
        self.notify(f"copied: {row.next_command}")

    def action_help(self) -> None:
        self.notify(HELP + ("" if self.readonly else ACTION_HELP), timeout=8)

    # -- job actions ------------------------------------------------------------------
    def job_command(self, action: str) -> list[str] | None:
        """The ``tau jobs`` arguments of ``action`` on the selected job (None: no job)."""
        table = self.table
        row = table.selected if table else None
        if row is None or not row.key.startswith("job:") or action not in JOB_ACTIONS:
            return None
        job_id = row.key.split(":", 1)[1]
        if action == "recover":
            return ["jobs", "recover"]
        return ["jobs", action, job_id]

    def action_job(self, action: str) -> None:
        if self.readonly:
            return
        command = self.job_command(action)
        if command is None:
            self.notify("select a job first", severity="warning")
            return
        self._confirm_and_run(command)

    @work(group="operator-action", exit_on_error=False)
    async def _confirm_and_run(self, command: list[str]) -> None:
        from tau_tui.screens.pickers import Choice, ChoicePicker

        shown = "tau " + shlex.join(command)
        answer = await self.app.push_screen_wait(
            ChoicePicker(
                f"Run {shown}?",
                [Choice("run", "Run it", shown), Choice("no", "Do nothing")],
                filterable=False,
                note=f"the same as typing: {shown} -w {self.root}",
            )
        )
        if answer != "run":
            return
        self._run_tau(command)

    @work(thread=True, group="operator-action", exit_on_error=False)
    def _run_tau(self, command: list[str]) -> None:
        import subprocess

        done = subprocess.run(
            [sys.executable, "-m", "tau_tui.cli", *command, "-w", str(self.root)],
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        output = (done.stdout.strip() or done.stderr.strip() or "done").splitlines()
        message = clean(output[-1][:200]) if output else "done"
        severity = "information" if done.returncode == 0 else "error"
        self.app.call_from_thread(
            self.notify, f"tau {shlex.join(command)}: {message}", severity=severity
        )
        self.app.call_from_thread(self.action_refresh)


def clean_block(text: str) -> str:
    """Multi-line text safe for the detail pane: lines kept, other control characters shown
    as ``?``."""
    return "\n".join(clean(line.expandtabs(4)) for line in text.split("\n"))
