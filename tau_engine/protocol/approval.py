"""The approval modes, declared once: their names in order, what each allows, and
what no mode confines.

The policy (``safety/policy.py``), settings (``config.py``), the CLI's
``--approval`` choices, the ``/approval`` command and picker, Shift+Tab in the app
and the REPL's help all read this module. It imports only the standard library:
the CLI's parser reads it before anything heavy loads.
"""

from __future__ import annotations

from enum import StrEnum

from tau_engine.errors import UsageError


class ApprovalMode(StrEnum):
    """How much a run may do unasked, from least to most (see ``safety/policy.py``)."""

    READ_ONLY = "read-only"
    ASK = "ask"
    AUTO_EDIT = "auto-edit"
    FULL_AUTO = "full-auto"

    @property
    def help(self) -> str:
        """What the mode allows, in one line."""
        return MODE_HELP[self]


APPROVAL_MODES: tuple[str, ...] = tuple(mode.value for mode in ApprovalMode)
"""The modes' names, least to most permissive (the order Shift+Tab cycles in)."""

MODE_HELP: dict[ApprovalMode, str] = {
    ApprovalMode.READ_ONLY: "read tools only; edits, commands and network are denied",
    ApprovalMode.ASK: "ask before edits, commands and network",
    ApprovalMode.AUTO_EDIT: "edit workspace files freely; ask before commands and network",
    ApprovalMode.FULL_AUTO: "run without asking what the safety profile allows; its deny rules "
    "hold",
}

APPROVAL_SCOPE = (
    "File tools stay inside the workspace; bash runs in the sandbox where "
    "bubblewrap works (tau doctor sandbox); http reaches public HTTPS hosts only."
)
"""What each mode confines, said plainly wherever a mode is chosen (docs/safety.md)."""


def parse_approval_mode(name: str) -> ApprovalMode:
    """The mode called ``name``; ``UsageError`` naming the choices for anything else."""
    try:
        return ApprovalMode(name)
    except ValueError:
        raise UsageError(
            f"unknown approval mode '{name}'; choose one of: {', '.join(APPROVAL_MODES)}"
        ) from None


def next_mode(mode: str) -> ApprovalMode:
    """The mode after ``mode``, wrapping round (the first one for an unknown name)."""
    modes = list(ApprovalMode)
    try:
        return modes[(modes.index(ApprovalMode(mode)) + 1) % len(modes)]
    except ValueError:
        return modes[0]


def cycle_description(start: ApprovalMode = ApprovalMode.ASK) -> str:
    """The modes in the order Shift+Tab reaches them from ``start``: "ask, auto-edit, ..."."""
    modes = list(ApprovalMode)
    at = modes.index(start)
    return ", ".join(mode.value for mode in modes[at:] + modes[:at])
