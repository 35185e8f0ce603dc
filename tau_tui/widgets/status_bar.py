"""``StatusBar``: workspace, branch, model, approval mode, tokens, cost, context, activity."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPIN_INTERVAL = 0.2


def format_tokens(count: int) -> str:
    """``950``, ``12.3k``, ``1.2M``."""
    if count < 1000:
        return str(count)
    if count < 1_000_000:
        return f"{count / 1000:.1f}k"
    return f"{count / 1_000_000:.1f}M"


def format_elapsed(seconds: float) -> str:
    """``7s``, ``1m05s``."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s"


@dataclass(frozen=True)
class StatusInfo:
    """Everything the status bar shows; the screen replaces it as things change."""

    workspace: str = ""
    branch: str = ""
    model: str = ""
    approval: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    estimated: bool = False  # tau counted the tokens: the server reported none
    context_tokens: int = 0
    context_window: int | None = None
    activity: str = ""  # e.g. "starting", "thinking", "running bash"

    def with_(self, **changes: object) -> StatusInfo:
        return replace(self, **changes)  # type: ignore[arg-type]


class StatusBar(Widget):
    """One line at the bottom of the agent screen."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
    }
    StatusBar.-busy {
        color: $text;
    }
    """

    info: reactive[StatusInfo] = reactive(StatusInfo, layout=False)
    busy: reactive[bool] = reactive(False)

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.clock = clock
        self._started = 0.0
        self._timer: Timer | None = None

    def watch_busy(self, busy: bool) -> None:
        self.set_class(busy, "-busy")
        if busy:
            self._started = self.clock()
            if self._timer is None:
                self._timer = self.set_interval(SPIN_INTERVAL, self.refresh)
        elif self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.refresh()

    def render(self) -> Content:
        info = self.info
        left: list[tuple[str, str] | str] = []
        if self.busy:
            running_for = self.clock() - self._started
            spinner = SPINNER[int(running_for / SPIN_INTERVAL) % len(SPINNER)]
            elapsed = format_elapsed(running_for)
            left += [(f"{spinner} {info.activity or 'working'} {elapsed}", "$text-warning"),
                     "  esc to interrupt", "  │  "]
        elif info.activity:
            left += [(info.activity, "$text-muted"), "  │  "]
        left += [(info.workspace, "bold")]
        if info.branch:
            left += [" ", (f"⎇ {info.branch}", "$text-secondary")]
        left += ["  │  ", (info.model or "no model", "$text-primary"), "  │  ",
                 (info.approval or "?", "$text-accent")]
        about = "~" if info.estimated else ""
        right: list[tuple[str, str] | str] = [
            f"↑{about}{format_tokens(info.input_tokens)} "
            f"↓{about}{format_tokens(info.output_tokens)}"]
        if info.cost_usd is not None:
            right += ["  ", about + (f"${info.cost_usd:.4f}" if info.cost_usd < 1 else
                                     f"${info.cost_usd:.2f}")]
        if info.context_window:
            share = 100 * info.context_tokens / info.context_window
            style = "$text-error" if share >= 80 else ("$text-warning" if share >= 60 else "")
            right += ["  ", (f"ctx {share:.0f}%", style)]
        left_content = Content.assemble(*left)
        right_content = Content.assemble(*right)
        width = self.content_region.width or self.size.width
        gap = width - left_content.cell_length - right_content.cell_length
        if gap < 2:
            return left_content.truncate(max(width, 1), ellipsis=True)
        return Content.assemble(left_content, " " * gap, right_content)
