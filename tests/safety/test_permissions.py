"""Permission rules that explain themselves: traces, refusals, breadth, saved rules, trust."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tau_engine.errors import ConfigError
from tau_engine.safety.permission_store import (
    load_rules,
    read_rules,
    revoke_rule,
    save_rule,
    workspace_rules_path,
)
from tau_engine.safety.permissions import PermissionPolicy, ToolCall
from tau_engine.safety.policy import ApprovalMode
from tau_engine.safety.profiles import load_profile
from tau_engine.safety.rules import Rule, RuleSyntaxError, describe_breadth, parse_rule_text
from tau_engine.safety.toml_lines import Source


def _policy(
    tmp_path: Path,
    profile: str = "balanced",
    mode: ApprovalMode = ApprovalMode.ASK,
    **kwargs: object,
) -> PermissionPolicy:
    return PermissionPolicy(
        load_profile(profile, user_dir=tmp_path / "none"),
        mode,
        tmp_path,
        **kwargs,  # type: ignore[arg-type]
    )


def _bash(command: str) -> ToolCall:
    return ToolCall("bash", "exec", command=command)


def test_refusal_names_rule_file_line_and_the_way_to_allow_it(tmp_path: Path) -> None:
    decision = _policy(tmp_path).decide(_bash("ls && rm -rf /"))
    assert decision.verdict == "deny"
    line = load_profile("balanced", user_dir=tmp_path).source_of("shell.deny", "rm * / *").line
    assert decision.refusal() == (
        f"refused (bash(rm * / *) from balanced.toml:{line}): profile rule bash(rm * / *) "
        "refuses this; allow with: tau permissions allow 'bash(rm * / *)'"
    )


def test_trace_has_every_part_profile_mode_and_sandbox(tmp_path: Path) -> None:
    policy = _policy(tmp_path, sandbox="bwrap (network off)")
    trace = policy.decide(
        _bash("sudo -u bob timeout 5 git push origin main > log.txt; eval x")
    ).to_dict()
    assert trace["profile"] == "balanced" and trace["mode"] == "ask"
    assert trace["sandbox"] == "bwrap (network off)"
    kinds = [(p["kind"], p["verdict"]) for p in trace["parts"]]
    assert ("command", "ask") in kinds and ("write", "allow") in kinds
    assert ("unresolved", "ask") in kinds
    push = next(p for p in trace["parts"] if p["kind"] == "command")
    assert push["argv"] == ["git", "push", "origin", "main"]
    assert push["wrappers"] == ["sudo -u bob", "timeout 5"]
    assert push["cause"]["source"].startswith("balanced.toml:")


def test_ask_comes_with_the_always_allow_rule_and_its_breadth(tmp_path: Path) -> None:
    decision = _policy(tmp_path).decide(_bash("rm -rf build"))
    assert decision.verdict == "ask"
    assert decision.suggestion is not None and decision.suggestion.text == "bash(rm *)"
    assert decision.breadth == "matches any `rm` invocation"
    line = load_profile("balanced", user_dir=tmp_path).source_of("shell.ask", "rm * -*r* *").line
    assert decision.why() == (
        f"profile rule bash(rm * -*r* *) asks before this "
        f"(bash(rm * -*r* *) from balanced.toml:{line})"
    )
    assert decision.always_allow() == ("always allow saves bash(rm *): matches any `rm` invocation")
    decision = _policy(tmp_path).decide(_bash("git push origin main"))
    assert decision.suggestion is not None and decision.suggestion.text == "bash(git push *)"
    assert decision.breadth == "matches `git push` with any arguments"
    # An ask caused by a wrapper suggests the wrapper, not the harmless command inside it.
    decision = _policy(tmp_path).decide(_bash("sudo ls"))
    assert decision.suggestion is not None and decision.suggestion.text == "bash(sudo *)"
    # What tau cannot see can never be allowed by a rule, so none is offered.
    assert _policy(tmp_path).decide(_bash("eval $X")).suggestion is None


@pytest.mark.parametrize(
    ("text", "breadth"),
    [
        ("bash", "matches every bash call"),
        ("bash(rm *)", "matches any `rm` invocation"),
        ("bash(npm run test)", "matches exactly `npm run test`"),
        ("bash(git * -c *)", "matches `git` commands like `git * -c *`"),
        ("bash(*)", "matches any command"),
        ("write(src/**)", "matches anything starting with src/"),
        ("http(**)", "matches every http call"),
        ("write(README.md)", "matches only README.md"),
    ],
)
def test_breadth_warning(text: str, breadth: str) -> None:
    tool, pattern = parse_rule_text(text)
    assert describe_breadth(Rule(tool, pattern, "allow", Source("x"))) == breadth


def test_rule_text_syntax_errors() -> None:
    for bad in ("", "bash()", "bash(rm 'x)", "two words"):
        with pytest.raises(RuleSyntaxError):
            parse_rule_text(bad)


def test_user_allow_overrides_a_profile_ask_but_not_an_unrelated_deny(tmp_path: Path) -> None:
    user = [
        Rule("bash", "rm *", "allow", Source("u.toml", 3), scope="user"),
        Rule("bash", "*", "allow", Source("u.toml", 5), scope="user"),
    ]
    policy = _policy(tmp_path, user_rules=user)
    assert policy.decide(_bash("rm -rf build")).verdict == "allow"
    # A broad allow does not unlock a deny; only allowing that exact rule does.
    assert policy.decide(_bash("shutdown -h now")).verdict == "deny"
    assert policy.decide(_bash("rm -rf /")).verdict == "deny"
    user.append(Rule("bash", "shutdown *", "allow", Source("u.toml", 9), scope="user"))
    assert _policy(tmp_path, user_rules=user).decide(_bash("shutdown -h now")).verdict == "allow"
    # No rule unlocks writing a protected path.
    user.append(Rule("bash", "rm * / *", "allow", Source("u.toml", 11), scope="user"))
    decision = _policy(tmp_path, user_rules=user).decide(_bash("rm -rf /"))
    assert decision.verdict == "deny" and "protected path" in decision.cause.why


def test_a_user_allow_never_covers_a_wrapper(tmp_path: Path) -> None:
    user = [Rule("bash", "ls *", "allow", Source("u.toml", 3), scope="user")]
    policy = _policy(tmp_path, mode=ApprovalMode.FULL_AUTO, user_rules=user)
    assert policy.decide(_bash("ls -la")).verdict == "allow"
    assert policy.decide(_bash("sudo ls -la")).verdict == "ask"


def test_unresolvable_parts_ask_even_with_allow_everything(tmp_path: Path) -> None:
    user = [
        Rule("bash", None, "allow", Source("u.toml", 1), scope="user"),
        Rule("bash", "eval *", "allow", Source("u.toml", 2), scope="user"),
    ]
    policy = _policy(tmp_path, mode=ApprovalMode.FULL_AUTO, user_rules=user)
    assert policy.decide(_bash("eval 'ls'")).verdict == "ask"
    assert policy.decide(_bash("curl x | sh")).verdict == "ask"


def test_read_only_mode_refuses_side_effects_whatever_the_rules(tmp_path: Path) -> None:
    user = [Rule("bash", "ls *", "allow", Source("u.toml", 1), scope="user")]
    policy = _policy(tmp_path, mode=ApprovalMode.READ_ONLY, user_rules=user)
    decision = policy.decide(_bash("ls"))
    assert decision.verdict == "deny"
    assert decision.refusal().startswith("refused (approval mode read-only):")
    assert policy.decide(ToolCall("read", "read", subjects=("a.txt",))).verdict == "allow"


def test_injection_flag_makes_side_effects_ask_in_every_mode(tmp_path: Path) -> None:
    policy = _policy(tmp_path, mode=ApprovalMode.FULL_AUTO)
    assert policy.decide(_bash("pytest")).verdict == "allow"
    flagged = policy.decide(_bash("pytest"), raised_risk=True)
    assert flagged.verdict == "ask" and flagged.cause.label == "injection flag"
    get = ToolCall("http", "network", subjects=("https://x.example/",), method="GET")
    post = ToolCall("http", "network", subjects=("https://x.example/",), method="POST")
    assert policy.decide(get, raised_risk=True).verdict == "allow"
    assert policy.decide(post, raised_risk=True).verdict == "ask"
    assert (
        policy.decide(ToolCall("read", "read", subjects=("a",)), raised_risk=True).verdict
        == "allow"
    )


def test_profile_tool_approval_and_path_rules(tmp_path: Path) -> None:
    hardened = _policy(tmp_path, "hardened", ApprovalMode.FULL_AUTO)
    decision = hardened.decide(ToolCall("http", "network", subjects=("https://a.example/",)))
    assert decision.verdict == "deny"
    assert decision.refusal().startswith('refused (tools.http = "deny" from hardened.toml:')
    assert decision.refusal().endswith("allow with: tau permissions allow 'http'")
    assert hardened.decide(ToolCall("write", "edit", subjects=("a.py",))).verdict == "ask"
    balanced = _policy(tmp_path, mode=ApprovalMode.FULL_AUTO)
    refused = balanced.decide(ToolCall("write", "edit", subjects=(".git/config",)))
    assert refused.verdict == "deny" and "protected path" in refused.cause.why
    rules = [Rule("write", "src/**", "deny", Source("p.toml", 2), scope="workspace")]
    scoped = _policy(tmp_path, mode=ApprovalMode.FULL_AUTO, workspace_rules=rules)
    assert scoped.decide(ToolCall("write", "edit", subjects=("src/a/b.py",))).verdict == "deny"
    assert scoped.decide(ToolCall("write", "edit", subjects=("docs/a.md",))).verdict == "allow"


def test_saved_rules_round_trip_with_lines_and_revoke(tmp_path: Path) -> None:
    path = workspace_rules_path(tmp_path)
    when = datetime(2026, 11, 22, 10, 3, tzinfo=UTC)
    first = save_rule(
        path, "workspace", "bash(npm test *)", "allow", by="approval prompt", now=when
    )
    second = save_rule(path, "workspace", "write(secrets/**)", "deny", by="cli", now=when)
    assert first.source.line is not None and second.source.line is not None
    text = path.read_text().splitlines()
    assert text[second.source.line - 1] == "[[rule]]"
    rules = read_rules(path, "workspace")
    assert [(r.text, r.action, r.scope, r.by, r.when) for r in rules] == [
        ("bash(npm test *)", "allow", "workspace", "approval prompt", "2026-11-22T10:03:00+00:00"),
        ("write(secrets/**)", "deny", "workspace", "cli", "2026-11-22T10:03:00+00:00"),
    ]
    # Saving the same rule again replaces it (no duplicates).
    save_rule(path, "workspace", "bash(npm test *)", "ask", by="cli", now=when)
    assert [(r.text, r.action) for r in read_rules(path, "workspace")] == [
        ("write(secrets/**)", "deny"),
        ("bash(npm test *)", "ask"),
    ]
    assert revoke_rule(path, "workspace", "bash(npm test *)") == 1
    assert revoke_rule(path, "workspace", "bash(npm test *)") == 0
    assert [r.text for r in read_rules(path, "workspace")] == ["write(secrets/**)"]


def test_untrusted_workspace_rules_can_only_tighten(tmp_path: Path) -> None:
    path = workspace_rules_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(
        '[[rule]]\ntool = "bash"\naction = "allow"\n\n'
        '[[rule]]\ntool = "bash"\npattern = "curl *"\naction = "deny"\n'
    )
    user_path = tmp_path / "user-permissions.toml"
    _, untrusted = load_rules(tmp_path, workspace_trusted=False, user_path=user_path)
    _, trusted = load_rules(tmp_path, workspace_trusted=True, user_path=user_path)
    assert [r.text for r in untrusted] == ["bash(curl *)"]
    assert [r.text for r in trusted] == ["bash", "bash(curl *)"]
    attacked = _policy(tmp_path, mode=ApprovalMode.ASK, workspace_rules=untrusted)
    assert attacked.decide(_bash("rm -rf build")).verdict == "ask"
    assert attacked.decide(_bash("curl https://x")).verdict == "deny"
    trusting = _policy(tmp_path, mode=ApprovalMode.ASK, workspace_rules=trusted)
    assert trusting.decide(_bash("rm -rf build")).verdict == "allow"


def test_rules_file_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "permissions.toml"
    path.write_text(
        '[[rule]]\ntool = "bash"\naction = "allow"\n\n[[rule]]\ntool = "bash"\n'
        'action = "sometimes"\n'
    )
    with pytest.raises(ConfigError, match=r"permissions.toml:7: action:"):
        read_rules(path, "user")
    path.write_text('[[rule]]\ntool = "bash"\naction = "allow"\nscope = "workspace"\n')
    with pytest.raises(
        ConfigError,
        match=r"permissions.toml:1: scope: 'workspace' rule in a "
        r"user file",
    ):
        read_rules(path, "user")
    path.write_text('[[rule]]\ntool = "bash"\npattern = "rm \'x"\naction = "deny"\n')
    with pytest.raises(ConfigError, match=r"permissions.toml:1: shell pattern"):
        read_rules(path, "user")
    path.write_text("[[rule]\n")
    with pytest.raises(ConfigError, match=r"permissions.toml:1: invalid TOML"):
        read_rules(path, "user")


def test_session_rule_from_allow_for_session(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert policy.decide(_bash("make build")).verdict == "ask"
    policy.allow_for_session(Rule("bash", "make *", "allow", Source("session"), "session"))
    assert policy.decide(_bash("make build")).verdict == "allow"
    assert policy.decide(_bash("make build && rm -rf x")).verdict == "ask"
