"""The engine's command table (``tau_engine.commands``): parsing, a front end's own
commands, and each command's result as data, with and without a running engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.commands import COMMANDS, Command, CommandContext, CommandInput
from tau_engine.commands import results as r
from tau_engine.config import Settings
from tau_engine.engine import Engine
from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.protocol.approval import ApprovalMode
from tau_engine.session_control import SessionControl


async def _engine(workspace: Path) -> Engine:
    return await Engine.open(
        workspace=WorkspacePaths(workspace), settings=Settings(model="offline/echo"), environ={}
    )


def test_each_command_is_declared_once_with_usage_and_help() -> None:
    names = [command.name for command in COMMANDS]
    assert len(names) == len(set(names))
    assert all(command.help and command.run is not None for command in COMMANDS)
    model = COMMANDS.get("MODEL")  # names are matched case-insensitively
    assert model is not None and model.usage == "/model [ID]" and model.choices is not None


def test_unknown_command_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"unknown command /bogus; type /help"):
        COMMANDS.lookup("/bogus now")
    command, given = COMMANDS.lookup("  /resume  abc12 ")
    assert command.name == "resume" and given == CommandInput("abc12")


def test_a_front_end_adds_its_own_commands_in_place() -> None:
    theme = Command("theme", "switch theme", "[NAME]")
    table = COMMANDS.with_commands(theme, before="clear")
    names = [command.name for command in table]
    assert names.index("theme") == names.index("clear") - 1
    assert len(table) == len(COMMANDS) + 1
    replaced = table.with_commands(Command("help", "mine"))
    help_command = replaced.get("help")
    assert help_command is not None and help_command.help == "mine"
    assert [c.name for c in replaced].count("help") == 1


async def test_a_command_the_front_end_runs_itself_is_refused_by_the_table(workspace: Path) -> None:
    table = COMMANDS.with_commands(Command("theme", "switch theme"))
    engine = await _engine(workspace)
    try:
        with pytest.raises(UsageError, match="/theme is not available here"):
            await table.execute(CommandContext.of(engine, table), "/theme dark")
    finally:
        await engine.close()


async def test_results_are_data(workspace: Path) -> None:
    engine = await _engine(workspace)
    ctx = CommandContext.of(engine, COMMANDS)
    try:
        assert await COMMANDS.execute(ctx, "/session") == r.SessionShown(None)
        shown = await COMMANDS.execute(ctx, "/approval full-auto")
        assert shown == r.ApprovalShown(ApprovalMode.FULL_AUTO, changed=True)
        assert engine.state().approval is ApprovalMode.FULL_AUTO
        changed = await COMMANDS.execute(ctx, "/model offline/echo")
        assert isinstance(changed, r.ModelChanged) and changed.model_id == "offline/echo"
        assert await COMMANDS.execute(ctx, "/model") == r.ModelShown("offline/echo")
        await engine.run("hello")
        assert engine.session is not None
        first = engine.session.id
        forked = await COMMANDS.execute(ctx, "/fork")
        assert isinstance(forked, r.SessionForked) and forked.switched
        assert forked.source_id == first and engine.session.id == forked.session.id
        cost = await COMMANDS.execute(ctx, "/cost")
        assert isinstance(cost, r.CostShown) and cost.usage.output_tokens > 0
        exported = await COMMANDS.execute(ctx, "/export")
        assert isinstance(exported, r.SessionExported)
        assert exported.path == workspace / f"tau-{forked.session.id[:8]}.jsonl"
        cleared = await COMMANDS.execute(ctx, "/clear")
        assert cleared == r.NewSession(forked.session, cleared=True)
        assert engine.session is None
        listed = await COMMANDS.execute(ctx, "/resume")
        assert isinstance(listed, r.SessionsListed) and len(listed.sessions) == 2
        assert isinstance(await COMMANDS.execute(ctx, "/quit"), r.QuitRequested)
        with pytest.raises(UsageError, match="unknown /memory action 'drop'"):
            await COMMANDS.execute(ctx, "/memory drop 3")
    finally:
        await engine.close()


async def test_without_an_engine_the_session_commands_act_on_the_named_session(
    workspace: Path,
) -> None:
    """What ``tau sessions undo|redo|fork ID`` runs: the table over the store alone."""
    engine = await _engine(workspace)
    try:
        await engine.run("hello")
        assert engine.session is not None
        session_id = engine.session.id
    finally:
        await engine.close()
    control = await SessionControl.open(WorkspacePaths(workspace))
    ctx = CommandContext(sessions=control, table=COMMANDS)
    try:
        forked = await COMMANDS.run(
            ctx, COMMANDS.lookup("/fork")[0], CommandInput(session=session_id[:8])
        )
        assert isinstance(forked, r.SessionForked) and not forked.switched
        assert forked.source_id == session_id and control.current is None
        undone = await COMMANDS.run(
            ctx, COMMANDS.lookup("/undo")[0], CommandInput(session=session_id)
        )
        assert isinstance(undone, r.TurnsUndone) and undone.report.messages == 2
        with pytest.raises(UsageError, match="/model needs a running engine"):
            await COMMANDS.execute(ctx, "/model offline/echo")
    finally:
        control.close()
