"""The engine's command table (``tau_engine.commands``) behind every front end.

Each front end lists the table's commands, and only adds what it declares as its
own (the app's ``/theme``); a command's result (data) is rendered by each: the
app's notice, the line REPL, a session read from stdin and ``tau sessions``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tau_engine.commands import COMMANDS
from tau_tui.command_output import result_lines
from tau_tui.widgets.completion import suggest
from tau_tui.widgets.entries import NoticeEntry
from tau_tui.widgets.prompt import PromptInput
from tests.cli.tau_process import run_tau
from tests.repl.test_repl import make, scripted
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer
from tests.tui.conftest import SIZE, AppFactory, engine_ready, idle, wait_for
from tests.tui.test_agent_turns import send

ENGINE_NAMES = [command.name for command in COMMANDS]
WRITE = {"name": "write", "arguments": {"path": "new.txt", "content": "x"}}


def notices(app: object) -> list[str]:
    return [
        e.message
        for e in app.agent.transcript.entries  # type: ignore[attr-defined]
        if isinstance(e, NoticeEntry)
    ]


def listed_names(help_text: str) -> list[str]:
    """The command names a ``/help`` text lists, in order."""
    return [line.split()[0][1:] for line in help_text.splitlines() if line.startswith("/")]


# -- each front end's list of commands ----------------------------------------------------


async def app_help(make_app: AppFactory, workspace: Path) -> list[str]:
    app = make_app(workspace=workspace)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "/help")
        await wait_for(lambda: any(m.startswith("commands:") for m in notices(app)))
        return listed_names(next(m for m in notices(app) if m.startswith("commands:")))


async def app_completion(make_app: AppFactory, workspace: Path) -> list[str]:
    app = make_app(workspace=workspace)
    async with app.run_test(size=SIZE):
        commands = app.query_one(PromptInput).commands
        return [s.insert[1:] for s in suggest("/", commands, [])]


async def app_palette(make_app: AppFactory, workspace: Path) -> list[str]:
    from tau_tui.screens.palette import TauCommands

    app = make_app(workspace=workspace)
    async with app.run_test(size=SIZE):
        entries = TauCommands(app.screen)._commands()
        return [name[1:] for name, _, _ in entries if name.startswith("/")]


async def repl_help(make_app: AppFactory, workspace: Path) -> list[str]:
    ask, _ = scripted(["/help", "/quit"])
    engine, repl, out, _ = await make(workspace, ask)
    try:
        await repl.loop()
    finally:
        await engine.close()
    return listed_names(out.getvalue())


async def scripted_help(make_app: AppFactory, workspace: Path) -> list[str]:
    proc = run_tau(["--model", "offline/echo"], workspace, input="/help\n")
    assert proc.returncode == 0, proc.stderr
    return listed_names(proc.stdout)


Lister = Callable[[AppFactory, Path], Awaitable[list[str]]]
LISTERS: dict[str, tuple[Lister, set[str]]] = {
    # front end: (how to read its list, the commands it declares as its own)
    "app /help": (app_help, {"theme"}),
    "app completion": (app_completion, {"theme"}),
    "app command palette": (app_palette, {"theme"}),
    "tau --line /help": (repl_help, set()),
    "stdin session /help": (scripted_help, set()),
}


@pytest.mark.parametrize("front_end", list(LISTERS))
async def test_every_front_end_lists_the_engine_table(
    front_end: str, make_app: AppFactory, workspace: Path
) -> None:
    lister, own = LISTERS[front_end]
    listed = await lister(make_app, workspace)
    assert [name for name in listed if name not in own] == ENGINE_NAMES
    assert set(listed) - set(ENGINE_NAMES) == own


@pytest.mark.parametrize("front_end", list(LISTERS))
async def test_every_front_end_lists_mission(
    front_end: str, make_app: AppFactory, workspace: Path
) -> None:
    """``/mission`` is declared once, in the engine's table, and each front end offers it."""
    lister, _ = LISTERS[front_end]
    assert "mission" in await lister(make_app, workspace)


