"""``tau memory``: search, add, show, correct, retire, approve, export and import learned
memory, and ``why``: what the last prompt was offered.

Entries added here are the user's (``source = user``, trusted); ``approve`` lets a
quarantined entry be offered. Every action takes ``--json`` (one JSON document on stdout)
except ``export``, whose output is the JSONL itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from tau_tui.commands.memory_output import (
    entry_lines,
    hit_lines,
    offer_lines,
    outcome_line,
    pending_lines,
    tree_lines,
)
from tau_tui.store_option import add_store_option


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "memory",
        help="search, add, correct or retire learned memory",
        description="Learned memory: short facts the user or the model "
        "saved, searched with full-text search and offered to the model "
        "with each prompt (see docs/memory.md).",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workspace", "-w", metavar="DIR", help="workspace root")
    add_store_option(common)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    common.add_argument("--json", action="store_true", help="print the result as JSON")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    def action(name: str, text: str) -> argparse.ArgumentParser:
        made: argparse.ArgumentParser = actions.add_parser(name, help=text, parents=[common])
        return made

    p = action("search", "search live entries (every word must match)")
    p.add_argument("query", nargs="+", help='words; "a phrase"; a trailing * for a prefix')
    p.add_argument("--any", action="store_true", help="match any word instead of all")
    p.add_argument("--limit", type=int, default=10, help="most results (default 10)")
    p.add_argument("--namespace", "-n", metavar="NS", help="only this namespace and below")
    p.add_argument(
        "--all",
        action="store_true",
        help="include quarantined entries (marked), which the model never sees",
    )
    p = action("add", "add an entry (trusted: it is yours)")
    p.add_argument("text", help="the fact, in a sentence or two ('-' reads stdin)")
    _entry_options(p)
    p.add_argument("--subject", "-s", help="topic key: a later entry with it replaces this one")
    p.add_argument("--supersedes", metavar="ID", help="the entry this one corrects")
    p = action("show", "print an entry and its line of corrections")
    p.add_argument("id", help="entry id (12 or #12)")
    p = action("tree", "list namespaces with their entry counts")
    p.add_argument("prefix", nargs="?", help="only this namespace and below")
    p = action("retire", "retire an entry (kept for the record, no longer offered)")
    p.add_argument("id", help="entry id")
    p.add_argument("--reason", "-r", default="retired by the user", help="why it no longer holds")
    p = action("edit", "correct an entry: a new entry supersedes it")
    p.add_argument("id", help="entry id")
    p.add_argument("--text", help="the new text (default: edit it in $VISUAL or $EDITOR)")
    _entry_options(p)
    p = action("approve", "let quarantined entries be offered to the model")
    p.add_argument("ids", nargs="+", metavar="ID", help="entry ids (see tau memory pending)")
    action("pending", "list quarantined entries waiting for approval")
    p = action("export", "write every entry (retired ones too) as JSONL")
    p.add_argument("file", help="destination file ('-' for stdout)")
    p = action("import", "add the entries of an export file (one transaction)")
    p.add_argument("file", help="a file written by tau memory export")
    p.add_argument(
        "--quarantine",
        action="store_true",
        help="import every entry untrusted, to approve one by one",
    )
    p = action("why", "what the last prompt of a session was offered, with scores and why")
    p.add_argument("--session", metavar="ID", help="session id or prefix (default: latest)")


def _entry_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--namespace",
        "-n",
        metavar="NS",
        help="namespace path, e.g. project/build (default: project)",
    )
    parser.add_argument("--tags", "-t", help="comma-separated tags")


def run(args: argparse.Namespace) -> int:
    from tau_engine.memory.service import MemoryService
    from tau_engine.paths import WorkspacePaths
    from tau_tui.store_option import selected_store_url

    paths = WorkspacePaths.locate(args.workspace)
    store_url = selected_store_url(paths, args)
    if args.action == "why":
        return asyncio.run(_why(paths, args, store_url))
    service = MemoryService.open(
        paths,
        redactor=_redactor(paths) if args.action in ("add", "edit", "import") else None,
        store_url=store_url,
    )
    try:
        return asyncio.run(_dispatch(service, args))
    finally:
        service.close()


def _redactor(paths: Any) -> Any:
    """The user's provider keys, so a key pasted into an entry is never stored."""
    import os

    from tau_engine.config import load_settings
    from tau_engine.providers.dotenv import merged_environ
    from tau_engine.providers.key_sources import provider_key_values
    from tau_engine.safety.redact import SecretRedactor

    settings = load_settings(paths)
    env = merged_environ(dict(os.environ), paths.root, trusted=settings.workspace_trusted)
    return SecretRedactor(provider_key_values(settings, env))


