"""The approval modes have one home (``tau_engine/protocol/approval.py``); every list of
them elsewhere is read from it, and these tests pin each reader to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.config import Settings
from tau_engine.errors import UsageError
from tau_engine.protocol.approval import (
    APPROVAL_MODES,
    MODE_HELP,
    ApprovalMode,
    cycle_description,
    next_mode,
    parse_approval_mode,
)
from tau_engine.safety import policy

ROOT = Path(__file__).resolve().parents[2]


def test_the_modes_in_order_each_with_its_help() -> None:
    assert APPROVAL_MODES == ("read-only", "ask", "auto-edit", "full-auto")
    assert set(MODE_HELP) == set(ApprovalMode)
    assert (
        ApprovalMode.AUTO_EDIT.help == "edit workspace files freely; ask before commands "
        "and network"
    )
    # The policy's mode is this enum, and its table has a row for each.
    assert policy.ApprovalMode is ApprovalMode
    for mode in ApprovalMode:
        assert policy.ToolPolicy(mode).verdict("read", "read") == "allow"


def test_parsing_names_the_choices() -> None:
    assert parse_approval_mode("full-auto") is ApprovalMode.FULL_AUTO
    with pytest.raises(
        UsageError,
        match="unknown approval mode 'yolo'; choose one of: read-only, ask, auto-edit, full-auto",
    ):
        parse_approval_mode("yolo")


def test_shift_tab_order_wraps_round() -> None:
    assert [next_mode(m) for m in APPROVAL_MODES] == [
        ApprovalMode.ASK,
        ApprovalMode.AUTO_EDIT,
        ApprovalMode.FULL_AUTO,
        ApprovalMode.READ_ONLY,
    ]
    assert next_mode("bogus") is ApprovalMode.READ_ONLY
    assert cycle_description() == "ask, auto-edit, full-auto, read-only"


def test_settings_and_the_cli_offer_the_same_modes() -> None:
    from tau_tui.cli import build_parser

    extra = Settings.model_fields["approval"].json_schema_extra
    assert isinstance(extra, dict) and extra["choices"] == list(APPROVAL_MODES)
    action = next(a for a in build_parser()._actions if a.dest == "approval")
    assert list(action.choices or []) == list(APPROVAL_MODES)


def test_the_docs_list_every_mode_and_the_shift_tab_order() -> None:
    tui = (ROOT / "docs" / "tui.md").read_text()
    cycle = " → ".join(f"`{m}`" for m in cycle_description().split(", "))
    assert cycle in tui
    for doc in ("cli.md", "safety.md", "tui.md"):
        text = (ROOT / "docs" / doc).read_text()
        assert all(f"`{mode}`" in text for mode in APPROVAL_MODES), doc
