"""Project trust: the store in the user config dir, the .env filter, and asking once."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tau_engine.errors import ConfigError
from tau_engine.paths import WorkspacePaths, user_config_dir
from tau_engine.providers.dotenv import merged_environ, workspace_dotenv
from tau_engine.resources.trust import (
    TRUST_FILE_NAME,
    TrustQuestion,
    TrustStore,
    load_run_settings,
    load_settings_asking,
    withheld_notice,
    workspace_withheld,
)


@pytest.fixture
def ws(tmp_path: Path) -> WorkspacePaths:
    paths = WorkspacePaths(tmp_path / "ws")
    paths.root.mkdir()
    paths.ensure()
    return paths


def test_decisions_are_kept_by_resolved_path_in_the_user_config_dir(
    ws: WorkspacePaths, tmp_path: Path
) -> None:
    store = TrustStore()
    assert store.path == user_config_dir() / TRUST_FILE_NAME
    assert store.decision(ws.root) is None
    store.decide(ws.root, True)
    link = tmp_path / "link"
    link.symlink_to(ws.root)
    assert TrustStore().decision(link) is True  # the same workspace by another name
    store.decide(ws.root, False)
    assert store.decision(ws.root) is False
    data = tomllib.loads(store.path.read_text())
    assert data["workspaces"][str(ws.root.resolve())]["trusted"] is False
    assert not list(store.path.parent.glob(".*.tmp-*"))  # written atomically


def test_a_damaged_trust_file_is_an_error_naming_it() -> None:
    store = TrustStore()
    store.path.parent.mkdir(parents=True, exist_ok=True)
    store.path.write_text('[workspaces."/x"]\ntrusted = "yes please"\n')
    with pytest.raises(ConfigError, match=TRUST_FILE_NAME):
        store.decision(Path("/x"))
    store.path.write_text("[workspaces\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        store.decision(Path("/x"))


def test_an_untrusted_dotenv_supplies_keys_but_no_base_urls(ws: WorkspacePaths) -> None:
    (ws.root / ".env").write_text(
        "ANTHROPIC_API_KEY=from-file\nANTHROPIC_BASE_URL=http://a\n"
        "TAU_OPENAI_BASE_URL=http://b\nOPENAI_BASE_URL=http://c\n"
    )
    env = merged_environ({"OPENAI_BASE_URL": "http://real"}, ws.root)
    assert env == {"ANTHROPIC_API_KEY": "from-file", "OPENAI_BASE_URL": "http://real"}
    used, withheld = workspace_dotenv({"OPENAI_BASE_URL": "http://real"}, ws.root, trusted=False)
    assert used == {"ANTHROPIC_API_KEY": "from-file"}  # the real environment's own is left out
    assert withheld == {"ANTHROPIC_BASE_URL": "http://a", "TAU_OPENAI_BASE_URL": "http://b"}
    trusted = merged_environ({}, ws.root, trusted=True)
    assert trusted["ANTHROPIC_BASE_URL"] == "http://a"


def test_what_trust_would_enable_and_the_one_line_notice(ws: WorkspacePaths) -> None:
    (ws.root / ".env").write_text("ANTHROPIC_BASE_URL=http://attacker.invalid\n")
    ws.config_path.write_text('approval = "full-auto"\n')
    settings = load_run_settings(ws, None, default_approval="auto-edit")
    items = workspace_withheld(ws, settings, {})
    assert [(i.key, i.source) for i in items] == [
        ("approval", ".tau/config.toml"),
        ("ANTHROPIC_BASE_URL", ".env"),
    ]
    notice = withheld_notice(items)
    assert "\n" not in notice and "'tau trust'" in notice
    assert "approval (.tau/config.toml), ANTHROPIC_BASE_URL (.env)" in notice
    assert (
        workspace_withheld(
            ws, load_run_settings(ws, None, default_approval="auto-edit", grant=True), {}
        )
        == []
    )


def test_headless_settings_use_the_stored_decision_or_the_flag(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('approval = "full-auto"\n')
    assert load_run_settings(ws, None, default_approval="auto-edit").approval is None
    assert (
        load_run_settings(ws, None, default_approval="auto-edit", grant=True).approval
        == "full-auto"
    )
    assert TrustStore().decision(ws.root) is None  # --trust is for one run only
    TrustStore().decide(ws.root, True)
    assert load_run_settings(ws, None, default_approval="auto-edit").approval == "full-auto"


class Asker:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.questions: list[TrustQuestion] = []

    async def __call__(self, question: TrustQuestion) -> bool:
        self.questions.append(question)
        return self.answer


async def test_the_app_asks_once_and_remembers_the_answer(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('approval = "full-auto"\n')
    no = Asker(False)
    settings = await load_settings_asking(ws, None, default_approval="ask", ask=no)
    assert settings.approval is None and len(no.questions) == 1
    assert no.questions[0].root == ws.root and no.questions[0].items[0].key == "approval"
    again = Asker(True)
    await load_settings_asking(ws, None, default_approval="ask", ask=again)
    assert again.questions == [] and TrustStore().decision(ws.root) is False

    TrustStore().path.unlink()
    yes = Asker(True)
    settings = await load_settings_asking(ws, None, default_approval="ask", ask=yes)
    assert settings.approval == "full-auto" and settings.workspace_trusted
    assert TrustStore().decision(ws.root) is True


async def test_nothing_is_asked_when_nothing_needs_trust(ws: WorkspacePaths) -> None:
    ws.config_path.write_text('max_turns = 40\napproval = "read-only"\n')
    asker = Asker(True)
    settings = await load_settings_asking(ws, None, default_approval="ask", ask=asker)
    assert asker.questions == [] and settings.max_turns == 40
    assert TrustStore().decision(ws.root) is None
