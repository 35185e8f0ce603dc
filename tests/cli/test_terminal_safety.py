"""End to end: a hostile answer, tool output or session title cannot drive the user's
terminal through ``tau -p``, ``tau sessions list|show`` or the line REPL."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.paths import WorkspacePaths
from tau_tui.repl import LineApprover, LineRepl
from tests.cli.tau_process import run_tau
from tests.repl.test_repl import scripted

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"
TITLE = "\x1b]0;pwned\x07"
HOSTILE_ANSWER = f"All done.{OSC52}{TITLE}\x1b[2A\x1b[2K\rnothing to see\u202eevil"


def hostile_script(workspace: Path) -> Path:
    script = workspace / "hostile.json"
    script.write_text(
        json.dumps(
            {
                "version": 1,
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "bash",
                                "arguments": {
                                    "command": "printf '\\033]0;tool title\\007boom"
                                    "\\033[31m red\\n'; exit 3"
                                },
                            }
                        ]
                    },
                    {"text": HOSTILE_ANSWER},
                ],
            }
        )
    )
    return script


def test_headless_text_output_is_stripped(workspace: Path) -> None:
    proc = run_tau(
        [
            "-p",
            f"hello{TITLE}",
            "--model",
            "offline/replay",
            "--script",
            str(hostile_script(workspace)),
            "--approval",
            "full-auto",
            "--no-color",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    assert "All done." in proc.stdout and "nothing to see" in proc.stdout
    assert not CONTROL.search(proc.stdout), repr(proc.stdout)
    assert "tool=bash" in proc.stderr and "error boom red" in proc.stderr
    assert not CONTROL.search(proc.stderr), repr(proc.stderr)


def test_sessions_list_and_show_are_stripped(workspace: Path) -> None:
    proc = run_tau(
        [
            "-p",
            f"title{TITLE}{OSC52} here",
            "--model",
            "offline/replay",
            "--script",
            str(hostile_script(workspace)),
            "--approval",
            "full-auto",
            "--output-format",
            "json",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    session = json.loads(proc.stdout.splitlines()[-1])["session_id"]
    listing = run_tau(["sessions", "list"], workspace)
    assert listing.returncode == 0 and "title here" in listing.stdout
    assert not CONTROL.search(listing.stdout), repr(listing.stdout)
    shown = run_tau(["sessions", "show", session], workspace)
    assert shown.returncode == 0
    assert "All done." in shown.stdout and "[tool bash error] boom red" in shown.stdout
    assert not CONTROL.search(shown.stdout), repr(shown.stdout)
    # The JSON forms keep the exact text (escaped), for programs that want it.
    as_json = json.loads(run_tau(["sessions", "show", session, "--json"], workspace).stdout)
    assert as_json["messages"][-1]["message"]["content"] == HOSTILE_ANSWER


async def test_repl_output_is_stripped(workspace: Path) -> None:
    ask, _ = scripted([f"hi{TITLE}", "/sessions", "/quit"])
    out, err = io.StringIO(), io.StringIO()
    engine = await Engine.open(
        workspace=WorkspacePaths(workspace),
        settings=Settings(model="offline/replay", approval="full-auto"),
        environ={},
        script_path=hostile_script(workspace),
        approver=LineApprover(ask, out),  # type: ignore[arg-type]
    )
    try:
        assert await LineRepl(engine, ask, out, err).loop() == 0  # type: ignore[arg-type]
    finally:
        await engine.close()
    assert "All done." in out.getvalue() and "tool=bash" in err.getvalue()
    assert not CONTROL.search(out.getvalue()), repr(out.getvalue())
    assert not CONTROL.search(err.getvalue()), repr(err.getvalue())


async def test_repl_approval_preview_is_stripped() -> None:
    from tau_engine.safety.policy import ApprovalDecision, ApprovalRequest

    ask, _ = scripted(["n"])
    out = io.StringIO()
    decision = await LineApprover(ask, out)(  # type: ignore[arg-type]
        ApprovalRequest(
            call_id="c1",
            tool="bash",
            kind="exec",
            arguments={},
            reason="exec needs approval",
            preview=f"echo hi{OSC52}\x1b[1A\x1b[2Kls",
        )
    )
    assert decision is ApprovalDecision.DENY
    assert "echo hils" in out.getvalue() and not CONTROL.search(out.getvalue())
