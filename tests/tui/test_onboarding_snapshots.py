"""SVG snapshots of each wizard step (stored in the top-level ``snapshots/`` folder).

The workspace and the user config dir sit at fixed paths so the paths the workspace
step and the summary print are the same on every run; the environment holds one
fake key so the provider step marks where it was found."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tau_engine.config import Settings
from tau_engine.paths import WorkspacePaths
from tau_tui.screens.onboarding.app import OnboardingApp
from tau_tui.screens.onboarding.context import build_context
from tau_tui.screens.onboarding.wizard import OnboardingWizard
from tests.tui.conftest import SIZE, wait_for

FIXED = Path("/tmp/tau-onboarding-snapshots")
STEPS = ["provider", "key", "model", "workspace", "identity", "safety", "summary"]


@pytest.fixture
def fixed_workspace(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    shutil.rmtree(FIXED, ignore_errors=True)
    root = FIXED / "demo"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    (root / ".tau").mkdir()
    (root / ".tau" / "USER.md").write_text("# About me\n\nI like tabs.\n")
    config = FIXED / "config"
    config.mkdir(mode=0o700)
    monkeypatch.setenv("TAU_CONFIG_DIR", str(config))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # the detected verifier says python or python3
    yield root
    shutil.rmtree(FIXED, ignore_errors=True)


def _app(root: Path) -> OnboardingApp:
    context = build_context(
        WorkspacePaths(root),
        Settings(),
        workspace_label="~/demo",
        environ={"OPENAI_API_KEY": "sk-proj-snapshot-key-wXyZ"},
    )
    return OnboardingApp(context)


def _to_step(index: int) -> Any:
    async def run_before(pilot: Pilot[Any]) -> None:
        app = pilot.app
        await wait_for(lambda: isinstance(app.screen, OnboardingWizard))
        for _ in range(index):
            await pilot.press("ctrl+n")
            await pilot.pause()
        await wait_for(lambda: app.screen.index == index)  # type: ignore[attr-defined]
        if STEPS[index] == "summary":
            await wait_for(lambda: app.screen.step.ready)  # type: ignore[attr-defined]
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("index", range(len(STEPS)), ids=STEPS)
def test_wizard_step(snap_compare: Any, fixed_workspace: Path, index: int) -> None:
    assert snap_compare(_app(fixed_workspace), terminal_size=SIZE, run_before=_to_step(index))


@pytest.mark.parametrize("index", [0, 1, 4, 6], ids=["provider", "key", "identity", "summary"])
def test_wizard_step_at_80x24(snap_compare: Any, fixed_workspace: Path, index: int) -> None:
    assert snap_compare(_app(fixed_workspace), terminal_size=(80, 24), run_before=_to_step(index))
