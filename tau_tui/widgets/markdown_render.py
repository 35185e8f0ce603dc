"""Markdown to lines of Textual ``Content``, coloured only with theme variables.

Assistant answers are rendered here rather than with Textual's ``Markdown``
widget, which mounts a widget per block (~28 per 500 characters) and makes long
transcripts slow. ``render_markdown`` turns Markdown source into a list of
already wrapped lines for one width; ``split_blocks`` cuts a streaming answer
into finished top-level blocks (rendered once, cached) and the unfinished tail
(the only part re-rendered while tokens arrive).

Styles are strings such as ``"bold $text-primary"`` that Textual resolves
against the current theme at render time, so every theme colours Markdown and
code the same way it colours the rest of the app.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from textual.content import Content, Span
from textual.style import Style

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.tree import SyntaxTreeNode

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")

HEADING_STYLES = {
    "h1": "bold underline $text-primary",
    "h2": "bold $text-primary",
    "h3": "bold $text-secondary",
}
CODE_BLOCK_STYLE = "on $boost"
INLINE_CODE_STYLE = "$text-accent"
MUTED_STYLE = "$text-muted"
BULLETS = ("•", "◦", "▪")


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    from markdown_it import MarkdownIt

    return MarkdownIt("gfm-like")


def split_blocks(text: str) -> tuple[list[str], str]:
    """Split Markdown into complete top-level blocks and the unfinished tail.

    A block ends at a blank line outside a code fence once the next block has
    visibly begun (a non-blank, non-indented line follows), so an indented
    continuation of a list item never gets cut off from its item.
    """
    lines = text.split("\n")
    blocks: list[str] = []
    start = 0
    fence: str | None = None
    blank_at: int | None = None
    for index, line in enumerate(lines):
        is_last = index == len(lines) - 1
        if fence is not None:
            match = _FENCE.match(line)
            if (
                match
                and not is_last
                and match.group(1)[0] == fence[0]
                and len(match.group(1)) >= len(fence)
                and not match.group(2).strip()
            ):
                fence = None
            continue
        if not line.strip():
            if not is_last and blank_at is None:
                blank_at = index
            continue
        if blank_at is not None and not line[0].isspace():
            chunk = "\n".join(lines[start:blank_at]).strip("\n")
            if chunk.strip():
                blocks.append(chunk)
            start = index
        blank_at = None
        match = _FENCE.match(line)
        if match and not is_last:
            fence = match.group(1)
    return blocks, "\n".join(lines[start:])


LONG_TAIL_CHARS = 3000
_NOT_A_PARAGRAPH = re.compile(r"^( {4}|\t| {0,3}([-+*>#|]|\d+[.)]|`{3}|~{3}))")


def split_long_paragraph(tail: str) -> tuple[str, str]:
    """Cut a long streaming paragraph so only its end keeps being re-rendered.

    A tail that is one plain paragraph and longer than ``LONG_TAIL_CHARS`` is cut
    at a space where inline markup is balanced (an even number of backticks,
    asterisks and underscores before it). Returns ``(finished_part, rest)``;
    ``finished_part`` is empty when the tail is short or not a plain paragraph.
    The only visible effect is one early line break per cut.
    """
    if len(tail) <= LONG_TAIL_CHARS or "\n\n" in tail or _NOT_A_PARAGRAPH.match(tail):
        return "", tail
    limit = len(tail) - LONG_TAIL_CHARS // 3
    cut = tail.rfind(" ", 0, limit)
    while cut > 0:
        head = tail[:cut]
        if (
            head.count("`") % 2 == 0
            and head.count("*") % 2 == 0
            and head.count("_") % 2 == 0
            and head.count("[") == head.count("]")
        ):
            return head, tail[cut + 1 :]
        cut = tail.rfind(" ", 0, cut)
    return "", tail


def render_markdown(source: str, width: int) -> list[Content]:
    """Render Markdown source to wrapped lines at ``width`` cells."""
    if not source.strip():
        return []
    from markdown_it.tree import SyntaxTreeNode

    tree = SyntaxTreeNode(_parser().parse(source))
    return _render_children(tree, max(width, 8), tight=False)


def _render_children(node: SyntaxTreeNode, width: int, tight: bool) -> list[Content]:
    lines: list[Content] = []
    for child in node.children:
        rendered = _render_block(child, width, tight)
        if not rendered:
            continue
        if lines and not tight:
            lines.append(Content(""))
        lines.extend(rendered)
    return lines


def _render_block(node: SyntaxTreeNode, width: int, tight: bool) -> list[Content]:
    kind = node.type
    if kind == "paragraph":
        return _inline(node).wrap(width) if node.children else []
    if kind == "heading":
        text = _inline(node).stylize_before(HEADING_STYLES.get(node.tag, "bold"))
        return text.wrap(width)
    if kind in ("bullet_list", "ordered_list"):
        return _render_list(node, width)
    if kind == "blockquote":
        inner = _render_children(node, max(width - 2, 4), tight=False)
        bar = Content.styled("▎ ", MUTED_STYLE)
        return [bar + line.stylize_before("italic") for line in inner]
    if kind in ("fence", "code_block"):
        language = node.info.split()[0] if kind == "fence" and node.info.strip() else ""
        return render_code(node.content, language, width)
    if kind == "hr":
        return [Content.styled("─" * width, MUTED_STYLE)]
    if kind == "table":
        return _render_table(node, width)
    if kind == "html_block":
        return Content(node.content.rstrip("\n")).wrap(width)
    if node.children:
        return _render_children(node, width, tight)
    return Content(node.content.rstrip("\n")).wrap(width) if node.content else []


def _render_list(node: SyntaxTreeNode, width: int) -> list[Content]:
    ordered = node.type == "ordered_list"
    depth = sum(1 for p in _ancestors(node) if p.type in ("bullet_list", "ordered_list"))
    start = int(node.attrs.get("start", 1) or 1) if ordered else 1
    items = node.children
    markers = [
        f"{start + i}." if ordered else BULLETS[depth % len(BULLETS)] for i in range(len(items))
    ]
    marker_width = max((len(m) for m in markers), default=1) + 1
    tight = not _is_loose(node)
    lines: list[Content] = []
    for marker, item in zip(markers, items, strict=True):
        body = _render_children(item, max(width - marker_width, 4), tight=tight) or [Content("")]
        if lines and not tight:
            lines.append(Content(""))
        prefix = Content.styled(marker.rjust(marker_width - 1) + " ", "$text-accent")
        indent = Content(" " * marker_width)
        lines.append(prefix + body[0])
        lines.extend(indent + line if line.plain else line for line in body[1:])
    return lines


def _is_loose(node: SyntaxTreeNode) -> bool:
    # markdown-it hides the paragraphs of tight lists; visible ones mean "loose".
    for item in node.children:
        for child in item.children:
            if child.type == "paragraph" and not child.hidden:
                return True
    return False


def _ancestors(node: SyntaxTreeNode) -> list[SyntaxTreeNode]:
    out = []
    parent = node.parent
    while parent is not None:
        out.append(parent)
        parent = parent.parent
    return out


@lru_cache(maxsize=1)
def _builtin_languages() -> frozenset[str]:
    from pygments.lexers._mapping import LEXERS  # type: ignore[import-untyped]

    return frozenset(alias for entry in LEXERS.values() for alias in entry[2])


def known_language(language: str) -> str:
    """``language`` if Pygments has a built-in lexer for it, else ``"text"``.

    Pygments looks an unknown name up in every installed plugin (importing
    IPython, for one), which would stall the UI while a fence's info string
    is still streaming in ("pyt" before "python").
    """
    name = language.lower()
    return name if name in _builtin_languages() else "text"


def render_code(code: str, language: str, width: int) -> list[Content]:
    """A code block: highlighted with theme colours, folded (not wrapped) at ``width``."""
    from textual.highlight import highlight

    code = code.rstrip("\n")
    highlighted = highlight(code, language=known_language(language))
    lines: list[Content] = []
    inner = max(width - 2, 4)
    for line in highlighted.split("\n", allow_blank=True):
        line = line.expand_tabs(4)
        for piece in line.fold(inner) if line.cell_length > inner else [line]:
            padded = Content(" ") + piece + Content(" " * (inner - piece.cell_length + 1))
            lines.append(padded.stylize_before(CODE_BLOCK_STYLE))
    return lines


def _render_table(node: SyntaxTreeNode, width: int) -> list[Content]:
    rows: list[tuple[bool, list[Content]]] = []
    for section in node.children:
        for row in section.children:
            cells = [_inline(cell) if cell.children else Content("") for cell in row.children]
            rows.append((section.type == "thead", cells))
    if not rows:
        return []
    columns = max(len(cells) for _, cells in rows)
    widths = [0] * columns
    for _, cells in rows:
        for i, cell in enumerate(cells):
            widths[i] = max(widths[i], cell.cell_length)
    separator = " │ "
    budget = max(width - len(separator) * (columns - 1), columns * 3)
    while sum(widths) > budget:
        widest = widths.index(max(widths))
        widths[widest] -= 1
    lines: list[Content] = []
    for is_header, cells in rows:
        parts = []
        for i in range(columns):
            cell = cells[i] if i < len(cells) else Content("")
            cell = cell.truncate(widths[i], ellipsis=True).pad_right(
                max(widths[i] - cell.cell_length, 0)
            )
            parts.append(cell.stylize_before("bold") if is_header else cell)
        lines.append(Content.styled(separator, MUTED_STYLE).join(parts))
        if is_header:
            rule = "─┼─".join("─" * w for w in widths)
            lines.append(Content.styled(rule, MUTED_STYLE))
    return lines


class _InlineBuilder:
    """Collects text and style spans of one inline run."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.spans: list[Span] = []
        self.offset = 0

    def add(self, text: str, styles: list[str | Style]) -> None:
        if not text:
            return
        end = self.offset + len(text)
        self.spans.extend(Span(self.offset, end, style) for style in styles if style)
        self.parts.append(text)
        self.offset = end

    def content(self) -> Content:
        return Content("".join(self.parts), spans=self.spans)


