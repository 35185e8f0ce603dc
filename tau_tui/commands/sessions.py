"""``tau sessions``: list, show, export, import, undo, redo, fork, delete and recover the
workspace's sessions."""

from __future__ import annotations

import argparse
import asyncio
import datetime as _dt
import json
import sys
from pathlib import Path
from typing import Any

from tau_engine.text.terminal import strip_terminal_controls as plain
from tau_engine.tools.label import tool_label
from tau_tui.store_option import add_store_option


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "sessions", help="list, show, export, import, undo, fork, delete or recover sessions"
    )
    # Options every action takes, after the action's name (tau sessions list -w DIR).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    add_store_option(common)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = actions.add_parser(
            name, help=text, description=text, parents=[common]
        )
        return made

    p = action("list", "list sessions, newest first")
    p.add_argument("--json", action="store_true", help="one JSON line: a list of sessions")
    p.add_argument("--limit", type=int, default=50)
    p = action("show", "print a session's conversation")
    p.add_argument("id", help="session id or unique prefix")
    p.add_argument("--json", action="store_true", help="one JSON line: session and messages")
    p = action("export", "write a session to a JSONL file (lossless)")
    p.add_argument("id", help="session id or unique prefix")
    p.add_argument("file", help="destination .jsonl file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = action("import", "recreate a session from an exported JSONL file")
    p.add_argument("file", help="an exported .jsonl file")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    for name in TABLE_ACTIONS:  # the engine's commands: their help is the table's
        p = action(name, _table_command(name).help)
        p.add_argument("id", help="session id or unique prefix")
        if name == "fork":
            p.add_argument(
                "--at", metavar="MESSAGE_ID", help="fork at this message (default: head)"
            )
        p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = action("delete", "delete a session and its events")
    p.add_argument("id", help="session id or unique prefix")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = action(
        "recover",
        "rebuild a damaged .tau/tau.db from what can still be read "
        "(keeps a copy of the damaged files)",
    )
    p.add_argument("--json", action="store_true", help="print the result as JSON")


READ_ONLY_ACTIONS = ("list", "show", "export")
# Run through the engine's command table (``tau_engine.commands``), on the named session.
TABLE_ACTIONS = ("undo", "redo", "fork")


def _table_command(name: str) -> Any:
    from tau_engine.commands import COMMANDS

    command = COMMANDS.get(name)
    assert command is not None, name
    return command


def _when(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _info_json(info: Any) -> dict[str, Any]:
    return {
        "id": info.id,
        "title": info.title,
        "model": info.model,
        "created_at": info.created_at,
        "updated_at": info.updated_at,
        "messages": getattr(info, "message_count", None),
        "usage": {
            "input_tokens": info.usage.input_tokens,
            "output_tokens": info.usage.output_tokens,
        },
        "cost_usd": info.cost_usd,
    }


def run(args: argparse.Namespace) -> int:
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store import open_store
    from tau_tui.store_option import selected_store_url

    paths = WorkspacePaths.locate(args.workspace)
    backend = open_store(paths, selected_store_url(paths, args))
    if args.action == "recover":
        return _recover(backend, args)
    # The read-only actions work on a store the user cannot write too.
    store = backend.open_sessions(read_only=args.action in READ_ONLY_ACTIONS)
    try:
        return asyncio.run(_dispatch(store, args))
    finally:
        store.close()


async def _run_table_command(store: Any, args: argparse.Namespace) -> int:
    """``undo``, ``redo`` and ``fork`` of a named session: the engine's commands, run with
    the store alone (no model), on that session; a session another process is running is
    not changed under it (exit 2)."""
    from tau_engine.commands import COMMANDS, CommandContext, CommandInput
    from tau_engine.commands import results as r
    from tau_engine.session_control import SessionControl
    from tau_tui.command_output import result_lines

    ctx = CommandContext(sessions=SessionControl(store, store.paths), table=COMMANDS)
    given = CommandInput(getattr(args, "at", None) or "", session=args.id)
    result = await COMMANDS.run(ctx, _table_command(args.action), given)
    if args.json:
        data = (
            _info_json(result.session)
            if isinstance(result, r.SessionForked)
            else result.report.to_json()
        )
        sys.stdout.write(json.dumps(data) + "\n")
    else:
        sys.stdout.write("".join(line.text + "\n" for line in result_lines(result)))
    return 0


def _recover(backend: Any, args: argparse.Namespace) -> int:
    report = backend.recover()
    if args.json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
    else:
        sys.stdout.write(report.summary() + "\n")
    return 0


async def _dispatch(store: Any, args: argparse.Namespace) -> int:
    out = sys.stdout
    if args.action == "list":
        sessions = await store.list_sessions(args.limit)
        if args.json:
            out.write(json.dumps([_info_json(s) for s in sessions]) + "\n")
            return 0
        if not sessions:
            out.write("no sessions in this workspace yet\n")
            return 0
        for s in sessions:
            out.write(plain(f"{s.id[:8]}  {_when(s.updated_at)}  {s.model:<28}  {s.title}") + "\n")
        return 0
    if args.action == "show":
        info = await store.get_session(args.id)
        messages = await store.history(info.id)
        if args.json:
            out.write(
                json.dumps(
                    {
                        "session": _info_json(info),
                        "messages": [json.loads(m.model_dump_json()) for m in messages],
                    }
                )
                + "\n"
            )
            return 0
        # Titles, answers and tool output are untrusted: never let them drive the terminal.
        out.write(plain(f"session {info.id}  {info.title}\nmodel {info.model}") + "\n\n")
        for m in messages:
            msg = m.message
            if msg.role == "tool":
                status = "error" if msg.is_error else "ok"
                first = (plain(msg.content).strip().splitlines() or [""])[0][:100]
                out.write(plain(f"  [tool {msg.name} {status}] ") + first + "\n")
                continue
            out.write(plain(f"{msg.role}:\n{msg.content}") + "\n")
            for call in msg.tool_calls:
                label = tool_label(call.name, call.arguments)
                out.write(plain(f"  -> {call.name} {label}".rstrip()) + "\n")
            out.write("\n")
        return 0
    if args.action == "export":
        info = await store.get_session(args.id)
        from tau_engine.engine_safety import workspace_redaction

        lines = await store.export_jsonl(
            info.id, Path(args.file), redact=workspace_redaction(store.paths).redact_data
        )
        if args.json:
            out.write(json.dumps({"session_id": info.id, "file": args.file, "lines": lines}) + "\n")
        else:
            out.write(f"exported session {info.id[:8]} ({lines} lines) to {args.file}\n")
        return 0
    if args.action == "import":
        info = await store.import_jsonl(Path(args.file))
        if args.json:
            out.write(json.dumps(_info_json(info)) + "\n")
        else:
            out.write(plain(f"imported session {info.id[:8]}: {info.title}") + "\n")
        return 0
    if args.action in TABLE_ACTIONS:
        return await _run_table_command(store, args)
    if args.action == "delete":
        info = await store.get_session(args.id)
        lock = store.lock_session(info.id)
        try:
            await store.delete_session(info.id)
        except BaseException:
            lock.release()
            raise
        lock.release_and_remove()
        if args.json:
            out.write(json.dumps({"deleted": info.id}) + "\n")
        else:
            out.write(f"deleted session {info.id[:8]}\n")
        return 0
    raise AssertionError(args.action)
