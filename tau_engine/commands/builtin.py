"""The engine's slash commands, each declared once: name, arguments, help, what it
does through the engine and its result (``results.py``).

The app, ``tau --line``, a session read from stdin and ``tau sessions undo|redo|fork``
run these and render their results; a front end adds only what is its own (the
app's ``/theme``) with ``CommandTable.with_commands``.
"""

from __future__ import annotations

import asyncio

from tau_engine.commands import results as r
from tau_engine.commands.table import (
    Choice,
    ChoiceList,
    Command,
    CommandContext,
    CommandInput,
    CommandTable,
)
from tau_engine.errors import UsageError


async def _help(ctx: CommandContext, given: CommandInput) -> r.HelpShown:
    return r.HelpShown(ctx.table.commands)


async def _model(ctx: CommandContext, given: CommandInput) -> r.ModelShown | r.ModelChanged:
    engine = ctx.need_engine("model")
    if not given.text:
        return r.ModelShown(engine.model_id)
    warnings = engine.set_model(given.text)
    return r.ModelChanged(engine.model_id, tuple(warnings))


async def _model_choices(ctx: CommandContext) -> ChoiceList:
    from tau_engine.providers.catalog import load_catalog

    engine = ctx.need_engine("model")
    catalog = await asyncio.to_thread(load_catalog)
    choices = [
        Choice(
            info.model_id,
            info.model_id,
            f"{info.context_window // 1000}k ctx" if info.context_window else "",
        )
        for info in catalog.list()
    ]
    return ChoiceList("Model", choices, current=engine.model_id)


async def _session(ctx: CommandContext, given: CommandInput) -> r.SessionShown:
    current = ctx.sessions.current
    if current is None:
        return r.SessionShown(None)
    # Read again: the figures change with every turn, undo and redo.
    info = await ctx.sessions.store.get_session(current.id)
    return r.SessionShown(info, len(await ctx.sessions.store.history(info.id)))


async def _sessions(ctx: CommandContext, given: CommandInput) -> r.SessionsListed:
    current = ctx.sessions.current
    return r.SessionsListed(await ctx.sessions.list(50), current.id if current else None)


async def _resume(ctx: CommandContext, given: CommandInput) -> r.SessionResumed | r.SessionsListed:
    if not given.text:
        return await _sessions(ctx, given)
    return r.SessionResumed(await ctx.sessions.resume(given.text))


async def _new(ctx: CommandContext, given: CommandInput) -> r.NewSession:
    return r.NewSession(await ctx.sessions.new())


async def _clear(ctx: CommandContext, given: CommandInput) -> r.NewSession:
    # A fresh context, as in Claude Code and aider: the old session stays for /resume.
    return r.NewSession(await ctx.sessions.new(), cleared=True)


async def _fork(ctx: CommandContext, given: CommandInput) -> r.SessionForked:
    if given.session is not None:
        source = (await ctx.sessions.store.get_session(given.session)).id
        forked = await ctx.sessions.fork(given.text or None, session=source)
        return r.SessionForked(source, forked, switched=False)
    current = ctx.sessions.current
    source = current.id if current is not None else ""
    return r.SessionForked(source, await ctx.sessions.fork(given.text or None))


async def _undo(ctx: CommandContext, given: CommandInput) -> r.TurnsUndone:
    return r.TurnsUndone(await ctx.sessions.undo(session=given.session))


async def _redo(ctx: CommandContext, given: CommandInput) -> r.TurnsUndone:
    return r.TurnsUndone(await ctx.sessions.redo(session=given.session))


async def _compact(ctx: CommandContext, given: CommandInput) -> r.CompactionDone:
    return r.CompactionDone(await ctx.need_engine("compact").compact())


async def _cost(ctx: CommandContext, given: CommandInput) -> r.CostShown:
    usage, cost = ctx.need_engine("cost").usage_totals()
    return r.CostShown(usage, cost)


async def _approval(ctx: CommandContext, given: CommandInput) -> r.ApprovalShown:
    engine = ctx.need_engine("approval")
    if given.text:
        engine.set_approval(given.text)
    return r.ApprovalShown(engine.state().approval, changed=bool(given.text))