_INLINE_STYLES = {"strong": "bold", "em": "italic", "s": "strike"}


def _inline(node: SyntaxTreeNode) -> Content:
    builder = _InlineBuilder()
    for child in node.children:
        _walk_inline(child, builder, [])
    return builder.content()


def _walk_inline(node: SyntaxTreeNode, out: _InlineBuilder, styles: list[str | Style]) -> None:
    kind = node.type
    if kind == "inline":
        for child in node.children:
            _walk_inline(child, out, styles)
    elif kind in ("text", "html_inline"):
        out.add(node.content, styles)
    elif kind == "softbreak":
        out.add(" ", styles)
    elif kind == "hardbreak":
        out.add("\n", styles)
    elif kind == "code_inline":
        out.add(node.content, [*styles, INLINE_CODE_STYLE])
    elif kind in _INLINE_STYLES:
        for child in node.children:
            _walk_inline(child, out, [*styles, _INLINE_STYLES[kind]])
    elif kind == "link":
        href = str(node.attrs.get("href", ""))
        link_styles: list[str | Style] = [*styles, "underline $text-primary", Style(link=href)]
        for child in node.children:
            _walk_inline(child, out, link_styles)
    elif kind == "image":
        alt = "".join(c.content for c in node.children) or str(node.attrs.get("src", ""))
        out.add(f"[image: {alt}]", [*styles, MUTED_STYLE])
    else:
        if node.children:
            for child in node.children:
                _walk_inline(child, out, styles)
        else:
            out.add(node.content, styles)
