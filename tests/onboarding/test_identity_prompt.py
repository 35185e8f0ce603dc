"""The identity files as the rest of tau sees them: in the system prompt, in order, and
reported as loaded by the /memory overview."""

from __future__ import annotations

from pathlib import Path

from tau_engine.agent.instructions import instruction_files
from tau_engine.agent.prompt import build_system_prompt
from tau_engine.onboarding.plan import KeyChoice, OnboardingPlan, write_plan


def test_written_identity_files_are_in_the_prompt_and_the_overview(workspace: Path) -> None:
    write_plan(
        OnboardingPlan(
            workspace,
            "openai",
            "gpt-4.1-mini",
            KeyChoice("env", "OPENAI_API_KEY"),
            verifier="make test",
        )
    )
    prompt = build_system_prompt(workspace)
    order = [prompt.index(f"from .tau/{name}:") for name in ("SOUL.md", "USER.md", "AGENTS.md")]
    assert order == sorted(order)
    assert "Check a change with: `make test`" in prompt
    files = {f.path: f for f in instruction_files(workspace)}
    assert [name for name, f in files.items() if f.in_prompt] == [
        ".tau/SOUL.md",
        ".tau/USER.md",
        ".tau/AGENTS.md",
    ]
