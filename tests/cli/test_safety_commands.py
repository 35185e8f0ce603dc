"""The safety commands as a user runs them: the profile choice, ``tau policy show``,
``tau permissions``, ``tau doctor sandbox``, and what a run then does."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tau_engine.paths import user_config_dir
from tau_engine.safety.profiles import load_profile
from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedResponse, ScriptedServer


def _line(profile: str, key: str, item: str | None = None) -> int:
    line = load_profile(profile).source_of(key, item).line
    assert line is not None
    return line


def test_policy_show_names_the_profile_and_the_source_of_every_line(workspace: Path) -> None:
    proc = run_tau(["policy", "show"], workspace)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.startswith("profile: balanced (from default)\n")
    assert "approval mode: ask\n" in out
    assert f"workspace: {workspace} (not trusted)" in out
    deny = next(line for line in out.splitlines() if line.startswith("shell.deny = 'rm * / *'"))
    assert deny.endswith(f"# balanced.toml:{_line('balanced', 'shell.deny', 'rm * / *')}")
    policy = next(line for line in out.splitlines() if line.startswith("sandbox.policy ="))
    assert policy.endswith(f"# balanced.toml:{_line('balanced', 'sandbox.policy')}")
    data = json.loads(run_tau(["policy", "show", "--json"], workspace).stdout)
    assert data["profile"] == "balanced" and data["mode"] == "ask"
    assert all(line["source"] for line in data["lines"])


def test_the_profile_is_chosen_by_flag_environment_or_user_config(workspace: Path) -> None:
    def shown(*args: str, **env: str) -> str:
        proc = run_tau(["policy", "show", *args], workspace, env=tau_env(**env))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()[0]

    assert shown("--safety", "strict") == "profile: strict (from --safety)"
    assert shown(TAU_SAFETY="hardened") == "profile: hardened (from TAU_SAFETY)"
    config = user_config_dir() / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('theme = "tau-dark"\nsafety = "permissive"\n')
    assert shown() == f"profile: permissive (from {config}:2)"


def test_the_profile_in_use_chooses_the_safety_profile_and_is_named(workspace: Path) -> None:
    from tau_engine.config.profiles import Profile, ProfileStore

    ProfileStore().save(
        "work",
        Profile(provider="offline", model="offline/echo", key_source="none", safety="strict"),
    )
    path = ProfileStore().path("work")
    line = next(
        n for n, text in enumerate(path.read_text().splitlines(), 1) if text.startswith("safety")
    )
    proc = run_tau(["policy", "show", "--profile", "work"], workspace)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"profile: strict (from {path}:{line})"
    assert run_tau(
        ["policy", "show"], workspace, env=tau_env(TAU_PROFILE="work")
    ).stdout.startswith("profile: strict (from ")


def test_a_workspace_may_only_choose_a_stricter_profile_unless_trusted(workspace: Path) -> None:
    config = workspace / ".tau" / "config.toml"
    config.parent.mkdir()
    config.write_text('safety = "permissive"\n')
    first = run_tau(["policy", "show"], workspace).stdout.splitlines()[0]
    assert first == "profile: balanced (from default)"
    assert run_tau(["policy", "show", "--trust"], workspace).stdout.startswith(
        "profile: permissive (from .tau/config.toml:1)"
    )
    config.write_text('safety = "strict"\n')
    assert run_tau(["policy", "show"], workspace).stdout.startswith(
        "profile: strict (from .tau/config.toml:1)"
    )


def test_an_unknown_profile_is_one_line_and_exit_2(workspace: Path) -> None:
    proc = run_tau(["-p", "hi", "--model", "offline/echo", "--safety", "nope"], workspace)
    assert proc.returncode == 2
    assert proc.stderr == (
        "tau: error: unknown safety profile 'nope' (known: permissive, "
        "balanced, strict, hardened)\n"
    )


def test_permissions_allow_list_check_and_revoke(workspace: Path) -> None:
    saved = run_tau(["permissions", "allow", "bash(npm test *)", "--note", "CI"], workspace)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.startswith("saved: allow bash(npm test *) in .tau/permissions.toml:")
    assert "apply only once you trust it" in saved.stdout
    listed = run_tau(["permissions", "list"], workspace).stdout
    assert "bash(npm test *)" in listed and "(inactive: the workspace is not trusted" in listed
    rules = json.loads(run_tau(["permissions", "list", "--json", "--trust"], workspace).stdout)
    assert [(r["rule"], r["action"], r["active"], r["note"]) for r in rules] == [
        ("bash(npm test *)", "allow", True, "CI")
    ]
    untrusted = run_tau(["permissions", "check", "bash", "npm", "test", "--", "-x"], workspace)
    assert untrusted.stdout.startswith("bash: ask\n")
    trusted = run_tau(
        ["permissions", "check", "--trust", "bash", "npm", "test", "--", "-x"], workspace
    )
    assert trusted.stdout.startswith(
        "bash: allow\n  rule: bash(npm test *) from .tau/permissions.toml:"
    )
    revoked = run_tau(["permissions", "revoke", "bash(npm test *)"], workspace)
    assert revoked.returncode == 0 and revoked.stdout.startswith("revoked bash(npm test *)")
    again = run_tau(["permissions", "revoke", "bash(npm test *)"], workspace)
    assert again.returncode == 2
    assert again.stderr.startswith("tau: error: no rule bash(npm test *) in ")
    bad = run_tau(["permissions", "allow", "two words"], workspace)
    assert bad.returncode == 2 and bad.stderr.startswith("tau: error: not a rule: 'two words'")


def test_check_prints_the_full_trace(workspace: Path) -> None:
    proc = run_tau(["permissions", "check", "bash", "ls && rm -rf /"], workspace)
    assert proc.returncode == 0, proc.stderr
    line = _line("balanced", "shell.deny", "rm * / *")
    assert proc.stdout.startswith(f"bash: deny\n  rule: bash(rm * / *) from balanced.toml:{line}\n")
    assert "the model is told: refused (bash(rm * / *) from balanced.toml:" in proc.stdout
    assert "command    allow ls" in proc.stdout
    trace = json.loads(
        run_tau(["permissions", "check", "--json", "bash", "sudo rm -rf build"], workspace).stdout
    )
    assert trace["verdict"] == "ask" and trace["profile"] == "balanced"
    assert trace["parts"][0]["wrappers"] == ["sudo"]
    http = run_tau(
        ["permissions", "check", "--safety", "hardened", "http", "https://api.example.com/x"],
        workspace,
    ).stdout
    assert http.startswith('http: deny\n  rule: tools.http = "deny" from hardened.toml:')


needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (CI installs it)",
)


@needs_bwrap
def test_doctor_sandbox_where_bubblewrap_works(workspace: Path) -> None:
    proc = run_tau(["doctor", "sandbox"], workspace)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[:5]] == ["ok"] * 5
    assert lines[-1] == (
        "profile balanced (sandbox.policy = best-effort, network off): bash "
        "runs sandboxed (bwrap (network off))"
    )


def test_doctor_sandbox_without_bubblewrap_names_the_remedy(
    workspace: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = tau_env(PATH=str(empty))
    proc = run_tau(["doctor", "sandbox"], workspace, env=env)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0].startswith("FAIL bubblewrap  bwrap is not installed")
    assert (
        "remedy: install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu)"
        in proc.stdout
    )
    assert proc.stdout.endswith("bash runs unsandboxed, with a notice\n")
    strict = run_tau(["doctor", "sandbox", "--safety", "strict"], workspace, env=env)
    assert strict.stdout.splitlines()[-1].endswith(
        "bash commands are refused: refused (sandbox): bubblewrap: bwrap is not installed; "
        "install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu), `sudo dnf "
        "install bubblewrap` (Fedora), `sudo pacman -S bubblewrap` (Arch)"
    )


def test_the_one_doctor_weighs_the_sandbox_by_the_safety_profile(
    workspace: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    env = tau_env(PATH=str(empty))

    def sandbox_line(*args: str) -> dict[str, str]:
        proc = run_tau(
            ["doctor", "--no-probe", "--model", "offline/echo", "--json", *args], workspace, env=env
        )
        return next(c for c in json.loads(proc.stdout)["checks"] if c["name"] == "sandbox")

    balanced = sandbox_line()
    assert balanced["status"] == "warn" and "tau doctor sandbox" in balanced["remedy"]
    strict = sandbox_line("--safety", "strict")
    assert strict["status"] == "fail" and "safety profile 'strict' requires it" in strict["message"]
    # The section takes the same options, before or after its name.
    for args in (
        ["doctor", "--safety", "strict", "sandbox"],
        ["doctor", "sandbox", "--safety", "strict"],
    ):
        proc = run_tau(args, workspace, env=env)
        assert proc.returncode == 1
        assert proc.stdout.splitlines()[-1].startswith("profile strict (sandbox.policy = required")


def _http_run(server: ScriptedServer, workspace: Path, target: str) -> dict[str, object]:
    server.add(
        openai_answer("", [{"id": "h1", "name": "http", "arguments": {"url": target}}]),
        openai_answer("ok"),
    )
    proc = run_tau(
        [
            "-p",
            "fetch it",
            "--model",
            "openai/gpt-test",
            "--base-url",
            server.url + "/v1",
            "--approval",
            "full-auto",
            "--output-format",
            "json",
        ],
        workspace,
        env=tau_env(OPENAI_API_KEY="test-key-0000"),
    )
    assert proc.returncode == 0, proc.stderr
    tool = next(m for m in server.requests[-1].json["messages"] if m["role"] == "tool")
    return {"content": tool["content"], "ok": json.loads(proc.stdout)["tool_calls"][0]["ok"]}


def test_http_reaches_a_local_service_only_when_the_user_allows_it(
    scripted_server: ScriptedServer, workspace: Path
) -> None:
    target = ScriptedServer()
    with target:
        target.add(
            ScriptedResponse(chunks=[b"local service"], content_type="text/plain"),
            ScriptedResponse(chunks=[b"local service"], content_type="text/plain"),
        )
        url = f"{target.url}/status"
        blocked = _http_run(scripted_server, workspace, url)
        assert not blocked["ok"] and f"error: blocked {url}" in str(blocked["content"])
        assert target.requests == []
        # A workspace file cannot allow it, trusted or not.
        (workspace / ".tau" / "config.toml").write_text('http_allow = ["127.0.0.1"]\n')
        assert not _http_run(scripted_server, workspace, url)["ok"]
        assert target.requests == []
        config = user_config_dir() / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text('http_allow = ["127.0.0.1"]\n')
        allowed = _http_run(scripted_server, workspace, url)
        assert allowed["ok"] and "local service" in str(allowed["content"])
    audit = (workspace / ".tau" / "logs" / "audit.jsonl").read_text()
    assert audit.count('"kind":"ssrf_block"') == 2
