"""Guidance files (AGENTS.md, .tau/AGENTS.md, identity files) are read through the
workspace guard: a committed link to a file outside the workspace is not loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tau_engine.agent.prompt import build_system_prompt


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / ".tau").mkdir(parents=True)
    return root


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_agents_md_linked_to_the_process_environment_is_not_loaded(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-never-in-the-prompt-123")
    # /proc/self/environ shows the environment the process started with: the key must be
    # in it for the attack to be real, so run the check in a child that has it.
    import subprocess
    import sys

    (ws / "AGENTS.md").symlink_to("/proc/self/environ")
    (ws / ".tau" / "AGENTS.md").write_text("Use tabs.")
    code = (
        "import sys; from pathlib import Path; from tau_engine.agent.prompt import "
        "build_system_prompt; skipped = []; "
        "p = build_system_prompt(Path(sys.argv[1]), skipped=skipped); "
        "print('KEY' if 'sk-ant-never-in-the-prompt-123' in p else 'clean'); "
        "print('TABS' if 'Use tabs.' in p else 'no-tabs'); print(skipped[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ws)],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
    ).stdout.splitlines()
    assert out[0] == "clean" and out[1] == "TABS"
    assert out[2].startswith("guidance file AGENTS.md not loaded: it links to /proc/")
    assert out[2].endswith("/environ, outside the workspace")


def test_links_outside_are_skipped_and_reported_links_inside_are_read(
    ws: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    (ws / "AGENTS.md").symlink_to(secret)
    (ws / ".tau" / "SOUL.md").symlink_to(secret)
    (ws / "docs").mkdir()
    (ws / "docs" / "guide.md").write_text("Write tests first.")
    (ws / ".tau" / "AGENTS.md").symlink_to(ws / "docs" / "guide.md")
    skipped: list[str] = []
    prompt = build_system_prompt(ws, skipped=skipped)
    assert "TOP SECRET" not in prompt
    assert "Guidance from .tau/AGENTS.md:\nWrite tests first." in prompt
    assert skipped == [
        f"guidance file .tau/SOUL.md not loaded: it links to {secret}, outside the workspace",
        f"guidance file AGENTS.md not loaded: it links to {secret}, outside the workspace",
    ]


def test_a_huge_guidance_file_is_read_only_up_to_the_budget(ws: Path) -> None:
    (ws / "AGENTS.md").write_text("x" * 5_000_000)
    prompt = build_system_prompt(ws)
    assert 40_000 <= prompt.count("x") < 41_000