async def _approval_choices(ctx: CommandContext) -> ChoiceList:
    from tau_engine.protocol.approval import APPROVAL_SCOPE, ApprovalMode

    current = ctx.need_engine("approval").state().approval
    return ChoiceList(
        "Approval mode",
        [Choice(m.value, m.value, m.help) for m in ApprovalMode],
        current=current.value,
        filterable=False,
        note=APPROVAL_SCOPE,
    )


async def _memory(ctx: CommandContext, given: CommandInput) -> r.MemoryShown | r.MemoryApproved:
    engine = ctx.need_engine("memory")
    action, _, rest = given.text.partition(" ")
    if action == "approve":
        if engine.memory is None:
            raise UsageError("learned memory is off (memory = false in config.toml)")
        outcome = await engine.memory.service.approve(rest.strip())
        return r.MemoryApproved(outcome.entry.id)
    if action:
        raise UsageError(f"unknown /memory action '{action}'; use /memory or /memory approve ID")
    return r.MemoryShown(await engine.memory_overview())


async def _export(ctx: CommandContext, given: CommandInput) -> r.SessionExported:
    session_id, path, records = await ctx.sessions.export(given.text or None, session=given.session)
    return r.SessionExported(session_id, path, records)


async def _clear_risk(ctx: CommandContext, given: CommandInput) -> r.RiskCleared:
    engine = ctx.need_engine("clear-risk")
    before = engine.safety_state()
    return r.RiskCleared(engine.clear_risk(), before.risk, before.profile, before.mode)


async def _mission(ctx: CommandContext, given: CommandInput) -> r.MissionFinished:
    from tau_engine.missions.conversation import run_conversation_mission

    ran = await run_conversation_mission(ctx.need_engine("mission"), given.text)
    return r.MissionFinished(ran.state, ran.evidence_dir, ran.publish_commands)


async def _quit(ctx: CommandContext, given: CommandInput) -> r.QuitRequested:
    return r.QuitRequested()


COMMANDS = CommandTable(
    [
        Command("help", "show commands and keys", run=_help),
        Command(
            "model",
            "switch model; without an id, pick one from the catalog (or show the current one)",
            "[ID]",
            run=_model,
            choices=_model_choices,
        ),
        Command("session", "show the current session", run=_session),
        Command("sessions", "list earlier sessions to resume or fork", run=_sessions),
        Command(
            "resume",
            "resume an earlier session; without an id, the list to pick from",
            "[ID]",
            run=_resume,
        ),
        Command("new", "start a new session", run=_new),
        Command(
            "fork",
            "branch the session into a new one (at MESSAGE_ID; default: its last message)",
            "[MESSAGE_ID]",
            run=_fork,
        ),
        Command("undo", "undo the session's last turn and restore the files it changed", run=_undo),
        Command("redo", "redo the last undone turn", run=_redo),
        Command("compact", "summarize older turns to free context", run=_compact),
        Command("cost", "show the session's tokens and cost", run=_cost),
        Command(
            "approval",
            "show or set the approval mode",
            "[MODE]",
            run=_approval,
            choices=_approval_choices,
        ),
        Command(
            "memory",
            "instructions and learned memory, and what this turn was offered",
            "[approve ID]",
            run=_memory,
        ),
        Command("clear", "start a fresh context (the old session stays; /resume it)", run=_clear),
        Command(
            "clear-risk",
            "after a prompt-injection flag, let calls follow the rules again",
            run=_clear_risk,
        ),
        Command("export", "write the session as JSONL", "[FILE]", run=_export),
        Command(
            "mission",
            "coding mission until --verifier CMD passes (--patch FILE, else the model; "
            "TASK: your last prompt)",
            "[TASK]",
            run=_mission,
        ),
        Command("quit", "quit tau", run=_quit),
        Command("exit", "quit tau", run=_quit),
    ]
)
"""The engine's command table, in the order ``/help`` lists it."""
