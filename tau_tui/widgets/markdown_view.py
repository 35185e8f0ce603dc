"""``MarkdownView``: a whole Markdown answer as one light widget (Line API).

One widget per message, however long the message: it keeps the rendered lines
of each finished top-level block (rendered once per width and theme) and
re-renders only the unfinished tail while an answer streams in. Only the lines
in view are painted. Compare Textual's ``Markdown``: a widget per block, and a
reflow of every mounted widget per new block.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual.content import Content
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget

from tau_engine.text.terminal import strip_terminal_controls
from tau_tui.widgets.markdown_render import render_markdown, split_blocks, split_long_paragraph


class MarkdownView(Widget):
    """Rendered Markdown that can grow by appending text (streaming)."""

    DEFAULT_CSS = """
    MarkdownView {
        height: auto;
        width: 1fr;
    }
    """

    def __init__(
        self,
        text: str = "",
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._blocks: list[str] = []
        self._joined: set[int] = set()  # blocks continuing the previous one (no blank line)
        self._tail = ""
        self._tail_continues = False  # the tail goes on a paragraph cut by split_long_paragraph
        self._finished = False
        self._cache_key: tuple[Any, ...] | None = None
        self._committed: list[Strip] = []  # lines of the rendered finished blocks
        self._rendered_blocks = 0  # how many of _blocks are in _committed
        self._tail_lines: list[Strip] = []
        self._tail_dirty = True
        self._header: Content | None = None
        self._footer: Content | None = None
        self._header_lines: list[Strip] = []
        self._footer_lines: list[Strip] = []
        self._frame_dirty = True
        if text:
            self.append(text)

    # -- content ---------------------------------------------------------------
    @property
    def text(self) -> str:
        """The Markdown source shown so far."""
        out: list[str] = []
        for index, block in enumerate(self._blocks):
            if out:
                out.append(" " if index in self._joined else "\n\n")
            out.append(block)
        if self._tail:
            if out:
                out.append(" " if self._tail_continues else "\n\n")
            out.append(self._tail)
        return "".join(out)

    def append(self, text: str) -> None:
        """Add streamed text; only the unfinished tail is re-rendered.

        The text is untrusted (a model's answer): terminal controls are stripped, or
        an escape sequence in it would reach the user's terminal (a title, OSC 52).
        """
        text = strip_terminal_controls(text)
        if not text:
            return
        blocks, tail = split_blocks(self._tail + text)
        if blocks:
            if self._tail_continues:
                self._joined.add(len(self._blocks))
                self._tail_continues = False
            self._blocks.extend(blocks)
        head, tail = split_long_paragraph(tail)
        if head:
            if self._tail_continues:
                self._joined.add(len(self._blocks))
            self._blocks.append(head)
            self._tail_continues = True
        self._tail = tail
        self._tail_dirty = True
        self._changed()

    def finish(self) -> None:
        """The answer is complete: the tail becomes the last finished block."""
        self._finished = True
        if self._tail.strip():
            if self._tail_continues:
                self._joined.add(len(self._blocks))
            self._blocks.append(self._tail.strip("\n"))
        self._tail_continues = False
        self._tail = ""
        self._tail_dirty = True
        self._changed()

    def set_header(self, header: Content | None) -> None:
        """A line or two shown above the Markdown (e.g. the model's thinking)."""
        self._header = header
        self._frame_dirty = True
        self._changed()

    def set_footer(self, footer: Content | None) -> None:
        """A line shown below the Markdown (e.g. "interrupted")."""
        self._footer = footer
        self._frame_dirty = True
        self._changed()

    def _changed(self) -> None:
        if not self.is_mounted or self._cache_key is None:
            self.refresh(layout=True)
            return
        before = self.line_count
        frame_changed = self._frame_dirty
        first_changed = len(self._header_lines) + len(self._committed)
        self._update(self._cache_key)
        after = self.line_count
        if after != before or frame_changed:
            self.refresh(layout=True)
        else:
            width = self.size.width
            self.refresh(
                Region(0, min(first_changed, before), width, max(after - first_changed, 1))
            )

    # -- rendering -------------------------------------------------------------
    def _key(self, width: int) -> tuple[Any, ...]:
        return (width, self.app.theme, hash(self.visual_style))

    def _update(self, key: tuple[Any, ...]) -> None:
        if key != self._cache_key:
            self._cache_key = key
            self._committed = []
            self._rendered_blocks = 0
            self._tail_dirty = True
            self._frame_dirty = True
        width = key[0]
        while self._rendered_blocks < len(self._blocks):
            lines = self._strips(render_markdown(self._blocks[self._rendered_blocks], width), width)
            if self._committed and lines and self._rendered_blocks not in self._joined:
                self._committed.append(self._blank(width))
            self._committed.extend(lines)
            self._rendered_blocks += 1
        if self._tail_dirty:
            lines = self._strips(render_markdown(self._tail, width), width)
            if lines and self._committed and not self._tail_continues:
                lines.insert(0, self._blank(width))
            self._tail_lines = lines
            self._tail_dirty = False
        if self._frame_dirty:
            self._header_lines = (
                self._strips(self._header.wrap(width), width) if self._header else []
            )
            self._footer_lines = (
                self._strips(self._footer.wrap(width), width) if self._footer else []
            )
            self._frame_dirty = False

    def _blank(self, width: int) -> Strip:
        return Strip.blank(width, self.visual_style.rich_style)

    def _strips(self, lines: list[Content], width: int) -> list[Strip]:
        base = self.visual_style
        rich_base = base.rich_style
        strips = []
        for line in lines:
            segments = [
                Segment(text, style.rich_style if style else None)
                for text, style in line.render(base, end="")
            ]
            strips.append(Strip(segments).adjust_cell_length(width, rich_base))
        return strips

    @property
    def line_count(self) -> int:
        """Rendered lines at the current width (0 before the first layout)."""
        return (
            len(self._header_lines)
            + len(self._committed)
            + len(self._tail_lines)
            + len(self._footer_lines)
        )

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._update(self._key(width))
        return self.line_count

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        self._update(self._key(width))
        for lines in (self._header_lines, self._committed, self._tail_lines, self._footer_lines):
            if y < len(lines):
                return lines[y]
            y -= len(lines)
        return self._blank(width)