def _print(args: argparse.Namespace, data: Any, lines: list[str]) -> int:
    out = sys.stdout
    if args.json:
        out.write(json.dumps(data, ensure_ascii=False) + "\n")
    else:
        out.write("".join(line + "\n" for line in lines))
    return 0


async def _dispatch(service: Any, args: argparse.Namespace) -> int:
    from tau_engine.errors import UsageError

    action = args.action
    if action == "search":
        result = await service.search(
            " ".join(args.query),
            limit=args.limit,
            match="any" if args.any else "all",
            include_untrusted=args.all,
            namespace=args.namespace,
        )
        if result.query.empty:
            raise UsageError("nothing to search for: the query has no letters or digits")
        data = {
            "query": result.query.describe(),
            "hits": [
                {
                    "score": h.score,
                    "snippet": h.snippet,
                    "matched": list(h.matched),
                    "entry": h.entry.to_json(),
                }
                for h in result.hits
            ],
        }
        return _print(args, data, hit_lines(result))
    if action == "add":
        text = sys.stdin.read() if args.text == "-" else args.text
        outcome = await service.write(
            text,
            namespace=args.namespace,
            tags=args.tags,
            subject=args.subject,
            supersedes=args.supersedes,
        )
        return _print(args, _outcome_json(outcome), [outcome_line(outcome)])
    if action == "show":
        entry = await service.read(args.id)
        chain = await service.chain(entry)
        return _print(
            args,
            {"entry": entry.to_json(), "chain": [e.to_json() for e in chain]},
            entry_lines(entry, chain),
        )
    if action == "tree":
        rows = await service.tree(args.prefix)
        tree = [
            {
                "namespace": r.namespace,
                "live": r.live,
                "quarantined": r.quarantined,
                "retired": r.retired,
            }
            for r in rows
        ]
        return _print(args, tree, tree_lines(rows, args.prefix))
    if action == "retire":
        entry = await service.retire(args.id, args.reason)
        return _print(args, entry.to_json(), [f"retired #{entry.id}: {entry.retired_reason}"])
    if action == "edit":
        text = args.text
        if text is None:
            from tau_tui.commands.memory_editor import edit_in_editor

            text = edit_in_editor((await service.read(args.id)).text)
        outcome = await service.edit(args.id, text=text, tags=args.tags, namespace=args.namespace)
        return _print(args, _outcome_json(outcome), [outcome_line(outcome)])
    if action == "approve":
        outcomes = [await service.approve(value) for value in args.ids]
        return _print(
            args,
            [_outcome_json(o) for o in outcomes],
            [outcome_line(o, approved=True) for o in outcomes],
        )
    if action == "pending":
        entries = await service.pending()
        return _print(args, [e.to_json() for e in entries], pending_lines(entries))
    if action == "export":
        return await _export(service, args)
    if action == "import":
        from tau_engine.memory.transfer import import_memory

        report = await import_memory(service, Path(args.file), quarantine=args.quarantine)
        data = {
            "created": len(report.created),
            "duplicates": len(report.duplicates),
            "superseded": list(report.retired),
            "ids": {str(k): v for k, v in report.created.items()},
        }
        line = (
            f"imported {len(report.created)} entries from {args.file}; "
            f"{len(report.duplicates)} already stored"
        )
        if report.retired:
            line += "; superseded " + ", ".join(f"#{i}" for i in report.retired)
        return _print(args, data, [line])
    raise AssertionError(action)


async def _export(service: Any, args: argparse.Namespace) -> int:
    from tau_engine.memory.transfer import export_memory

    dest = None if args.file == "-" else Path(args.file)
    count = await export_memory(service, dest, now=service.clock())
    if dest is not None:
        _print(
            args,
            {"file": args.file, "entries": count},
            [f"exported {count} entries to {args.file}"],
        )
    return 0


def _outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "entry": outcome.entry.to_json(),
        "created": outcome.created,
        "superseded": [e.id for e in outcome.retired],
        "pending": list(outcome.pending),
    }


async def _why(paths: Any, args: argparse.Namespace, store_url: str | None) -> int:
    from tau_engine.memory.overview import last_offer
    from tau_engine.store import open_store

    store = open_store(paths, store_url).open_sessions()
    try:
        session = (
            await store.get_session(args.session) if args.session else await store.latest_session()
        )
        if session is None:
            return _print(
                args, {"session": None, "offer": None}, ["no session in this workspace yet"]
            )
        history = await store.history(session.id)
    finally:
        store.close()
    last = last_offer([m.message for m in history])
    data = {
        "session": session.id,
        "prompt": last.prompt if last else None,
        "offer": last.record.to_meta() if last and last.record else None,
    }
    return _print(args, data, offer_lines(session.id, last))
