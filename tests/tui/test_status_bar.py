"""The status line on narrow terminals: what goes first, and what always stays."""

from __future__ import annotations

from tau_tui.widgets.status_bar import StatusInfo, fit_status

INFO = StatusInfo(
    workspace="~/work/acme/platform-backend",
    branch="feature/login",
    model="anthropic/claude-sonnet-4-5",
    approval="auto-edit",
    input_tokens=12_300,
    output_tokens=4_500,
    cost_usd=0.1234,
    context_tokens=50_000,
    context_window=200_000,
)
BUSY = ("⠋", "12s")


def line(width: int, busy: bool = False) -> str:
    info = INFO.with_(activity="running bash") if busy else INFO
    text = fit_status(info, width, BUSY if busy else None).plain
    assert len(text) <= width
    return text


def test_everything_shows_when_there_is_room() -> None:
    text = line(170, busy=True)
    for part in (
        "⠋ running bash 12s",
        "esc to interrupt",
        "~/work/acme/platform-backend",
        "⎇ feature/login",
        "anthropic/claude-sonnet-4-5",
        "auto-edit",
        "↑12.3k ↓4.5k",
        "$0.1234",
        "ctx 25%",
    ):
        assert part in text


def test_things_go_in_order_and_model_mode_and_context_stay() -> None:
    # (part, first width at which it is gone), scanning down from wide to narrow.
    order = [
        "esc to interrupt",
        "~/work/",
        "⎇ feature/login",
        "  │  ",
        "$0.1234",
        "↑12.3k",
        "platform-backend",
        "running bash",
    ]
    gone_at: dict[str, int] = {}
    for width in range(170, 55, -1):
        text = line(width, busy=True)
        for part in order:
            if part not in text:
                gone_at.setdefault(part, width)
        assert "anthropic/claude-sonnet-4-5" in text and "auto-edit" in text
        assert "ctx 25%" in text
    assert [gone_at[p] for p in order] == sorted((gone_at[p] for p in order), reverse=True)
    assert "platform-backend" in line(80) and "~/work" not in line(80)


def test_past_that_the_model_id_is_cut_and_mode_and_context_stay() -> None:
    text = line(34)
    assert text.startswith("anthropic/cl") and "…" in text
    assert "auto-edit" in text and text.endswith("ctx 25%")


def test_the_profile_shows_and_the_raised_risk_is_the_last_thing_to_go() -> None:
    info = INFO.with_(profile="balanced", risk=True)
    wide = fit_status(info, 170).plain
    assert "auto-edit · balanced ⚠ risk" in wide
    # As long as the approval mode and the context stay (down to 34 columns), so does the risk.
    for width in range(170, 33, -1):
        text = fit_status(info, width).plain
        assert "⚠ risk" in text and "auto-edit" in text and len(text) <= width
    assert "balanced" not in fit_status(info, 40).plain  # the profile gives way first
    assert "⚠ risk" not in fit_status(INFO.with_(profile="balanced"), 170).plain
