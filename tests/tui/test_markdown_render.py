"""Markdown rendering to lines and the streaming block split (no app needed)."""

from __future__ import annotations

from tau_tui.widgets.markdown_render import render_markdown, split_blocks


def plain(source: str, width: int = 40) -> list[str]:
    return [line.plain.rstrip() for line in render_markdown(source, width)]


def test_split_keeps_the_unfinished_tail_apart() -> None:
    blocks, tail = split_blocks("# Title\n\nfirst paragraph\n\nsecond para")
    assert blocks == ["# Title", "first paragraph"]
    assert tail == "second para"


def test_a_block_ends_only_when_the_next_one_has_begun() -> None:
    blocks, tail = split_blocks("para one\n\n")
    assert blocks == [] and tail == "para one\n\n"
    blocks, tail = split_blocks("para one\n\nn")
    assert blocks == ["para one"] and tail == "n"


def test_blank_lines_inside_a_fence_do_not_split() -> None:
    text = "```py\na = 1\n\nb = 2\n```\n\nafter"
    blocks, tail = split_blocks(text)
    assert blocks == ["```py\na = 1\n\nb = 2\n```"]
    assert tail == "after"
    blocks, tail = split_blocks("```\nopen fence\n\nstill code")
    assert blocks == [] and tail.startswith("```")


def test_indented_continuations_stay_with_their_list_item() -> None:
    blocks, tail = split_blocks("1. item\n\n   more of the item\n\nnext")
    assert blocks == ["1. item\n\n   more of the item"]
    assert tail == "next"


def test_splitting_then_joining_loses_no_text() -> None:
    text = "a\n\n```\nx\n\ny\n```\n\n- l1\n- l2\n\n  cont\n\nend"
    blocks, tail = split_blocks(text)
    assert "\n\n".join([*blocks, tail]) == text


def test_render_paragraph_wraps_and_drops_markup() -> None:
    lines = plain("Some **bold** and *italic* and `code` words that wrap around", 20)
    assert lines[0] == "Some bold and italic"
    assert all(len(line) <= 20 for line in lines)
    assert "code" in " ".join(lines)


def test_render_lists_with_markers_and_hanging_indent() -> None:
    lines = plain("- first item that is long enough to wrap\n- second\n  - nested", 20)
    assert lines[0].startswith("• first")
    assert lines[1].startswith("  ")
    assert any(line.strip().startswith("◦ nested") for line in lines)
    assert plain("3. c\n4. d")[:2] == ["3. c", "4. d"]


def test_render_code_block_keeps_lines_and_folds_long_ones() -> None:
    lines = plain("```python\nx = 1\n" + "y" * 50 + "\n```", 30)
    assert lines[0].strip() == "x = 1"
    assert len(lines) == 3  # the 50-char line folds onto two lines
    styled = render_markdown("```python\nimport os\n```", 30)[0]
    assert styled.spans, "code is highlighted with theme styles"


def test_render_table_and_quote_and_rule() -> None:
    lines = plain("| a | b |\n|---|---|\n| 1 | 22 |\n\n> quoted\n\n---", 30)
    assert lines[0] == "a │ b"
    assert lines[2] == "1 │ 22"
    assert "▎ quoted" in lines
    assert lines[-1] == "─" * 30


def test_long_paragraphs_are_cut_where_markup_is_balanced() -> None:
    from tau_tui.widgets.markdown_render import LONG_TAIL_CHARS, split_long_paragraph

    short = "word " * 10
    assert split_long_paragraph(short) == ("", short)
    long = "`code span` and **bold** words " * (LONG_TAIL_CHARS // 20)
    head, rest = split_long_paragraph(long)
    assert head and rest and f"{head} {rest}" == long
    assert head.count("`") % 2 == 0 and head.count("*") % 2 == 0
    listing = "- item " * LONG_TAIL_CHARS
    assert split_long_paragraph(listing) == ("", listing)


async def test_a_huge_streamed_paragraph_renders_all_its_words() -> None:
    from textual.app import App, ComposeResult

    from tau_tui.widgets.markdown_view import MarkdownView

    words = [f"w{i}" for i in range(2000)]

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield MarkdownView()

    app = Host()
    async with app.run_test(size=(60, 20)) as pilot:
        view = app.query_one(MarkdownView)
        for i in range(0, len(words), 100):
            view.append(" ".join(words[i : i + 100]) + " ")
            await pilot.pause()
        view.finish()
        await pilot.pause()
        rendered = " ".join(view.render_line(y).text.strip() for y in range(view.line_count))
        assert rendered.split() == words
        assert len(view._blocks) > 3  # the paragraph was cut, so the tail stayed short
