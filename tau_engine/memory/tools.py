"""The model's memory tools: ``memory_search``, ``memory_write``, ``memory_read``,
``memory_tree`` and ``memory_retire``.

Each is built with what it needs (the ``MemoryService``, the session's
``WriteProvenance``) rather than reading it from the ``ToolContext``. Results speak to
the model: "no matches" is said plainly with what to try next, and an error shows the
entry's current state and a correct call. The model never sees a quarantined entry's
text, and its writes are quarantined once untrusted content entered the session.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from tau_engine.errors import StoreError, ToolError
from tau_engine.memory.fields import MemoryInputError
from tau_engine.memory.provenance import WriteProvenance
from tau_engine.memory.retrieval import entry_date
from tau_engine.memory.service import MAX_LIMIT, MemoryService
from tau_engine.memory.tool_text import (
    describe_entry,
    describe_outcome,
    describe_tree,
    not_found_hint,
    state_hint,
)
from tau_engine.store.memory_model import MemoryNotFoundError, MemoryStateError
from tau_engine.tools.args import ToolArgs, parse_model
from tau_engine.tools.base import Tool, ToolContext, ToolOutcome


def _call(name: str, **arguments: Any) -> str:
    return f"{name} {json.dumps(arguments, ensure_ascii=False)}"


def _failure(exc: Exception, tool: str, example: str) -> ToolError:
    """A store or input failure as the model should read it."""
    if isinstance(exc, MemoryNotFoundError):
        return ToolError(f"{exc}. {not_found_hint()}")
    if isinstance(exc, MemoryStateError):
        return ToolError(f"{exc}. {state_hint(exc.entry)}")
    if isinstance(exc, MemoryInputError):
        return ToolError(f"{exc}. A correct call: {example}")
    if isinstance(exc, StoreError):
        return ToolError(f"memory is not available: {exc} (this is an error, not an empty result)")
    raise exc


class _MemoryTool(Tool):
    def __init__(self, service: MemoryService, provenance: WriteProvenance) -> None:
        self.service = service
        self.provenance = provenance


class SearchArgs(ToolArgs):
    query: str
    limit: int = Field(8, ge=1, le=MAX_LIMIT)
    match: Literal["all", "any"] = "all"
    namespace: str | None = None


class MemorySearchTool(_MemoryTool):
    name = "memory_search"
    description = (
        "Search learned memory (facts, decisions and preferences saved earlier in this "
        'workspace) by words. Every word must match unless match is "any"; end a word with '
        "* for a prefix (pyt*); put a phrase in double quotes. Returns ids, scores and "
        "snippets; read a whole entry with memory_read."
    )
    parameters = {
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": 'words to find, e.g. "test command"'},
            "limit": {"type": "integer", "description": f"most results (1-{MAX_LIMIT}, default 8)"},
            "match": {
                "type": "string",
                "enum": ["all", "any"],
                "description": "all words (default) or any of them",
            },
            "namespace": {
                "type": "string",
                "description": "only this namespace and below, e.g. project/build",
            },
        },
        "required": ["query"],
    }
    kind = "read"

    def parse_args(self, arguments: dict[str, Any]) -> SearchArgs:
        return parse_model(self.name, SearchArgs, arguments, self.parameters)

    def target(self, args: SearchArgs) -> str:
        return args.query

    async def run(self, args: SearchArgs, ctx: ToolContext) -> ToolOutcome:
        example = _call(self.name, query="test command")
        try:
            result = await self.service.search(
                args.query, limit=args.limit, match=args.match, namespace=args.namespace
            )
        except (StoreError, MemoryInputError) as exc:
            raise _failure(exc, self.name, example) from exc
        query = result.query
        if query.empty:
            return ToolOutcome(
                "nothing to search for: the query has no letters or digits. "
                f"Call it with words, e.g. {example}"
            )
        shown = query.describe()
        if not result.hits:
            hint = (
                'try fewer words, a prefix (pyt*), or match "any"'
                if len(query.terms) > 1 or query.mode == "all"
                else "try other words"
            )
            where = f" in {args.namespace}" if args.namespace else ""
            return ToolOutcome(
                f"no matches for {shown}{where}. Memory is searched by "
                f"words: {hint}; memory_tree lists the namespaces.",
                data={"matches": 0},
            )
        lines = [f"{len(result.hits)} match(es) for {shown}, best first:"]
        for hit in result.hits:
            entry = hit.entry
            lines.append(
                f"#{entry.id} {entry.namespace} · score {hit.score:.3g} · "
                f"{entry.source}, {entry_date(entry.created_at)}"
            )
            lines.append("  " + hit.snippet.replace("\n", " "))
        if query.truncated:
            lines.append("(the query was long: only its first words were searched)")
        return ToolOutcome("\n".join(lines), data={"matches": len(result.hits)})


class WriteArgs(ToolArgs):
    text: str
    namespace: str | None = None
    tags: list[str] | str | None = None
    subject: str | None = None
    supersedes: int | str | None = None


class MemoryWriteTool(_MemoryTool):
    name = "memory_write"
    description = (
        "Save one durable fact, decision or preference to learned memory, to be offered in "
        "later turns and sessions of this workspace (one short entry per fact). To correct an "
        "entry, write the new text with supersedes: its id (the old one is retired, kept for "
        "the record); or give a subject key: a new write with the same namespace and subject "
        "replaces the live one. The same text is never stored twice."
    )
    parameters = {
        "type": "object",
        "properties": {
            "text": {"type": "string", "description": "the fact, in a sentence or two"},
            "namespace": {
                "type": "string",
                "description": "path such as project/build or user/preferences (default: project)",
            },
            "tags": {
                "type": "array",
                "items": {"type": "string"},
                "description": "a few words to find it by",
            },
            "subject": {
                "type": "string",
                "description": 'a topic key, e.g. "test '
                'command": a later write with it replaces this entry',
            },
            "supersedes": {"type": "integer", "description": "id of the entry this corrects"},
        },
        "required": ["text"],
    }
    kind = "edit"

    def parse_args(self, arguments: dict[str, Any]) -> WriteArgs:
        return parse_model(self.name, WriteArgs, arguments, self.parameters)

    def target(self, args: WriteArgs) -> str:
        return args.text[:80]

    async def preview(self, args: WriteArgs, ctx: ToolContext) -> str:
        where = args.namespace or "project"
        change = f" (supersedes #{args.supersedes})" if args.supersedes is not None else ""
        return f"remember in {where}{change}: {args.text}"

    async def run(self, args: WriteArgs, ctx: ToolContext) -> ToolOutcome:
        example = _call(
            self.name,
            text="Run the tests with `pytest -q`.",
            namespace="project/build",
            tags=["tests"],
        )
        provenance = self.provenance
        try:
            outcome = await self.service.write(
                args.text,
                namespace=args.namespace,
                tags=args.tags,
                subject=args.subject,
                supersedes=args.supersedes,
                source="model",
                session_id=provenance.session_id or None,
                tool_call_id=provenance.call_id(self.name),
                trusted=provenance.trusted,
                untrusted_reason=provenance.untrusted_reason,
            )
        except (StoreError, MemoryInputError, MemoryNotFoundError, MemoryStateError) as exc:
            raise _failure(exc, self.name, example) from exc
        return ToolOutcome(
            describe_outcome(outcome),
            data={"id": outcome.entry.id, "created": outcome.created, "trust": outcome.entry.trust},
        )


class ReadArgs(ToolArgs):
    id: int | str


class MemoryReadTool(_MemoryTool):
    name = "memory_read"
    description = (
        "Read one learned memory entry in full by its id: text, namespace, tags, "
        "source, date and state (live, superseded, retired)."
    )
    parameters = {
        "type": "object",
        "properties": {"id": {"type": "integer", "description": "the entry's id (#12 -> 12)"}},
        "required": ["id"],
    }
    kind = "read"

    def parse_args(self, arguments: dict[str, Any]) -> ReadArgs:
        return parse_model(self.name, ReadArgs, arguments, self.parameters)

    def target(self, args: ReadArgs) -> str:
        return f"#{args.id}"

    async def run(self, args: ReadArgs, ctx: ToolContext) -> ToolOutcome:
        try:
            entry = await self.service.read(args.id)
        except (StoreError, MemoryInputError, MemoryNotFoundError) as exc:
            raise _failure(exc, self.name, _call(self.name, id=12)) from exc
        if entry.quarantined:
            raise ToolError(
                f"memory #{entry.id} is quarantined ({entry.trust_reason}) and "
                "waits for the user's approval; its text is not shown until then"
            )
        return ToolOutcome(describe_entry(entry))


class TreeArgs(ToolArgs):
    prefix: str | None = None


class MemoryTreeTool(_MemoryTool):
    name = "memory_tree"
    description = (
        "List the namespaces of learned memory with how many live entries each "
        "holds (optionally only those under a prefix such as project)."
    )
    parameters = {
        "type": "object",
        "properties": {"prefix": {"type": "string", "description": "e.g. project"}},
        "required": [],
    }
    kind = "read"

    def parse_args(self, arguments: dict[str, Any]) -> TreeArgs:
        return parse_model(self.name, TreeArgs, arguments, self.parameters)

    def target(self, args: TreeArgs) -> str:
        return args.prefix or "/"

    async def run(self, args: TreeArgs, ctx: ToolContext) -> ToolOutcome:
        try:
            rows = await self.service.tree(args.prefix)
            everything = rows if not args.prefix else await self.service.tree(None)
        except (StoreError, MemoryInputError) as exc:
            raise _failure(exc, self.name, _call(self.name, prefix="project")) from exc
        return ToolOutcome(describe_tree(rows, everything, args.prefix))


class RetireArgs(ToolArgs):
    id: int | str
    reason: str


class MemoryRetireTool(_MemoryTool):
    name = "memory_retire"
    description = (
        "Retire a learned memory entry that is wrong or no longer true (it stops "
        "being searched or offered, and is kept for the record). To replace it "
        "with a corrected fact, use memory_write with supersedes instead."
    )
    parameters = {
        "type": "object",
        "properties": {
            "id": {"type": "integer", "description": "the entry's id"},
            "reason": {"type": "string", "description": "why it no longer holds"},
        },
        "required": ["id", "reason"],
    }
    kind = "edit"

    def parse_args(self, arguments: dict[str, Any]) -> RetireArgs:
        return parse_model(self.name, RetireArgs, arguments, self.parameters)

    def target(self, args: RetireArgs) -> str:
        return f"#{args.id}"

    async def run(self, args: RetireArgs, ctx: ToolContext) -> ToolOutcome:
        example = _call(self.name, id=12, reason="the build moved to make")
        if not self.provenance.trusted:
            raise ToolError(
                f"memory_retire is not available in this session: "
                f"{self.provenance.untrusted_reason}, so memory changes wait for the user. "
                f'Ask the user to run: tau memory retire {args.id} --reason "..."'
            )
        try:
            entry = await self.service.retire(args.id, args.reason)
        except (StoreError, MemoryInputError, MemoryNotFoundError, MemoryStateError) as exc:
            raise _failure(exc, self.name, example) from exc
        return ToolOutcome(
            f"retired memory #{entry.id} ({entry.retired_reason}); it is kept "
            "for the record and no longer searched or offered"
        )


def memory_tools(service: MemoryService, provenance: WriteProvenance) -> list[Tool]:
    """The five memory tools, in the order the model sees them."""
    return [
        MemorySearchTool(service, provenance),
        MemoryWriteTool(service, provenance),
        MemoryReadTool(service, provenance),
        MemoryTreeTool(service, provenance),
        MemoryRetireTool(service, provenance),
    ]
