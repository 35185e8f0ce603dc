"""Making untrusted text safe to print on a terminal.

Text from the model, from tools and from a session file is untrusted: a
hostile answer or a command's output can carry escape sequences that set the
terminal's title, write the clipboard (OSC 52), move the cursor to overwrite
what the user already read, switch character sets, or reset the terminal.
``strip_terminal_controls`` removes every such control before a front end
prints the text: ESC sequences (CSI, OSC, DCS, SOS, PM, APC and the short
two-character forms), their 8-bit C1 equivalents, every other C0 and C1
control except newline and tab, DEL, and the Unicode bidirectional override
and isolate characters that can make text read differently from what it is.
A carriage return ends a line (``\\r\\n`` and a lone ``\\r`` both become
``\\n``), so nothing printed after it can hide what came before.

It is stateless: an escape sequence split across two chunks of a stream
loses its ESC in the first chunk, so the rest prints as plain characters and
never reaches the terminal as a control. Standard library only, so the CLI can
use it without import cost.
"""

from __future__ import annotations

import re

# One alternation, scanned left to right; every branch consumes at least one
# character and none can backtrack beyond its own run, so the scan is linear.
_CONTROLS = re.compile(
    r"""
    \x1b\[ [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?       # CSI: parameters, intermediates, final
    | \x1b[\]PX^_] [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?  # OSC, DCS, SOS, PM, APC .. BEL or ST
    | \x1b [\x20-\x2f]* [\x30-\x7e]?                     # other escapes (ESC c, ESC ( B, ESC 7)
    | \x9b [\x30-\x3f]* [\x20-\x2f]* [\x40-\x7e]?        # 8-bit CSI
    | [\x9d\x90\x98\x9e\x9f] [^\x07\x1b\x9c]* (?:\x07|\x1b\\|\x9c)?  # 8-bit OSC, DCS, SOS, PM, APC
    | [\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f]   # the remaining C0, DEL and C1 controls
    | [\u202a-\u202e\u2066-\u2069]                       # bidi embeddings, overrides, isolates
    """,
    re.VERBOSE,
)
_CARRIAGE_RETURN = re.compile(r"\r\n?")


def strip_terminal_controls(text: str) -> str:
    """``text`` with every terminal control removed; newlines and tabs are kept."""
    if text.isprintable():
        return text  # the common case: nothing to do (no control, no newline)
    return _CONTROLS.sub("", _CARRIAGE_RETURN.sub("\n", text))
