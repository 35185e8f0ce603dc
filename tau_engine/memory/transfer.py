"""Export learned memory to JSONL and import it back.

The export is one header line (``{"format": "tau-memory", "version": 1, ...}``) and one
line per entry, retired ones included, with every field. An export file is untrusted
input: each line is validated (the same field rules as a write, redaction included) and
the whole file is checked before anything is stored, so a bad line stores nothing and
the error names the file and line. The import is one transaction. Imported entries get
new ids and ``source = "import"``; the links between them are kept; a live entry whose
text is already stored is skipped; entries marked untrusted stay quarantined, and
``quarantine=True`` quarantines them all.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import UsageError
from tau_engine.memory.fields import (
    MemoryInputError,
    memory_text,
    namespace_path,
    subject_key,
    tag_list,
)
from tau_engine.memory.service import MemoryService
from tau_engine.paths import atomic_write_text
from tau_engine.store.memory_model import ImportedMemory, ImportReport, NewMemory

FORMAT = "tau-memory"
VERSION = 1
MAX_IMPORT_BYTES = 64 * 1024 * 1024


class _Line(BaseModel):
    """One exported entry. Derived fields (``state``, ``content_hash``) are recomputed."""

    model_config = ConfigDict(extra="forbid")

    id: int = Field(ge=1)
    namespace: str
    subject: str | None = None
    text: str
    tags: list[str] = Field(default_factory=list)
    source: Literal["user", "model", "tool", "import"] = "import"
    session_id: str | None = None
    tool_call_id: str | None = None
    trust: Literal["trusted", "untrusted"] = "trusted"
    trust_reason: str | None = None
    created_at: float
    updated_at: float | None = None
    approved_at: float | None = None
    retired_at: float | None = None
    retired_reason: str | None = None
    supersedes: int | None = None
    superseded_by: int | None = None
    content_hash: str | None = None
    state: str | None = None


async def export_memory(service: MemoryService, dest: Path | None, *, now: float) -> int:
    """Write every entry to ``dest`` (stdout when None); return how many."""
    entries = await service.entries(include_retired=True)
    header = {"format": FORMAT, "version": VERSION, "exported_at": now, "entries": len(entries)}
    lines = [json.dumps(header, ensure_ascii=False)]
    lines += [json.dumps(entry.to_json(), ensure_ascii=False) for entry in entries]
    text = "\n".join(lines) + "\n"
    if dest is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(dest, text)
    return len(entries)


def _read_lines(source: Path) -> list[str]:
    try:
        if source.stat().st_size > MAX_IMPORT_BYTES:
            raise UsageError(
                f"{source}: larger than {MAX_IMPORT_BYTES // 2**20} MB; not a memory export"
            )
        return source.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{source}: no such file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{source}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UsageError(f"{source}: cannot read: {exc.strerror or exc}") from None


def parse_export(
    source: Path, lines: list[str], service: MemoryService, *, quarantine: bool
) -> list[ImportedMemory]:
    """Validate every line; ``UsageError`` naming ``file:line`` on the first bad one."""
    if not lines or not lines[0].strip():
        raise UsageError(f"{source}:1: empty file; not a memory export")
    try:
        header: Any = json.loads(lines[0])
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}:1: not JSON ({exc.msg})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise UsageError(f'{source}:1: not a memory export (no "format": "{FORMAT}" header)')
    if header.get("version") != VERSION:
        raise UsageError(
            f"{source}:1: memory export version {header.get('version')!r}; this "
            f"tau reads version {VERSION}"
        )
    records: list[ImportedMemory] = []
    seen: set[int] = set()
    for number, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        where = f"{source}:{number}"
        try:
            line = _Line.model_validate_json(raw)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "line"
            msg = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
            raise UsageError(f"{where}: {key}: {msg}") from None
        if line.id in seen:
            raise UsageError(f"{where}: id: {line.id} appears twice")
        seen.add(line.id)
        try:
            text = service.redactor.redact(memory_text(line.text))
            new = NewMemory(
                namespace=namespace_path(line.namespace),
                text=text,
                tags=tag_list(line.tags),
                subject=subject_key(line.subject),
                supersedes=line.supersedes,
                source="import",
                trust="untrusted" if quarantine else line.trust,
                trust_reason=(
                    f"imported from {source.name} with --quarantine"
                    if quarantine
                    else line.trust_reason
                ),
            )
        except MemoryInputError as exc:
            raise UsageError(f"{where}: {exc}") from None
        records.append(
            ImportedMemory(
                old_id=line.id,
                new=new,
                created_at=line.created_at,
                updated_at=line.updated_at or line.created_at,
                retired_at=line.retired_at,
                retired_reason=line.retired_reason,
                superseded_by=line.superseded_by,
            )
        )
    return records


async def import_memory(
    service: MemoryService, source: Path, *, quarantine: bool = False
) -> ImportReport:
    """Import an export file in one transaction (nothing is stored if a line is bad)."""
    import asyncio

    lines = await asyncio.to_thread(_read_lines, source)
    records = parse_export(source, lines, service, quarantine=quarantine)
    return await service.store.import_entries(records, now=service.clock())
