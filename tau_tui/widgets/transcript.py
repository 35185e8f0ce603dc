"""``Transcript``: the conversation, windowed so long sessions stay fast.

Every entry of the session is kept as a light record (``entries``); widgets
exist only for a contiguous window of them (at most ``WINDOW`` normally).
Scrolling to the top or bottom edge of the window mounts the next batch of
older or newer entries and unmounts as many at the far end, keeping the
mounted widget count bounded whatever the session's length: Textual has no
widget virtualization and every layout pass costs ~20 µs per mounted widget.

The container uses ``layout: stream`` (cached placements: growing the last
widget re-arranges only the tail) and is anchored to the bottom until the user
scrolls up.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.widget import Widget

from tau_tui.widgets.entries import AssistantEntry, Entry
from tau_tui.widgets.messages import AssistantMessage, EntryWidget, widget_for
from tau_tui.widgets.worker_failures import ReportsWorkerFailures


class Transcript(ReportsWorkerFailures, VerticalScroll, can_focus=True):
    """The scrolling conversation. Holds entries; mounts only a window of them."""

    DEFAULT_CSS = """
    Transcript {
        layout: stream;
        height: 1fr;
        padding: 0 1 1 1;
        scrollbar-size-vertical: 1;
    }
    """

    WINDOW = 60  # entries mounted when the window is trimmed
    BATCH = 20  # entries mounted per step into older or newer history
    HARD_CAP = 120  # never more entries mounted than this, even while reading history
    EDGE_LINES = 2  # how close to the window's edge a scroll triggers a step

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.entries: list[Entry] = []
        self._lo = 0  # first mounted entry index
        self._hi = 0  # one past the last mounted entry index
        self._widgets: dict[int, EntryWidget] = {}
        self._stepping = False
        self._remounting = False
        # Bumped by every remount (load, jump): a step that began on an older window
        # drops what it was doing instead of writing stale bounds over the new one.
        self._generation = 0

    def on_mount(self) -> None:
        self.anchor()
        self.watch(self, "scroll_y", self._scrolled, init=False)

    # -- queries -----------------------------------------------------------------
    @property
    def window(self) -> tuple[int, int]:
        """The mounted range of entry indexes, ``[start, end)``."""
        return self._lo, self._hi

    @property
    def stepping(self) -> bool:
        """True while a batch of older or newer entries is being mounted. A scroll that
        lands meanwhile is kept relative to the content, so it may no longer be at the
        window's edge once the step ends."""
        return self._stepping

    def widget_of(self, entry: Entry) -> EntryWidget | None:
        """The widget showing ``entry``, if it is mounted."""
        return self._widgets.get(entry.uid)

    # -- changes -------------------------------------------------------------------
    def add(self, entry: Entry) -> None:
        """Append an entry; mount it if the end of the transcript is mounted."""
        tail_mounted = self._hi == len(self.entries)
        self.entries.append(entry)
        if not tail_mounted or self._hi - self._lo >= self.HARD_CAP:
            return
        widget = widget_for(entry)
        self._widgets[entry.uid] = widget
        self._hi += 1
        self.mount(widget)
        if self.following_output and self._hi - self._lo > self.WINDOW:
            self._unmount_range(self._lo, self._hi - self.WINDOW)
            self._lo = self._hi - self.WINDOW

    def refresh_entry(self, entry: Entry) -> None:
        """Re-render an entry's widget after the entry changed."""
        widget = self._widgets.get(entry.uid)
        if widget is not None:
            widget.update_entry()

    def append_text(self, entry: AssistantEntry, text: str) -> None:
        """Show streamed text of an answer (``entry.text`` already includes it)."""
        widget = self._widgets.get(entry.uid)
        if isinstance(widget, AssistantMessage):
            widget.append_text(text)

    async def load(self, entries: Iterable[Entry]) -> None:
        """Replace the whole transcript, showing its end."""
        self.entries = list(entries)
        await self._remount(max(0, len(self.entries) - self.WINDOW), len(self.entries))
        self.anchor()

    async def clear(self) -> None:
        """Forget every entry."""
        await self.load([])

    async def jump_to_start(self) -> None:
        """Show the first entries of the session (re-rendered from the records)."""
        self.release_anchor()
        await self._remount(0, min(len(self.entries), self.WINDOW))
        self.scroll_home(animate=False, immediate=True)

    async def jump_to_end(self) -> None:
        """Show the latest entries and follow new output again."""
        if self._hi != len(self.entries) or self._lo < len(self.entries) - self.HARD_CAP:
            await self._remount(max(0, len(self.entries) - self.WINDOW), len(self.entries))
        self.anchor()

    # -- windowing -------------------------------------------------------------------
    @property
    def following_output(self) -> bool:
        """Anchored to the bottom and not scrolled away by the user."""
        return bool(self.is_anchored and not self._anchor_released)

    def _unmount_range(self, start: int, end: int) -> None:
        gone = self._forget_widgets(start, end)
        if gone:
            self.remove_children(gone)

    async def _remount(self, start: int, end: int) -> None:
        self._generation += 1
        # Scrolling while the old children go and the new ones arrive is not a step.
        self._remounting = True
        try:
            self._widgets.clear()
            await self.remove_children()
            self._lo, self._hi = start, end
            widgets = [widget_for(entry) for entry in self.entries[start:end]]
            for entry, widget in zip(self.entries[start:end], widgets, strict=True):
                self._widgets[entry.uid] = widget
            if widgets:
                await self.mount_all(widgets)
        finally:
            self._remounting = False

    def _scrolled(self, scroll_y: float) -> None:
        if self._stepping or self._remounting:
            return
        generation = self._generation
        if scroll_y <= self.EDGE_LINES and self._lo > 0:
            self._stepping = True
            self.run_worker(
                self._step_back(generation),
                group="transcript-window",
                exclusive=True,
                exit_on_error=False,
            )
        elif scroll_y >= self.max_scroll_y - self.EDGE_LINES and self._hi < len(self.entries):
            self._stepping = True
            self.run_worker(
                self._step_forward(generation),
                group="transcript-window",
                exclusive=True,
                exit_on_error=False,
            )

    def _replaced(self, generation: int) -> bool:
        """Whether the window was remounted since a step began (the step then stops)."""
        return generation != self._generation or self._remounting

    async def _step_back(self, generation: int) -> None:
        """Mount a batch of older entries above the window, keeping the view still."""
        try:
            first = self._widgets.get(self.entries[self._lo].uid)
            if first is None or self._replaced(generation):
                return
            start = max(0, self._lo - self.BATCH)
            before_y = first.virtual_region.y
            batch = self.entries[start : self._lo]
            widgets = [widget_for(entry) for entry in batch]
            for entry, widget in zip(batch, widgets, strict=True):
                self._widgets[entry.uid] = widget
            await self.mount_all(widgets, before=first)
            if self._replaced(generation):
                return
            self._lo = start
            if self._hi - self._lo > self.WINDOW + self.BATCH:
                keep = self._lo + self.WINDOW + self.BATCH
                self._unmount_range(keep, self._hi)
                self._hi = keep
            await self._settle()
            if self._replaced(generation):
                return
            shift = first.virtual_region.y - before_y
            self.scroll_to(y=self.scroll_y + shift, animate=False, immediate=True)
        finally:
            self._stepping = False
            # A scroll that came while stepping was ignored: look at where we are now.
            self.call_after_refresh(self._recheck_edges)

    async def _step_forward(self, generation: int) -> None:
        """Mount a batch of newer entries below the window, unmounting older ones."""
        try:
            if self._replaced(generation):
                return
            end = min(len(self.entries), self._hi + self.BATCH)
            batch = self.entries[self._hi : end]
            widgets = [widget_for(entry) for entry in batch]
            for entry, widget in zip(batch, widgets, strict=True):
                self._widgets[entry.uid] = widget
            await self.mount_all(widgets)
            if self._replaced(generation):
                return
            self._hi = end
            if self._hi - self._lo > self.WINDOW + self.BATCH:
                new_lo = self._hi - self.WINDOW - self.BATCH
                keep = self._widgets[self.entries[new_lo].uid]
                before_y = keep.virtual_region.y
                await self.remove_children(self._forget_widgets(self._lo, new_lo))
                if self._replaced(generation):
                    return
                self._lo = new_lo
                await self._settle()
                if self._replaced(generation):
                    return
                shift = before_y - keep.virtual_region.y
                self.scroll_to(y=max(0, self.scroll_y - shift), animate=False, immediate=True)
        finally:
            self._stepping = False
            # A scroll that came while stepping was ignored: look at where we are now.
            self.call_after_refresh(self._recheck_edges)

    def _recheck_edges(self) -> None:
        self._scrolled(self.scroll_y)

    def _forget_widgets(self, start: int, end: int) -> list[Widget]:
        gone: list[Widget] = []
        for entry in self.entries[start:end]:
            widget = self._widgets.pop(entry.uid, None)
            if widget is not None:
                gone.append(widget)
        return gone

    async def _settle(self) -> None:
        """Wait until the new children have been laid out."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def settled() -> None:
            if not done.done():
                done.set_result(None)

        self.call_after_refresh(settled)
        await done
