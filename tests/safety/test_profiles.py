"""Safety profiles: the built-ins load, user profiles extend them, errors name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.errors import ConfigError
from tau_engine.safety.profiles import (
    BUILTIN_PROFILES,
    available_profiles,
    load_profile,
)


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "safety"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("name", BUILTIN_PROFILES)
def test_every_builtin_profile_loads_and_cites_its_file(name: str, user_dir: Path) -> None:
    profile = load_profile(name, user_dir=user_dir)
    assert profile.builtin
    lines = profile.lines()
    assert lines
    for line in lines:
        assert line.source.file == f"{name}.toml"
        assert line.source.line is not None, line


def test_builtins_get_stricter_in_order(user_dir: Path) -> None:
    docs = {n: load_profile(n, user_dir=user_dir).document for n in BUILTIN_PROFILES}
    assert docs["balanced"].sandbox.policy == "best-effort"
    assert docs["strict"].sandbox.policy == "required"
    assert docs["hardened"].tools.approval("http") == "deny"
    assert docs["hardened"].redaction.action == "block"
    assert docs["permissive"].sandbox.network is True
    assert docs["balanced"].sandbox.network is False
    assert docs["strict"].shell.outside_write_roots == "deny"
    # Every profile refuses wiping the root, whatever else it allows.
    for doc in docs.values():
        assert "rm * / *" in doc.shell.deny


def test_source_of_a_list_item_is_its_own_line(user_dir: Path) -> None:
    profile = load_profile("balanced", user_dir=user_dir)
    text = (
        Path(__file__)
        .parents[2]
        .joinpath("tau_engine/safety/builtin_profiles/balanced.toml")
        .read_text()
        .splitlines()
    )
    source = profile.source_of("shell.deny", "mkfs* *")
    assert source.line is not None and '"mkfs* *"' in text[source.line - 1]
    source = profile.source_of("sandbox.policy")
    assert text[source.line - 1].startswith("policy")  # type: ignore[operator]


def test_user_profile_extends_a_builtin_and_adds_rules(user_dir: Path) -> None:
    (user_dir / "mine.toml").write_text(
        'extends = "balanced"\ndescription = "mine"\n[shell]\ndefault = "ask"\nallow = ["make *"]\n'
    )
    profile = load_profile("mine", user_dir=user_dir)
    doc = profile.document
    assert doc.shell.default == "ask"
    assert "make *" in doc.shell.allow and "ls *" in doc.shell.allow
    assert "rm * / *" in doc.shell.deny  # a user profile adds rules, never drops a deny
    assert str(profile.source_of("shell.default")).endswith("mine.toml:4")
    assert str(profile.source_of("shell.allow", "make *")).endswith("mine.toml:5")
    assert str(profile.source_of("shell.allow", "ls *")).startswith("balanced.toml:")
    assert str(profile.source_of("sandbox.policy")).startswith("balanced.toml:")
    assert "mine" in available_profiles(user_dir)


def test_bad_value_names_file_line_and_key(user_dir: Path) -> None:
    (user_dir / "bad.toml").write_text('description = "x"\n\n[sandbox]\npolicy = "sometimes"\n')
    with pytest.raises(ConfigError) as err:
        load_profile("bad", user_dir=user_dir)
    message = str(err.value)
    assert "bad.toml:4: sandbox.policy:" in message


def test_unknown_key_and_invalid_toml_are_reported_with_lines(user_dir: Path) -> None:
    (user_dir / "typo.toml").write_text("[shell]\nallw = []\n")
    with pytest.raises(ConfigError, match=r"typo.toml:2: shell.allw: unknown key"):
        load_profile("typo", user_dir=user_dir)
    (user_dir / "broken.toml").write_text('[shell]\ndefault = "ask\n')
    with pytest.raises(ConfigError, match=r"broken.toml:2: invalid TOML"):
        load_profile("broken", user_dir=user_dir)


def test_extends_loop_and_unknown_profile_are_errors(user_dir: Path) -> None:
    (user_dir / "a.toml").write_text('extends = "b"\n')
    (user_dir / "b.toml").write_text('extends = "a"\n')
    with pytest.raises(ConfigError, match="loops"):
        load_profile("a", user_dir=user_dir)
    with pytest.raises(ConfigError, match="unknown safety profile 'nope'"):
        load_profile("nope", user_dir=user_dir)
    with pytest.raises(ConfigError, match="invalid safety profile name"):
        load_profile("../etc/passwd", user_dir=user_dir)


def test_a_user_file_cannot_replace_a_builtin(user_dir: Path) -> None:
    (user_dir / "balanced.toml").write_text('[shell]\ndefault = "allow"\n')
    with pytest.raises(ConfigError, match="'balanced' is a built-in profile"):
        load_profile("balanced", user_dir=user_dir)


def test_tools_table_gives_approval_per_tool(user_dir: Path) -> None:
    doc = load_profile("hardened", user_dir=user_dir).document
    assert doc.tools.approval("read") == "mode"
    assert doc.tools.approval("write") == "ask"
    assert doc.tools.approval("some_mcp__tool") == "ask"


def test_tool_approvals_are_checked(user_dir: Path) -> None:
    (user_dir / "tools.toml").write_text('extends = "balanced"\n[tools]\nbash = "sometimes"\n')
    with pytest.raises(
        ConfigError,
        match=r"tools.toml:3: tools.bash: must be one of allow, "
        r"ask, deny, mode, not 'sometimes'",
    ):
        load_profile("tools", user_dir=user_dir)


def test_shell_patterns_are_checked_at_load(user_dir: Path) -> None:
    (user_dir / "q.toml").write_text('extends = "balanced"\n[shell]\nask = ["rm \'x"]\n')
    with pytest.raises(ConfigError, match=r"q.toml:3: shell.ask: .*No closing quotation"):
        load_profile("q", user_dir=user_dir)
