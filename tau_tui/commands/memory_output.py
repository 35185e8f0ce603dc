"""How ``tau memory`` prints entries, hits, namespaces and offers as plain text.

Entry text comes from the model or a file: control characters are escaped so an entry
cannot move the cursor or recolour the terminal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def _safe(text: str) -> str:
    return "".join(ch if ch.isprintable() or ch in "\n\t" else repr(ch)[1:-1] for ch in text)


def _date(timestamp: float | None) -> str:
    from tau_engine.memory.retrieval import entry_date

    return entry_date(timestamp) if timestamp is not None else "-"


def _state(entry: Any) -> str:
    if entry.quarantined:
        return f"quarantined ({entry.trust_reason})"
    return str(entry.state)


def hit_lines(result: Any) -> list[str]:
    if not result.hits:
        return [f"no matches for {result.query.describe()}"]
    lines: list[str] = []
    for hit in result.hits:
        entry = hit.entry
        mark = " [quarantined]" if entry.quarantined else ""
        lines.append(
            f"#{entry.id}  {entry.namespace}  score {hit.score:.3g}  "
            f"{entry.source}, {_date(entry.created_at)}{mark}"
        )
        lines.append("    " + _safe(hit.snippet).replace("\n", " "))
    return lines


def outcome_line(outcome: Any, *, approved: bool = False) -> str:
    entry = outcome.entry
    superseded = ", ".join(f"#{e.id}" for e in outcome.retired)
    if approved:
        line = f"approved #{entry.id}: it is offered to the model from now on"
    elif not outcome.created:
        line = f"already stored as #{entry.id} ({entry.namespace}); nothing new written"
    else:
        line = f"added #{entry.id} in {entry.namespace}"
    if superseded:
        line += f"; superseded {superseded}"
    return line


def entry_lines(entry: Any, chain: Sequence[Any]) -> list[str]:
    lines = [f"#{entry.id}  {entry.namespace}  {_state(entry)}"]
    if entry.subject:
        lines.append(f"subject:  {_safe(entry.subject)}")
    if entry.tags:
        lines.append("tags:     " + ", ".join(entry.tags))
    source = entry.source
    if entry.session_id:
        source += f" (session {entry.session_id[:8]}"
        source += f", call {entry.tool_call_id})" if entry.tool_call_id else ")"
    lines.append(f"source:   {source}, {_date(entry.created_at)}")
    if entry.approved_at is not None:
        lines.append(f"approved: {_date(entry.approved_at)}")
    if entry.retired_at is not None:
        lines.append(f"retired:  {_date(entry.retired_at)}: {_safe(entry.retired_reason or '')}")
    lines += ["", _safe(entry.text)]
    if len(chain) > 1:
        lines += ["", "corrections, oldest first:"]
        for item in chain:
            here = "  <- this one" if item.id == entry.id else ""
            first = _safe(item.text).splitlines()[0] if item.text else ""
            lines.append(f"  #{item.id}  {item.state:<11} {first[:60]}{here}")
    return lines


def tree_lines(rows: Sequence[Any], prefix: str | None) -> list[str]:
    if not rows:
        return [
            f"no namespace under {prefix}"
            if prefix
            else "learned memory is empty (tau memory add TEXT adds an entry)"
        ]
    lines = ["namespace                      live  quarantined  retired"]
    for row in rows:
        lines.append(f"{row.namespace:<30} {row.live:>4}  {row.quarantined:>11}  {row.retired:>7}")
    return lines


def pending_lines(entries: Sequence[Any]) -> list[str]:
    if not entries:
        return ["no entry waits for approval"]
    lines: list[str] = []
    for entry in entries:
        lines.append(
            f"#{entry.id}  {entry.namespace}  {entry.source}, "
            f"{_date(entry.created_at)}  ({entry.trust_reason})"
        )
        lines.append("    " + _safe(entry.text).replace("\n", " "))
    lines.append("approve with: tau memory approve ID (or retire one: tau memory retire ID)")
    return lines


def offer_lines(session_id: str, last: Any) -> list[str]:
    head = f"session {session_id[:8]}"
    if last is None:
        return [f"{head}: no prompt yet"]
    lines = [f"{head}, last prompt: {_safe(last.prompt)[:100]}"]
    record = last.record
    if record is None:
        lines.append("no memory was offered (memory was empty or off for that prompt)")
        return lines
    if record.error:
        lines.append(f"memory was not searched: {record.error}")
        return lines
    lines.append(f"searched for: {record.query or '(no words to search for)'} (any word)")
    lines.append(record.line)
    for item in record.shown:
        matched = ", ".join(item.matched) or "-"
        lines.append(
            f"  offered #{item.id}  score {item.score:.3g}  {item.tokens} tokens  "
            f"{item.namespace}  matched: {matched}"
        )
    for skipped in record.skipped:
        lines.append(f"  skipped #{skipped['id']}: {skipped['reason']}")
    return lines
