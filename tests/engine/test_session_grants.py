""""Allow for this session" is a scoped grant: a command prefix for bash, the tool otherwise.

The attacks: a grant for a harmless command must not cover that command chained,
piped, substituted or redirected into something else, nor a wrapper that runs any
command (``sh -c``, ``env``, ``xargs``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.events import ToolResultEvent
from tau_engine.safety.grants import SessionGrant, command_prefix, grant_for, why_no_grant
from tau_engine.safety.policy import ApprovalDecision, ApprovalMode, ApprovalRequest
from tests.engine.test_loop import ScriptedStream, answer, call, make_loop


@pytest.mark.parametrize(("command", "prefix"), [
    ("git status", ("git", "status")),
    ("git status --short src", ("git", "status")),
    ("  git   status  ", ("git", "status")),
    ("echo harmless", ("echo", "harmless")),
    ("npm run test:unit", ("npm", "run")),
    ("pytest -q tests", ("pytest",)),
    ("python script.py", ("python",)),
    ("touch notes.txt", ("touch",)),
    ("./gradlew build", ("./gradlew", "build")),
    ("ls", ("ls",)),
])
def test_the_prefix_is_the_program_and_a_subcommand(command: str,
                                                    prefix: tuple[str, ...]) -> None:
    assert command_prefix(command) == prefix


@pytest.mark.parametrize("command", [
    "echo harmless; rm -rf ~",
    "echo harmless && rm -rf ~",
    "echo harmless || rm -rf ~",
    "echo harmless & rm -rf ~",
    "echo harmless | sh",
    "echo harmless $(rm -rf ~)",
    "echo harmless `rm -rf ~`",
    "echo harmless ${HOME}",
    "echo harmless > ~/.bashrc",
    "echo harmless >> ~/.bashrc",
    "echo harmless < /etc/passwd",
    "echo harmless\nrm -rf ~",
    "echo harmless (subshell)",
    "echo harmless { group; }",
    "echo harmless \\; rm",
    "echo 'unbalanced",
    "PATH=/tmp/evil echo harmless",
    "sh -c 'echo harmless'",
    "env echo harmless",
    "/usr/bin/env echo harmless",
    "sudo echo harmless",
    "xargs echo harmless",
    "",
    "   ",
])
def test_anything_but_one_simple_command_gets_no_grant(command: str) -> None:
    assert command_prefix(command) is None
    assert grant_for("bash", "exec", {"command": command}) is None


@pytest.mark.parametrize("command", [
    "echo harmless; rm -rf ~",
    "echo harmless && touch ../outside",
    "echo harmless | tee ../outside",
    "echo harmless $(touch ../outside)",
    "echo harmless `touch ../outside`",
    "echo harmless > ../outside",
    "echo harmless\ntouch ../outside",
    "echo harmlessly",
    "echo",
    "touch ../outside",
    "rm -rf ~",
])
def test_a_grant_for_echo_harmless_covers_none_of_these(command: str) -> None:
    grant = grant_for("bash", "exec", {"command": "echo harmless"})
    assert grant == SessionGrant("bash", ("echo", "harmless"))
    assert not grant.covers("bash", {"command": command})


@pytest.mark.parametrize(("command", "why"), [
    ("echo a; rm -rf ~", "the command uses shell syntax (; & | < > $ ` ( ) { } \\ or a newline)"),
    ("sh -c 'rm -rf ~'", "sh runs other commands, so a grant for it would cover everything"),
    ("PATH=/tmp/evil git status", "the command starts by setting a variable"),
    ("echo 'unbalanced", "the command is not one simple command tau can read"),
])
def test_the_reason_for_no_grant_is_given(command: str, why: str) -> None:
    assert why_no_grant({"command": command}) == why


def test_a_grant_covers_the_same_prefix_and_says_so() -> None:
    grant = grant_for("bash", "exec", {"command": "git status"})
    assert grant is not None
    assert grant.covers("bash", {"command": "git status --short"})
    assert grant.covers("bash", {"command": "git 'status'"})
    assert not grant.covers("bash", {"command": "git push --force"})
    assert not grant.covers("bash", {"command": "git statusx"})
    assert not grant.covers("other_exec_tool", {"command": "git status"})
    assert not grant.covers("bash", {})
    assert grant.describe() == "`git status …` commands (bash)"
    edit = grant_for("edit", "edit", {"path": "a.txt"})
    assert edit == SessionGrant("edit") and edit.covers("edit", {"path": "b.txt"})
    assert edit.describe() == "every edit call"


async def test_allow_for_session_on_echo_does_not_approve_a_write_outside(
        tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    outside = tmp_path / "outside.txt"
    asked: list[ApprovalRequest] = []
    decisions = [ApprovalDecision.ALLOW_SESSION, ApprovalDecision.DENY,
                 ApprovalDecision.DENY, ApprovalDecision.DENY]

    async def approver(request: ApprovalRequest) -> ApprovalDecision:
        asked.append(request)
        return decisions.pop(0)

    stream = ScriptedStream([
        answer("", [call("c1", "bash", command="echo harmless")]),
        answer("", [call("c2", "bash", command="echo harmless again")]),
        answer("", [call("c3", "bash", command=f"echo harmless; touch {outside}")]),
        answer("", [call("c4", "bash", command=f"echo harmless > {outside}")]),
        answer("", [call("c5", "bash", command=f"touch {outside}")]),
        answer("done")])
    loop, events, _ = make_loop(workspace, stream, mode=ApprovalMode.ASK, approver=approver)
    await loop.run("go")
    assert not outside.exists()
    # c2 ran under the grant; c3, c4 and c5 each asked again (and were denied).
    assert [r.call_id for r in asked] == ["c1", "c3", "c4", "c5"]
    assert asked[0].grant == SessionGrant("bash", ("echo", "harmless"))
    assert asked[1].grant is None and asked[2].grant is None  # once only: shell syntax
    assert "shell syntax" in asked[1].no_grant_reason
    results = {e.call_id: e for e in events if isinstance(e, ToolResultEvent)}
    assert results["c2"].ok and "harmless again" in results["c2"].output
    assert all(results[c].denied for c in ("c3", "c4", "c5"))


async def test_allow_for_session_without_a_grant_allows_only_once(tmp_path: Path) -> None:
    asked: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> ApprovalDecision:
        asked.append(request)
        return ApprovalDecision.ALLOW_SESSION

    stream = ScriptedStream([
        answer("", [call("c1", "bash", command="echo one | cat")]),
        answer("", [call("c2", "bash", command="echo one | cat")]),
        answer("done")])
    loop, _, _ = make_loop(tmp_path, stream, mode=ApprovalMode.ASK, approver=approver)
    await loop.run("go")
    assert [r.call_id for r in asked] == ["c1", "c2"]
    assert loop.policy.grants == []


async def test_grants_end_with_the_session(workspace: Path) -> None:
    from tests.engine.test_engine import open_engine

    engine = await open_engine(workspace, approval="ask")
    try:
        await engine.run("first")
        engine.policy.remember(grant_for("bash", "exec", {"command": "git status"}),
                               ApprovalDecision.ALLOW_SESSION)
        assert engine.policy.verdict("bash", "exec", {"command": "git status"}) == "allow"
        await engine.new_session()
        assert engine.policy.verdict("bash", "exec", {"command": "git status"}) == "ask"
    finally:
        await engine.close()
