"""The onboarding plan: every choice validated first, then all of it written or nothing;
the files' contents and modes; identity files kept unless a diff was confirmed."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from tau_engine.config import load_settings
from tau_engine.config.credentials import credentials_path
from tau_engine.config.profiles import ProfileStore, profiles_dir
from tau_engine.errors import UsageError
from tau_engine.onboarding.identity import AGENTS_TEMPLATE, SOUL_TEMPLATE
from tau_engine.onboarding.plan import (
    KeyChoice,
    OnboardingPlan,
    equivalent_command,
    full_model_id,
    planned_writes,
    write_plan,
)
from tau_engine.onboarding.writer import WriteFailed
from tau_engine.paths import WorkspacePaths, user_config_dir
from tau_engine.resources.project_verifier import recorded_verifier

KEY = "sk-ant-typed-into-the-wizard-0123456789"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _plan(root: Path, **changes: object) -> OnboardingPlan:
    values: dict[str, object] = {
        "workspace": root,
        "provider": "openai",
        "model": "gpt-4.1-mini",
        "key": KeyChoice("env", "OPENAI_API_KEY"),
    }
    values.update(changes)
    return OnboardingPlan(**values)  # type: ignore[arg-type]


def _everything(*roots: Path) -> dict[str, bytes | None]:
    """Every path under ``roots`` with its content (None for a folder)."""
    found: dict[str, bytes | None] = {}
    for root in roots:
        for path in sorted(root.rglob("*")) if root.exists() else []:
            found[str(path)] = None if path.is_dir() else path.read_bytes()
    return found


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "gpt-4.1-mini", "openai/gpt-4.1-mini"),
        ("openai", "openai/gpt-4.1-mini", "openai/gpt-4.1-mini"),
        ("openrouter", "anthropic/claude-sonnet-4.5", "openrouter/anthropic/claude-sonnet-4.5"),
        ("openai", "ft:gpt-4.1-mini:acme::xyz", "openai/ft:gpt-4.1-mini:acme::xyz"),
    ],
)
def test_model_ids_within_the_provider_or_full(provider: str, model: str, expected: str) -> None:
    assert full_model_id(provider, model) == expected


def test_a_model_of_another_provider_is_refused() -> None:
    with pytest.raises(UsageError, match="is a model of anthropic, not of --provider openai"):
        full_model_id("openai", "anthropic/claude-sonnet-4-5")


def test_writing_a_plan_creates_every_file_with_its_mode(workspace: Path) -> None:
    plan = _plan(
        workspace,
        key=KeyChoice("typed", secret=f"  {KEY}\n"),
        safety="strict",
        profile="work",
        verifier="python -m pytest -q",
    )
    writes = write_plan(plan)
    state = workspace / ".tau"
    assert _mode(state) == 0o755 and _mode(state / ".gitignore") == 0o644
    assert (state / ".gitignore").read_text().endswith("*\n")
    assert (state / "SOUL.md").read_text() == SOUL_TEMPLATE
    agents = (state / "AGENTS.md").read_text()
    assert agents.startswith(AGENTS_TEMPLATE) and recorded_verifier(agents) == "python -m pytest -q"
    for name in ("SOUL.md", "USER.md", "AGENTS.md"):
        assert _mode(state / name) == 0o644
    credentials = credentials_path()
    assert _mode(credentials) == 0o600 and _mode(credentials.parent) == 0o700
    assert f'anthropic = "{KEY}"' not in credentials.read_text()
    assert f'openai = "{KEY}"' in credentials.read_text()
    profile = ProfileStore().load("work")
    assert (profile.model, profile.key_source, profile.safety) == (
        "openai/gpt-4.1-mini",
        "credentials",
        "strict",
    )
    assert KEY not in (profiles_dir() / "work.toml").read_text()
    assert (user_config_dir() / "config.toml").read_text() == 'profile = "work"\n'
    # The key is nowhere in the workspace, and the summary never holds it.
    assert all(KEY.encode() not in (content or b"") for content in _everything(workspace).values())
    assert all(KEY not in repr(w) for w in writes)
    # The written setup is what the next run loads.
    settings = load_settings(WorkspacePaths(workspace), environ={})
    assert (settings.profile, settings.model) == ("work", "openai/gpt-4.1-mini")


def test_existing_identity_files_are_kept_unless_a_diff_was_confirmed(workspace: Path) -> None:
    state = workspace / ".tau"
    state.mkdir()
    (state / "SOUL.md").write_text("You are a pirate.\n")
    (state / "USER.md").write_text("I like tabs.\n")
    (state / "AGENTS.md").write_text("# Ours\n\nRun make.\n")
    write_plan(_plan(workspace, replace=frozenset({"USER.md"}), verifier="make test"))
    assert (state / "SOUL.md").read_text() == "You are a pirate.\n"
    assert (state / "USER.md").read_text() != "I like tabs.\n"  # confirmed: replaced
    # AGENTS.md would change (the verifier): kept, as its diff was not confirmed.
    assert (state / "AGENTS.md").read_text() == "# Ours\n\nRun make.\n"
    write_plan(_plan(workspace, replace=frozenset({"AGENTS.md"}), verifier="make test"))
    assert (
        state / "AGENTS.md"
    ).read_text() == "# Ours\n\nRun make.\n\n## Verifier\n\nCheck a change with: `make test`\n"
    write_plan(_plan(workspace, replace=frozenset({"AGENTS.md"}), verifier="make check"))
    assert (state / "AGENTS.md").read_text().count("## Verifier") == 1
    assert recorded_verifier((state / "AGENTS.md").read_text()) == "make check"


def test_a_linked_identity_file_is_not_read_through(workspace: Path, tmp_path: Path) -> None:
    secret = tmp_path / "id_rsa"
    secret.write_text("PRIVATE KEY")
    (workspace / ".tau").mkdir()
    (workspace / ".tau" / "SOUL.md").symlink_to(secret)
    writes = {w.path.name: w for w in planned_writes(_plan(workspace))}
    assert writes["SOUL.md"].action == "keep"
    write_plan(_plan(workspace))
    assert (workspace / ".tau" / "SOUL.md").is_symlink() and secret.read_text() == "PRIVATE KEY"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"provider": "nope"}, "unknown provider 'nope'"),
        ({"model": ""}, "--model is empty"),
        ({"model": "anthropic/claude-sonnet-4-5"}, "is a model of anthropic"),
        ({"key": KeyChoice("none")}, "openai needs an API key"),
        ({"key": KeyChoice("env", "1BAD")}, "invalid environment variable name"),
        ({"key": KeyChoice("typed", secret="   ")}, "the API key is empty"),
        ({"key": KeyChoice("typed", secret="sk-a b-cdefghijk")}, "spaces, line breaks"),
        ({"key": KeyChoice("typed", secret="sk-1")}, "too short"),
        ({"key": KeyChoice("stored")}, "has no openai key"),
        ({"safety": "yolo"}, "unknown safety profile 'yolo'"),
        ({"profile": "../../etc"}, "invalid profile name"),
        ({"verifier": "pytest\nrm -rf /"}, "--verifier"),
        ({"provider": "offline", "model": "echo", "key": KeyChoice("env", "X")}, "need no key"),
        ({"provider": "offline", "model": "nope", "key": KeyChoice("none")}, "offline model"),
    ],
)
def test_any_invalid_choice_writes_nothing(
    workspace: Path, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        write_plan(_plan(workspace, **changes))
    assert not (workspace / ".tau").exists()
    assert list(user_config_dir().iterdir()) == []


def test_a_state_path_that_is_not_a_folder_is_refused(workspace: Path) -> None:
    (workspace / ".tau").write_text("not a folder")
    with pytest.raises(UsageError, match="is not a folder"):
        write_plan(_plan(workspace))
    assert list(user_config_dir().iterdir()) == []


def test_a_broken_user_config_is_named_before_anything_is_written(workspace: Path) -> None:
    (user_config_dir() / "config.toml").write_text("theme = \n")
    with pytest.raises(UsageError, match=r"config.toml:1: invalid TOML"):
        write_plan(_plan(workspace))
    assert not (workspace / ".tau").exists()


def test_a_failure_half_way_undoes_everything(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (user_config_dir() / "config.toml").write_text('# mine\ntheme = "tau-light"\n')
    before = _everything(workspace, user_config_dir())
    real_replace = os.replace
    calls = {"n": 0}

    def failing_replace(src: object, dst: object) -> None:
        calls["n"] += 1
        if calls["n"] == 4:  # after some files are already in place
            raise OSError(28, "No space left on device")
        real_replace(src, dst)  # type: ignore[arg-type]

    with (
        monkeypatch.context() as patched,
        pytest.raises(WriteFailed, match="No space left on device; nothing was changed"),
    ):
        patched.setattr(os, "replace", failing_replace)  # the writer renames through os
        write_plan(_plan(workspace, key=KeyChoice("typed", secret=KEY)))
    assert _everything(workspace, user_config_dir()) == before
    assert not any(".tmp-" in name for name in before)


def test_the_equivalent_command_names_every_choice(workspace: Path) -> None:
    plan = _plan(workspace, safety="hardened", profile="ci", verifier="npm test")
    assert equivalent_command(plan) == (
        "tau onboard --non-interactive --provider openai --model gpt-4.1-mini --api-key-env "
        f"OPENAI_API_KEY --workspace {workspace} --safety hardened --profile ci "
        "--verifier 'npm test'"
    )
    typed = equivalent_command(_plan(workspace, key=KeyChoice("typed", secret=KEY)))
    assert "--api-key-stdin" in typed and KEY not in typed


def test_the_wizard_starts_from_the_active_profile_else_the_key_found(workspace: Path) -> None:
    from tau_engine.config import Settings
    from tau_engine.onboarding.plan import starting_plan

    found = starting_plan(workspace, Settings(), {"GEMINI_API_KEY": "g-key-123456789"})
    assert (found.provider, found.model, found.key) == (
        "gemini",
        "gemini/gemini-2.5-pro",
        KeyChoice("env", "GEMINI_API_KEY"),
    )
    nothing = starting_plan(workspace, Settings(), {})
    assert (nothing.provider, nothing.key) == ("anthropic", KeyChoice("env", "ANTHROPIC_API_KEY"))
    write_plan(
        _plan(
            workspace,
            safety="strict",
            profile="work",
            verifier="make test",
            replace=frozenset({"AGENTS.md"}),
        )
    )
    active = starting_plan(workspace, load_settings(WorkspacePaths(workspace), environ={}), {})
    assert (
        active.provider,
        active.model,
        active.key,
        active.safety,
        active.profile,
        active.verifier,
    ) == (
        "openai",
        "openai/gpt-4.1-mini",
        KeyChoice("env", "OPENAI_API_KEY"),
        "strict",
        "work",
        "make test",
    )
