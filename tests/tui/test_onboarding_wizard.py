"""The setup wizard: each step, Back/Next, cancel (nothing written), Write (files and
modes), a confirmed identity diff, the model probe, and the first run of the app."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, OptionList, RadioButton

from tau_engine.config import Settings
from tau_engine.paths import WorkspacePaths, user_config_dir
from tau_tui.app import TauApp, workspace_engine_factory
from tau_tui.screens.onboarding.app import OnboardingApp, SetupCancelledError
from tau_tui.screens.onboarding.context import build_context
from tau_tui.screens.onboarding.wizard import OnboardingWizard, WizardOutcome
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer
from tests.tui.conftest import (
    FIXED_MONOTONIC,
    FIXED_WALL_CLOCK,
    SIZE,
    engine_ready,
    screen_text,
    wait_for,
)

KEY = "sk-ant-typed-in-the-wizard-0123456789"


def wizard_app(ws: Path, environ: dict[str, str] | None = None) -> OnboardingApp:
    context = build_context(
        WorkspacePaths(ws), Settings(), workspace_label="demo", environ=environ or {}
    )
    return OnboardingApp(context)


def wizard(app: Any) -> OnboardingWizard:
    screen = app.screen
    assert isinstance(screen, OnboardingWizard)
    return screen


async def at_step(pilot: Pilot[Any], number: int) -> None:
    await wait_for(
        lambda: (
            isinstance(pilot.app.screen, OnboardingWizard) and wizard(pilot.app).index == number - 1
        )
    )
    await pilot.pause()


def written(ws: Path) -> list[Path]:
    return [*user_config_dir().rglob("*"), *((ws / ".tau").rglob("*"))] + (
        [ws / ".tau"] if (ws / ".tau").exists() else []
    )


def highlight(app: Any, list_id: str, option_id: str) -> None:
    options = app.screen.query_one(f"#{list_id}", OptionList)
    for index in range(options.option_count):
        if options.get_option_at_index(index).id == option_id:
            options.highlighted = index
            return
    raise AssertionError(f"no option {option_id} in {list_id}")


async def test_each_step_in_order_back_keeps_the_answers(ws: Path) -> None:
    app = wizard_app(ws, {"OPENAI_API_KEY": "sk-proj-abcdefghijklmnopwXyZ"})
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        text = screen_text(app)
        assert "Step 1 of 7 · Provider" in text
        assert "key found: environment OPENAI_API_KEY …wXyZ" in text
        assert wizard(app).choices.provider == "openai"  # the provider with a key
        titles = []
        for number in range(1, 8):
            await at_step(pilot, number)
            titles.append(f"Step {number} of 7 · {wizard(app).step.title}")
            assert titles[-1] in screen_text(app)
            if number < 7:
                await pilot.press("ctrl+n")
        assert [t.split(" · ")[1] for t in titles] == [
            "Provider",
            "Key",
            "Model",
            "Workspace",
            "Identity",
            "Safety",
            "Summary",
        ]
        assert "✓ Provider  ✓ Key  ✓ Model" in screen_text(app)
        for number in range(6, 0, -1):
            await pilot.press("ctrl+b")
            await at_step(pilot, number)
        highlight(app, "provider-list", "anthropic")
        await pilot.press("enter")
        await at_step(pilot, 2)
        assert app.screen.query_one("#key-variable", Input).value == "ANTHROPIC_API_KEY"
        await pilot.press("ctrl+b")
        await at_step(pilot, 1)
        highlighted = app.screen.query_one(OptionList).highlighted_option
        assert highlighted is not None and highlighted.id == "anthropic"
    assert written(ws) == []


async def test_escape_cancels_at_any_step_and_writes_nothing(ws: Path) -> None:
    app = wizard_app(ws, {"OPENAI_API_KEY": "sk-proj-abcdefghijklmnopwXyZ"})
    async with app.run_test(size=SIZE) as pilot:
        for number in range(1, 7):
            await at_step(pilot, number)
            await pilot.press("ctrl+n")
        await at_step(pilot, 7)
        await wait_for(lambda: "Files (action, mode, path)" in screen_text(app))
        await pilot.press("escape")
        await pilot.pause()
    assert app.return_value is None
    assert written(ws) == []


async def test_a_typed_key_is_masked_and_written_only_on_write(ws: Path) -> None:
    app = wizard_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        highlight(app, "provider-list", "anthropic")
        await pilot.press("enter")
        await at_step(pilot, 2)
        app.screen.query_one("#key-typed", RadioButton).value = True
        await pilot.pause()
        secret = app.screen.query_one("#key-secret", Input)
        secret.focus()
        await pilot.press(*KEY)
        assert KEY not in screen_text(app) and "•" * 10 in screen_text(app)
        await pilot.press("enter")
        await at_step(pilot, 3)
        for number in (3, 4, 5, 6):
            await at_step(pilot, number)
            await pilot.press("ctrl+n")
        await at_step(pilot, 7)
        await wait_for(lambda: "Files (action, mode, path)" in screen_text(app))
        assert KEY not in screen_text(app) and written(ws) == []
        assert "typed (hidden), to be stored in credentials.toml" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(lambda: app.return_value is not None)
    outcome = app.return_value
    assert isinstance(outcome, WizardOutcome)
    credentials = user_config_dir() / "credentials.toml"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(user_config_dir().stat().st_mode) == 0o700
    assert f'anthropic = "{KEY}"' in credentials.read_text()
    assert (ws / ".tau" / "SOUL.md").is_file() and (ws / ".tau" / ".gitignore").is_file()
    assert (
        'key_source = "credentials"'
        in (user_config_dir() / "profiles" / "default.toml").read_text()
    )


async def test_a_short_key_is_refused_on_next(ws: Path) -> None:
    app = wizard_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        await pilot.press("enter")
        await at_step(pilot, 2)
        app.screen.query_one("#key-typed", RadioButton).value = True
        await pilot.pause()
        app.screen.query_one("#key-secret", Input).value = "sk-1"
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert wizard(app).index == 1
        assert "✗ the API key is too short" in screen_text(app)


async def test_an_existing_identity_file_is_replaced_only_once_its_diff_is_confirmed(
    ws: Path,
) -> None:
    (ws / ".tau").mkdir()
    (ws / ".tau" / "SOUL.md").write_text("You are a pirate.\n")
    (ws / ".tau" / "USER.md").write_text("I like tabs.\n")
    app = wizard_app(ws, {"OPENAI_API_KEY": "sk-proj-abcdefghijklmnopwXyZ"})
    async with app.run_test(size=SIZE) as pilot:
        for number in range(1, 5):
            await at_step(pilot, number)
            await pilot.press("ctrl+n")
        await at_step(pilot, 5)
        text = screen_text(app)
        assert ".tau/SOUL.md" in text and "exists: kept (tick to replace)" in text
        assert "-You are a pirate." in text and "+# Persona" in text
        replace = app.screen.query_one("#identity-replace", Checkbox)
        assert replace.display and not replace.value
        replace.value = True
        await pilot.pause()
        assert "exists: replaced (diff confirmed)" in screen_text(app)
        await pilot.press("ctrl+n")
        await at_step(pilot, 6)
        await pilot.press("ctrl+n")
        await at_step(pilot, 7)
        await wait_for(lambda: "Files (action, mode, path)" in screen_text(app))
        assert "replace" in screen_text(app)
        await pilot.press("ctrl+s")
        await wait_for(lambda: app.return_value is not None)
    assert (ws / ".tau" / "SOUL.md").read_text().startswith("# Persona")
    assert (ws / ".tau" / "USER.md").read_text() == "I like tabs.\n"  # not confirmed


async def test_check_probes_the_model_before_anything_is_written(ws: Path) -> None:
    with ScriptedServer() as server:
        listing = ScriptedResponse.json(200, {"data": [{"id": "gpt-4.1-mini"}]})
        listing.path = "/v1/models"
        server.add(
            listing,
            openai_answer("", [{"id": "c1", "name": "tau_probe", "arguments": {"word": "ok"}}]),
        )
        app = wizard_app(
            ws,
            {
                "OPENAI_API_KEY": "sk-proj-abcdefghijklmnopwXyZ",
                "OPENAI_BASE_URL": server.url + "/v1",
            },
        )
        async with app.run_test(size=SIZE) as pilot:
            for number in (1, 2):
                await at_step(pilot, number)
                await pilot.press("ctrl+n")
            await at_step(pilot, 3)
            highlight(app, "model-list", "gpt-4.1-mini")
            await pilot.press("ctrl+t")
            await wait_for(lambda: "✓ tool call" in screen_text(app))
            assert "✓ list models: key accepted; gpt-4.1-mini is listed" in screen_text(app)
        assert server.requests[0].headers["authorization"] == "Bearer sk-proj-abcdefghijklmnopwXyZ"
    assert written(ws) == []


def first_run_app(ws: Path, cli: dict[str, Any] | None = None) -> TauApp:
    apps: list[TauApp] = []
    factory = workspace_engine_factory(
        WorkspacePaths(ws),
        cli or {},
        ask_trust=lambda question: apps[0].ask_trust(question),
        ask_onboarding=lambda paths, settings: apps[0].ask_onboarding(paths, settings),
    )
    app = TauApp(
        factory,
        workspace_label="demo",
        history_path=WorkspacePaths(ws).history_path,
        clock=lambda: FIXED_MONOTONIC,
        wall_clock=lambda: FIXED_WALL_CLOCK,
        cursor_blink=False,
    )
    apps.append(app)
    return app


async def test_the_first_run_opens_the_wizard_then_the_engine_on_the_new_setup(ws: Path) -> None:
    app = first_run_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        highlight(app, "provider-list", "offline")
        await pilot.press("enter")
        for number in range(2, 7):
            await at_step(pilot, number)
            await pilot.press("ctrl+n")
        await at_step(pilot, 7)
        await wait_for(lambda: "Files (action, mode, path)" in screen_text(app))
        await pilot.press("ctrl+s")
        await engine_ready(app)
        assert app.agent.engine.model_id == "offline/echo"  # type: ignore[union-attr]
    assert (ws / ".tau" / "AGENTS.md").is_file()


async def test_enter_moves_on_from_a_step_with_nothing_to_answer(ws: Path) -> None:
    app = wizard_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        highlight(app, "provider-list", "offline")
        await pilot.press("enter")
        await at_step(pilot, 2)  # offline needs no key: nothing to type here
        await wait_for(lambda: "needs no key" in screen_text(app))
        await pilot.press("enter")
        await at_step(pilot, 3)
        await pilot.press("ctrl+n")
        await at_step(pilot, 4)  # the workspace step only shows what will be created
        await pilot.press("enter")
        await at_step(pilot, 5)
    assert written(ws) == []


async def test_cancelling_the_first_run_ends_the_app_and_writes_nothing(ws: Path) -> None:
    app = first_run_app(ws)
    async with app.run_test(size=SIZE) as pilot:
        await at_step(pilot, 1)
        await pilot.press("escape")
        await wait_for(lambda: app.startup_error is not None)
    assert isinstance(app.startup_error, SetupCancelledError)
    assert app.startup_error.exit_code == 1
    assert "nothing was written" in str(app.startup_error)
    assert written(ws) == []


@pytest.mark.parametrize("setup", ["model", "key", "state", "profile"])
async def test_anything_set_up_skips_the_wizard(
    ws: Path, setup: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli: dict[str, Any] = {}
    if setup == "model":
        cli = {"model": "offline/echo"}
    elif setup == "key":
        monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-abcdefghijklmnop")
    elif setup == "state":
        (ws / ".tau").mkdir()
    else:
        from tau_engine.config.profiles import Profile, ProfileStore

        ProfileStore().save(
            "x", Profile(provider="offline", model="offline/echo", key_source="none")
        )
    app = first_run_app(ws, cli)
    async with app.run_test(size=SIZE):
        await engine_ready(app)
        assert not any(isinstance(s, OnboardingWizard) for s in app.screen_stack)


def test_tau_onboard_profile_names_the_profile_to_write(ws: Path) -> None:
    context = build_context(
        WorkspacePaths(ws), Settings(), workspace_label="demo", profile="work", environ={}
    )
    assert context.start.profile == "work"