def test_tau_sessions_actions_carry_the_table_help(workspace: Path) -> None:
    for action in ("undo", "redo", "fork"):
        command = COMMANDS.get(action)
        assert command is not None
        shown = run_tau(["sessions", action, "--help"], workspace)
        assert shown.returncode == 0, shown.stderr
        assert " ".join(command.help.split()) in " ".join(shown.stdout.split())


# -- one result (the data of /undo) rendered by each ------------------------------------------


async def undo_in_app(
    make_app: AppFactory, server: ScriptedServer, workspace: Path, script: Path
) -> tuple[str, str]:
    server.add(openai_answer("", [{"id": "w1", **WRITE}]), openai_answer("made new.txt"))
    app = make_app(server, approval="auto-edit", workspace=workspace)
    async with app.run_test(size=SIZE) as pilot:
        await engine_ready(app)
        await send(pilot, "make a file")
        await idle(app)
        engine = app.agent.engine
        assert engine is not None and engine.session is not None
        session_id = engine.session.id
        await send(pilot, "/undo")
        await wait_for(lambda: any(m.startswith("undid") for m in notices(app)))
        return "\n".join(notices(app)), session_id


async def undo_in_repl(
    make_app: AppFactory, server: ScriptedServer, workspace: Path, script: Path
) -> tuple[str, str]:
    ask, _ = scripted(["make a file", "/undo", "/quit"])
    engine, repl, out, _ = await make(workspace, ask, script, approval="auto-edit")
    try:
        await repl.loop()
        assert engine.session is not None
        return out.getvalue(), engine.session.id
    finally:
        await engine.close()


async def undo_from_stdin(
    make_app: AppFactory, server: ScriptedServer, workspace: Path, script: Path
) -> tuple[str, str]:
    proc = run_tau(
        ["--model", "offline/replay", "--script", str(script)],
        workspace,
        input="make a file\n/undo\n",
    )
    assert proc.returncode == 0, proc.stderr
    listed = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)
    return proc.stdout, listed[0]["id"]


async def undo_by_tau_sessions(
    make_app: AppFactory, server: ScriptedServer, workspace: Path, script: Path
) -> tuple[str, str]:
    made = run_tau(
        [
            "-p",
            "make a file",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
        ],
        workspace,
    )
    session_id = json.loads(made.stdout.splitlines()[-1])["session_id"]
    proc = run_tau(["sessions", "undo", session_id[:8]], workspace)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, session_id


Undoer = Callable[[AppFactory, ScriptedServer, Path, Path], Awaitable[tuple[str, str]]]
UNDOERS: dict[str, Undoer] = {
    "app": undo_in_app,
    "tau --line": undo_in_repl,
    "stdin session": undo_from_stdin,
    "tau sessions undo": undo_by_tau_sessions,
}


@pytest.mark.parametrize("front_end", list(UNDOERS))
async def test_every_front_end_renders_a_command_result(
    front_end: str, make_app: AppFactory, server: ScriptedServer, workspace: Path, tmp_path: Path
) -> None:
    script = tmp_path / "write.json"
    script.write_text(json.dumps([{"tool_calls": [WRITE]}, {"text": "made new.txt"}]))
    shown, session_id = await UNDOERS[front_end](make_app, server, workspace, script)
    # The result's data: what moved, in which session, and the file that came back.
    assert f"undid 4 message(s) of session {session_id[:8]}; restored new.txt" in shown
    assert not (workspace / "new.txt").exists()


def test_every_result_of_the_table_has_a_plain_rendering() -> None:
    from typing import get_args

    from tau_engine.commands import results as r

    rendered = {type(sample) for sample in _samples() if result_lines(sample)}
    every = set(get_args(r.CommandResult))
    assert every - {r.QuitRequested} == rendered


