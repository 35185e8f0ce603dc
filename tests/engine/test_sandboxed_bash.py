"""bash through the pipeline, in the sandbox: what the policy cannot see, the sandbox stops.

The commands here write with Python, which the shell policy cannot read, so only the sandbox
stands between them and the file system or the network. CI installs bubblewrap; these skip
only outside CI on a machine without it. The tests of a missing sandbox (``best-effort`` runs
unsandboxed with a notice, ``required`` refuses) inject the probe and need no bubblewrap.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tau_engine.agent.tool_runner import ToolPipeline
from tau_engine.conversation import Message, ToolCall
from tau_engine.events import BaseEvent, EventBus
from tau_engine.safety.audit import AuditLog
from tau_engine.safety.layer import SafetyLayer
from tau_engine.safety.policy import ApprovalMode
from tau_engine.safety.sandbox import INSTALL_REMEDY, ProbeCheck, SandboxProbe
from tau_engine.safety.workspace import WorkspaceGuard
from tau_engine.tools.base import ToolContext
from tau_engine.tools.bash import BashTool
from tau_engine.tools.registry import default_tools

needs_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (CI installs it)",
)


def _pipeline(
    root: Path, *, safety: str | None = None, probe: Any = None
) -> tuple[ToolPipeline, list[BaseEvent]]:
    bus = EventBus("s1")
    events: list[BaseEvent] = []
    bus.subscribe(events.append)
    options = {"probe": probe} if probe is not None else {}
    layer = SafetyLayer.open(
        root, mode=ApprovalMode.FULL_AUTO, safety=safety, state_dir=root / ".tau", **options
    )
    ctx = ToolContext(workspace=root, guard=WorkspaceGuard(root))
    return ToolPipeline(
        default_tools(bash_timeout_s=20, sandbox=layer.sandbox), ctx, bus, layer, None
    ), events


async def _bash(pipeline: ToolPipeline, command: str) -> Message:
    call = ToolCall(id="c1", name="bash", arguments={"command": command})
    messages = [m async for _, m in pipeline.run([call])]
    return messages[0]


def _python(code: str) -> str:
    return f"python3 -c {shlex.quote(code)}"


@pytest.fixture
def outside() -> Iterator[Path]:
    # Not under /tmp, which is private inside the sandbox (a file there would just be absent).
    folder = Path(tempfile.mkdtemp(prefix="tau-outside-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_bwrap
async def test_a_write_outside_the_workspace_is_refused(tmp_path: Path, outside: Path) -> None:
    pipeline, _ = _pipeline(tmp_path)
    target = outside / "escaped.txt"
    message = await _bash(
        pipeline, _python(f"open({str(target)!r}, 'w').write('x')") + "; echo inside > made.txt"
    )
    assert "Read-only file system" in message.content
    assert not target.exists()
    assert (tmp_path / "made.txt").read_text() == "inside\n"  # the workspace is writable


@needs_bwrap
async def test_git_and_tau_state_are_read_only(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_text("[core]\n")
    (tmp_path / ".tau").mkdir()
    pipeline, _ = _pipeline(tmp_path)
    script = (
        "import sys\n"
        "for path in ('.git/config', '.tau/permissions.toml'):\n"
        "    try:\n"
        "        open(path, 'a').write('[[rule]]')\n"
        "    except OSError as exc:\n"
        "        print(path, exc.strerror)\n"
    )
    message = await _bash(pipeline, _python(script))
    assert ".git/config Read-only file system" in message.content
    assert ".tau/permissions.toml Read-only file system" in message.content
    assert (tmp_path / ".git" / "config").read_text() == "[core]\n"
    assert not (tmp_path / ".tau" / "permissions.toml").exists()


@pytest.fixture
def listener() -> Iterator[tuple[int, list[bool]]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(5)
    accepted: list[bool] = []

    def serve() -> None:
        try:
            connection, _ = server.accept()
            accepted.append(True)
            connection.close()
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    server.close()
    thread.join(6)


@needs_bwrap
async def test_the_network_is_cut(tmp_path: Path, listener: tuple[int, list[bool]]) -> None:
    port, accepted = listener
    pipeline, _ = _pipeline(tmp_path)
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), 3)\n"
        "    print('CONNECTED')\n"
        "except OSError as exc:\n"
        "    print('refused:', exc.strerror)\n"
    )
    message = await _bash(pipeline, _python(code))
    assert "refused:" in message.content and "CONNECTED" not in message.content
    assert accepted == []


async def test_git_cannot_be_made_to_run_a_program_by_the_repository(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "a.txt").write_text("a\n")
    subprocess.run(
        ["git", "-C", str(tmp_path), "config", "core.fsmonitor", f"touch {tmp_path}/pwned; false"],
        check=True,
    )
    # `git status` is allowed by the balanced profile: the repository's own config must not
    # turn it into running a program (the sandbox would not stop this one: the workspace
    # is writable).
    for tool in (BashTool(), BashTool(sandbox=_pipeline(tmp_path)[0].safety.sandbox)):
        if tool.sandbox is not None and shutil.which("bwrap") is None:
            continue
        out = await tool.run(
            tool.parse_args({"command": "git status --short"}),
            ToolContext(workspace=tmp_path, guard=WorkspaceGuard(tmp_path)),
        )
        assert "a.txt" in out.output
        assert not (tmp_path / "pwned").exists()


def _missing_bwrap() -> SandboxProbe:
    probe = SandboxProbe(bwrap=None)
    probe.checks.append(ProbeCheck("bubblewrap", False, "bwrap is not installed", INSTALL_REMEDY))
    return probe


async def test_required_refuses_without_the_sandbox_and_says_why(tmp_path: Path) -> None:
    pipeline, _ = _pipeline(tmp_path, safety="strict", probe=_missing_bwrap)
    message = await _bash(pipeline, "ls")
    assert message.content.startswith(
        "refused (sandbox): bubblewrap: bwrap is not installed; "
        "install bubblewrap: `sudo apt-get install bubblewrap`"
    )
    assert message.meta["denied"] is True
    pipeline.safety.flush_audit()
    audit = list(AuditLog.for_workspace(tmp_path / ".tau").read())
    assert [(e["kind"], e["rule"]) for e in audit] == [
        ("sandbox_refusal", "sandbox.policy = required")
    ]


async def test_best_effort_runs_unsandboxed_and_says_so_once(tmp_path: Path) -> None:
    pipeline, events = _pipeline(tmp_path, probe=_missing_bwrap)
    first = await _bash(pipeline, "echo one")
    second = await _bash(pipeline, "echo two")
    assert first.content.startswith("one") and second.content.startswith("two")
    notices = [e for e in events if e.type == "notice" and e.kind == "sandbox"]  # type: ignore[attr-defined]
    assert len(notices) == 1
    assert notices[0].message.startswith(  # type: ignore[attr-defined]
        "bash runs unsandboxed (profile balanced, sandbox.policy = best-effort): "
        "bubblewrap: bwrap is not installed"
    )
    assert pipeline.safety.state().sandbox == "off (best-effort: bwrap unavailable)"


@needs_bwrap
async def test_inside_the_sandbox_background_jobs_end_with_the_command(tmp_path: Path) -> None:
    pipeline, _ = _pipeline(tmp_path)
    message = await _bash(pipeline, "(sleep 0.3; echo late) & echo early")
    assert message.content.startswith("early\n")
    assert "late" not in message.content


@needs_bwrap
async def test_taus_user_config_dir_is_hidden(
    tmp_path: Path, outside: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = outside / "tau-config"
    config.mkdir()
    (config / "credentials.toml").write_text("key = 'not for commands'\n")
    monkeypatch.setenv("TAU_CONFIG_DIR", str(config))
    pipeline, _ = _pipeline(tmp_path)
    message = await _bash(pipeline, f"cat {config}/credentials.toml; ls {outside}")
    assert "not for commands" not in message.content
    assert "No such file or directory" in message.content
    assert "tau-config" in message.content  # the folder is there, empty
