"""``StatusBar``: workspace, branch, model, approval mode, safety profile, raised risk, tokens,
cost, context, activity.

After a prompt-injection flag the bar shows ``⚠ risk`` (in the error colour) until the user
clears it with ``/clear-risk``; it is the last thing a narrow terminal gives up."""

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
    profile: str = ""  # the safety profile: balanced, strict...
    risk: bool = False  # an injection flag raised the session's risk
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

    def __init__(
        self, *, clock: Callable[[], float] = time.monotonic, id: str | None = None
    ) -> None:
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
        width = self.content_region.width or self.size.width
        return fit_status(self.info, width, self._busy_marks() if self.busy else None)

    def _busy_marks(self) -> tuple[str, str]:
        running_for = self.clock() - self._started
        spinner = SPINNER[int(running_for / SPIN_INTERVAL) % len(SPINNER)]
        return spinner, format_elapsed(running_for)


@dataclass(frozen=True)
class _Squeeze:
    """How much of the status line to leave out; each step gives up more."""

    hint: bool = True  # "esc to interrupt"
    branch: bool = True
    full_path: bool = True
    wide_gaps: bool = True
    cost: bool = True
    tokens: bool = True
    path: bool = True
    activity: bool = True
    profile: bool = True


# Cumulative steps, least useful first: the hint goes and the path shortens before
# anything that matters while working (model, approval mode, context) is touched.
_SQUEEZES = [
    _Squeeze(),
    _Squeeze(hint=False),
    _Squeeze(hint=False, full_path=False),
    _Squeeze(hint=False, full_path=False, branch=False),
    _Squeeze(hint=False, full_path=False, branch=False, wide_gaps=False),
    _Squeeze(hint=False, full_path=False, branch=False, wide_gaps=False, cost=False),
    _Squeeze(hint=False, full_path=False, branch=False, wide_gaps=False, cost=False, tokens=False),
    _Squeeze(
        hint=False,
        full_path=False,
        branch=False,
        wide_gaps=False,
        cost=False,
        tokens=False,
        path=False,
    ),
    _Squeeze(
        hint=False,
        full_path=False,
        branch=False,
        wide_gaps=False,
        cost=False,
        tokens=False,
        path=False,
        activity=False,
    ),
    _Squeeze(
        hint=False,
        full_path=False,
        branch=False,
        wide_gaps=False,
        cost=False,
        tokens=False,
        path=False,
        activity=False,
        profile=False,
    ),
]


def _short_path(path: str) -> str:
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name or path


def _layout(
    info: StatusInfo, busy: tuple[str, str] | None, squeeze: _Squeeze
) -> tuple[Content, Content]:
    gap = "  │  " if squeeze.wide_gaps else " │ "
    left: list[tuple[str, str] | str] = []
    if busy is not None:
        spinner, elapsed = busy
        words = (
            [spinner, info.activity or "working", elapsed]
            if squeeze.activity
            else [spinner, elapsed]
        )
        left += [(" ".join(words), "$text-warning")]
        if squeeze.hint:
            left += ["  esc to interrupt"]
        left += [gap]
    elif info.activity:
        left += [(info.activity, "$text-muted"), gap]
    if squeeze.path and info.workspace:
        left += [(info.workspace if squeeze.full_path else _short_path(info.workspace), "bold")]
        if squeeze.branch and info.branch:
            left += [" ", (f"⎇ {info.branch}", "$text-secondary")]
        left += [gap]
    left += [
        (info.model or "no model", "$text-primary"),
        gap,
        (info.approval or "?", "$text-accent"),
    ]
    if squeeze.profile and info.profile:
        left += [" · ", (info.profile, "$text-secondary")]
    if info.risk:
        left += [" ", ("⚠ risk", "bold $text-error")]
    right: list[tuple[str, str] | str] = []
    about = "~" if info.estimated else ""  # tau estimated what the server did not report
    if squeeze.tokens:
        right += [
            f"↑{about}{format_tokens(info.input_tokens)} "
            f"↓{about}{format_tokens(info.output_tokens)}"
        ]
    if squeeze.cost and info.cost_usd is not None:
        right += [
            "  ",
            about + (f"${info.cost_usd:.4f}" if info.cost_usd < 1 else f"${info.cost_usd:.2f}"),
        ]
    if info.context_window:
        share = 100 * info.context_tokens / info.context_window
        style = "$text-error" if share >= 80 else ("$text-warning" if share >= 60 else "")
        right += ["  " if right else "", (f"ctx {share:.0f}%", style)]
    return Content.assemble(*left), Content.assemble(*right)


def fit_status(info: StatusInfo, width: int, busy: tuple[str, str] | None = None) -> Content:
    """The status line for ``width`` cells; ``busy`` is (spinner, elapsed) while a turn
    runs. What matters while working (model, approval mode, context) is kept longest:
    the hint and the path's parents go first, then the branch, cost, tokens and the
    path; past that the model id is cut short."""
    for squeeze in _SQUEEZES:
        left, right = _layout(info, busy, squeeze)
        if _fits(left, right, width):
            return _join(left, right, width)
    overflow = left.cell_length + right.cell_length + 2 - width
    model = info.model or "no model"
    if len(model) - overflow >= 5:
        left, right = _layout(
            info.with_(model=model[: len(model) - overflow - 1] + "…"), busy, _SQUEEZES[-1]
        )
        if _fits(left, right, width):
            return _join(left, right, width)
    return Content.assemble(left, "  ", right).truncate(max(width, 1), ellipsis=True)


def _fits(left: Content, right: Content, width: int) -> bool:
    spare = width - left.cell_length - right.cell_length
    return spare >= 2 or (spare >= 0 and not right.cell_length)


def _join(left: Content, right: Content, width: int) -> Content:
    if not right.cell_length:
        return left
    return Content.assemble(left, " " * (width - left.cell_length - right.cell_length), right)