def _samples() -> list[object]:
    import time

    from tau_engine.commands import results as r
    from tau_engine.conversation import Usage
    from tau_engine.memory.overview import MemoryOverview
    from tau_engine.protocol.approval import ApprovalMode
    from tau_engine.store import SessionInfo, UndoReport

    now = time.time()
    info = SessionInfo(id="a" * 32, title="t", model="offline/echo", created_at=now, updated_at=now)
    report = UndoReport(action="undo", session_id=info.id, messages=2, head_id=None)
    return [
        r.HelpShown(COMMANDS.commands),
        r.ModelShown("m"),
        r.ModelChanged("m", ("w",)),
        r.ApprovalShown(ApprovalMode.ASK, True),
        r.SessionShown(None),
        r.SessionShown(info),
        r.SessionsListed([info], info.id),
        r.SessionResumed(info),
        r.NewSession(info),
        r.SessionForked(info.id, info),
        r.TurnsUndone(report),
        r.CompactionDone(None),
        r.CostShown(Usage(), None),
        r.MemoryShown(MemoryOverview(instructions=[], enabled=False)),
        r.MemoryApproved(3),
        r.SessionExported(info.id, Path("x.jsonl"), 2),
        r.RiskCleared(0, "", "balanced", "ask"),
        r.RiskCleared(1, "possible prompt injection", "balanced", "ask"),
        r.MissionFinished(_blocked_mission(now), Path("/r/.tau/missions/0123456789ab")),
        r.QuitRequested(),
    ]


def _blocked_mission(now: float) -> Any:
    from tau_engine.missions.model import MissionInputs, MissionState, Outcome, Phase

    inputs = MissionInputs(repo="/r", task="Fix it\x1b[2J", title="Fix it")
    return MissionState(
        id="0123456789ab",
        created_at=now,
        updated_at=now,
        inputs=inputs,
        phase=Phase.DONE,
        outcome=Outcome.BLOCKED,
        reason="missing-verifier",
        message="no --verifier\x1b]52;c;bad\x07",
        unblock_command="tau mission run --repo /r --task 'Fix it' --verifier 'make test'",
    )


def test_a_mission_is_worded_as_tau_mission_run_prints_it() -> None:
    from tau_engine.commands import results as r

    [line] = result_lines(
        r.MissionFinished(_blocked_mission(0.0), Path("/r/.tau/missions/0123456789ab"))
    )
    assert line.level == "warning"
    assert line.text == (
        "mission 0123456789ab: blocked (missing-verifier)\n"
        "  no --verifier\n"
        "  to unblock: tau mission run --repo /r --task 'Fix it' --verifier 'make test'\n"
        "  evidence: /r/.tau/missions/0123456789ab"
    )


def test_result_lines_strip_terminal_controls() -> None:
    from tau_engine.commands import results as r

    [line] = result_lines(r.ModelShown("evil\x1b]52;c;bad\x07/model"))
    assert "\x1b" not in line.text and "\x07" not in line.text


def test_the_guides_list_every_command_of_the_table() -> None:
    import re

    docs = Path(__file__).resolve().parents[2] / "docs"
    app_table = (docs / "tui.md").read_text().split("| command | effect |", 1)[1]
    in_app = set(re.findall(r"`/([a-z-]+)", app_table.split("\n\n", 1)[0]))
    repl = (docs / "cli.md").read_text().split("## The line-mode REPL", 1)[1].split("##", 1)[0]
    in_repl = set(re.findall(r"`/([a-z-]+)", repl))
    assert set(ENGINE_NAMES) | {"theme"} == in_app
    assert set(ENGINE_NAMES) <= in_repl and "theme" in in_repl  # "but `/theme`"


async def test_the_repl_prints_what_the_app_offers_to_pick(workspace: Path) -> None:
    ask, _ = scripted(["hello", "/model", "/approval", "/resume", "/quit"])
    engine, repl, out, _ = await make(workspace, ask)
    try:
        await repl.loop()
        assert engine.session is not None
        session_id = engine.session.id
    finally:
        await engine.close()
    text = out.getvalue()
    assert "model: offline/echo" in text and "approval mode: ask" in text
    assert f"* {session_id[:8]}  offline/echo" in text


def test_the_repl_prints_warnings_on_stderr_and_lines_on_stdout() -> None:
    import io

    from tau_engine.commands import results as r
    from tau_tui.repl import LineRepl

    repl = LineRepl.__new__(LineRepl)  # only its printing: no engine needed
    repl.out, repl.err = io.StringIO(), io.StringIO()
    repl.show(r.ModelChanged("openai/gpt-5", ("the key comes from .env",)))
    assert repl.out.getvalue() == "model: openai/gpt-5\n"
    assert repl.err.getvalue() == "tau: warning: the key comes from .env\n"
