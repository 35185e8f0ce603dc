"""The command table every front end renders: each slash command declared once in
the engine (``builtin.py``), run through ``CommandTable`` and answered with plain
data (``results.py``).

Importing this package loads only the standard library and the table's handlers'
module; what a handler needs is imported when it runs.
"""

from tau_engine.commands.builtin import COMMANDS
from tau_engine.commands.table import (
    Choice,
    ChoiceList,
    Command,
    CommandContext,
    CommandInput,
    CommandTable,
)

__all__ = [
    "COMMANDS",
    "Choice",
    "ChoiceList",
    "Command",
    "CommandContext",
    "CommandInput",
    "CommandTable",
]
