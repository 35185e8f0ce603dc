"""``/memory``: both kinds of memory, and what the last prompt was offered.

Instructions (the guidance files the system prompt holds, written by people) are shown
apart from learned memory (entries searched and offered per prompt, with what waits for
approval), and below them the offer recorded with the session's last prompt. Entry text
comes from the model or a file, so it is shown as plain text, never as markup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tau_tui.screens.pickers import PICKER_CSS

if TYPE_CHECKING:
    from tau_engine.memory.overview import MemoryOverview

_MUTED = "$text-muted"


def _date(timestamp: float) -> str:
    import datetime as _dt

    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).date().isoformat()


def _one_line(text: str, width: int = 70) -> str:
    flat = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


Section = tuple[str, list[Content]]


def overview_sections(overview: MemoryOverview) -> list[Section]:
    """The screen's sections: a heading and its lines."""
    instructions: list[Content] = []
    if not overview.instructions:
        instructions.append(Content.styled("none: add AGENTS.md at the workspace root", _MUTED))
    for item in overview.instructions:
        style = "" if item.in_prompt else "$text-warning"
        instructions.append(
            Content.assemble(
                f"{item.path:<28} ", (f"{item.chars:>7,} bytes  ", _MUTED), (item.status, style)
            )
        )
    return [
        ("Instructions · written by people, always in the prompt", instructions),
        ("Learned memory · searched and offered with each prompt", _learned_lines(overview)),
        ("Offered with the last prompt", _offer_lines(overview)),
    ]


def _learned_lines(overview: MemoryOverview) -> list[Content]:
    if not overview.enabled:
        return [Content.styled("off (memory = false in config.toml)", _MUTED)]
    lines = [
        Content(
            f"{overview.live} live · {overview.quarantined} quarantined · "
            f"{overview.retired} retired"
        )
    ]
    for row in overview.namespaces:
        lines.append(Content.assemble(f"· {row.namespace:<30}", (f"{row.live:>4} live", _MUTED)))
    if overview.pending:
        lines.append(
            Content.styled(
                "waiting for your approval (never shown to the model until approved):",
                "$text-warning",
            )
        )
    for entry in overview.pending:
        lines.append(
            Content.assemble(
                f"· #{entry.id} ",
                (f"{entry.namespace} · {entry.trust_reason} · ", _MUTED),
                _one_line(entry.text, 50),
            )
        )
    if overview.pending:
        lines.append(Content.styled("approve with /memory approve ID", _MUTED))
    return lines


def _offer_lines(overview: MemoryOverview) -> list[Content]:
    last = overview.last
    if last is None:
        return [Content.styled("no prompt in this session yet", _MUTED)]
    lines = [Content.assemble("prompt: ", (_one_line(last.prompt), _MUTED))]
    record = last.record
    if record is None:
        lines.append(Content.styled("nothing (memory was empty or off)", _MUTED))
        return lines
    if record.error:
        lines.append(Content.styled(f"not searched: {record.error}", "$text-error"))
        return lines
    lines.append(Content(record.line))
    for item in record.shown:
        matched = ", ".join(item.matched) or "-"
        lines.append(
            Content.assemble(
                f"· {item.label}",
                (f"  score {item.score:.3g} · {item.tokens} tokens · matched {matched}", _MUTED),
            )
        )
    for skipped in record.skipped:
        lines.append(Content.styled(f"· skipped #{skipped['id']}: {skipped['reason']}", _MUTED))
    return lines


class MemoryScreen(ModalScreen[None]):
    """The ``/memory`` overview; any of escape, q or enter closes it."""

    CSS = (
        "MemoryScreen { align: center middle; background: $background 60%; }\n"
        + PICKER_CSS
        + "#memory-body { height: auto; max-height: 70vh; }\n"
        ".memory-heading { text-style: bold; color: $text-primary; padding: 0 1; "
        "margin-top: 1; }\n.memory-section { padding: 0 1 0 3; }\n"
    )

    BINDINGS = [
        Binding("escape", "close", "Close", id="memory.close", tooltip="Close the overview"),
        Binding("q", "close", "Close", show=False, id="memory.quit"),
        Binding("enter", "close", "Close", show=False, id="memory.enter"),
    ]

    def __init__(self, overview: MemoryOverview) -> None:
        super().__init__()
        self.overview = overview

    def compose(self) -> ComposeResult:
        with Vertical(classes="picker-box"):
            yield Static("Memory", classes="picker-title")
            with VerticalScroll(id="memory-body"):
                for heading, lines in overview_sections(self.overview):
                    yield Static(heading, classes="memory-heading")
                    yield Static(Content("\n").join(lines), classes="memory-section")
            yield Static(
                "esc close · tau memory why shows the same in a shell", classes="picker-hint"
            )

    def on_mount(self) -> None:
        self.query_one("#memory-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
