"""How memory entries, writes and namespaces read as tool results for the model."""

from __future__ import annotations

import json
from collections.abc import Sequence

from tau_engine.memory.retrieval import entry_date
from tau_engine.store.memory_model import MemoryEntry, NamespaceCount, WriteOutcome


def describe_entry(entry: MemoryEntry) -> str:
    """An entry in full, with its state and history links."""
    lines = [f"memory #{entry.id} · {entry.state} · {entry.namespace}"]
    if entry.subject:
        lines.append(f"subject: {entry.subject}")
    if entry.tags:
        lines.append("tags: " + ", ".join(entry.tags))
    lines.append(f"source: {entry.source}, {entry_date(entry.created_at)}")
    if entry.supersedes is not None:
        lines.append(f"supersedes: #{entry.supersedes}")
    if entry.retired_at is not None:
        why = entry.retired_reason or "retired"
        lines.append(f"retired {entry_date(entry.retired_at)}: {why}")
        if entry.superseded_by is not None:
            lines.append(
                f"the live version may be #{entry.superseded_by}: memory_read "
                f'{{"id": {entry.superseded_by}}}'
            )
    lines.append("")
    lines.append(entry.text)
    return "\n".join(lines)


def describe_outcome(outcome: WriteOutcome) -> str:
    """What a ``memory_write`` did, said so the model knows the id and the state."""
    entry = outcome.entry
    retired = ", ".join(f"#{e.id}" for e in outcome.retired)
    if not outcome.created:
        text = (
            f"already stored as memory #{entry.id} in {entry.namespace} (the same text); "
            "nothing new was written"
        )
        if entry.quarantined:
            text += "; that entry is quarantined and waits for the user's approval"
        if retired:
            text += f"; {retired} superseded in its favour (retired, kept for the record)"
        return text
    if entry.quarantined:
        text = (
            f"stored as memory #{entry.id} in {entry.namespace}, but quarantined: "
            f"{entry.trust_reason}, so entries you write now are untrusted. It will not be "
            f"offered or shown until the user approves it (tau memory approve {entry.id})"
        )
        if outcome.pending:
            pending = ", ".join(f"#{i}" for i in outcome.pending)
            text += f"; once approved it supersedes {pending} (live until then)"
        return text
    text = f"stored as memory #{entry.id} in {entry.namespace}"
    if retired:
        text += f"; it supersedes {retired} (retired, kept for the record)"
    return text


def describe_tree(
    rows: Sequence[NamespaceCount], everything: Sequence[NamespaceCount], prefix: str | None
) -> str:
    """Namespaces as an indented tree with their live counts."""
    if not everything:
        return "learned memory is empty: save a fact with memory_write " + json.dumps(
            {"text": "...", "namespace": "project/build"}
        )
    if not rows:
        tops = sorted({row.namespace.split("/", 1)[0] for row in everything})
        return (
            f"no namespace under {prefix!r}; top-level namespaces: {', '.join(tops)} "
            "(memory_tree {} lists them all)"
        )
    totals: dict[str, list[int]] = {}
    for row in rows:
        parts = row.namespace.split("/")
        for depth in range(1, len(parts) + 1):
            counts = totals.setdefault("/".join(parts[:depth]), [0, 0])
            counts[0] += row.live
            counts[1] += row.quarantined
    lines = ["namespaces (live entries; quarantined ones wait for the user):"]
    for name in sorted(totals):
        live, held = totals[name]
        extra = f" +{held} quarantined" if held else ""
        lines.append("  " * name.count("/") + f"{name} ({live}{extra})")
    return "\n".join(lines)


def not_found_hint() -> str:
    return 'Find ids with memory_search {"query": "..."}; memory_tree {} lists the namespaces'


def state_hint(entry: MemoryEntry) -> str:
    """What to do instead, given the entry's state."""
    if entry.superseded_by is not None:
        return (
            f'Read the live version with memory_read {{"id": {entry.superseded_by}}}, and '
            f'correct it with memory_write {{"text": "...", "supersedes": '
            f"{entry.superseded_by}}}"
        )
    if entry.retired_at is not None:
        return 'It needs nothing more; to record the fact again, call memory_write {"text": "..."}'
    if entry.quarantined:
        return "It waits for the user's approval (tau memory approve); nothing to do"
    return f'It is live; memory_read {{"id": {entry.id}}} shows it'
