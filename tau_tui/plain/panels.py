"""The operator panels (sessions, jobs, missions, memory, providers, audit) from the snapshot.

``build_panels`` turns the snapshot's JSON into tables: a title with the counts, columns and
rows with stable keys (``job:ID``), each row with its next command and the object behind it.
The Textual shell and watch screens show these same panels; ``render_plain`` prints them as
fixed-width text (``tau shell --no-color``, ``tau watch --no-color``), no line wider than
asked. Every string in a snapshot may come from the workspace (a session title, a memory
namespace), so control and bidi characters never reach the terminal.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

ELLIPSIS = "…"
MIN_WIDTH = 40


@dataclass(frozen=True)
class PanelRow:
    """One row: a key that stays the same across refreshes, its cells, what to do next."""

    key: str
    cells: tuple[str, ...]
    next_command: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    name: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[PanelRow, ...]


def clean(value: object) -> str:
    """Text safe for a terminal cell: None is ``-``; control, format (bidi) and line
    characters become ``?``."""
    if value is None:
        return "-"
    text = str(value)
    return "".join("?" if unicodedata.category(ch)[0] in "CZ" and ch != " " else ch for ch in text)


def cell_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (wide East Asian characters take two)."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def fit(text: str, width: int) -> str:
    """``text`` cut (with an ellipsis) or padded to exactly ``width`` columns."""
    if width <= 0:
        return ""
    if cell_width(text) <= width:
        return text + " " * (width - cell_width(text))
    out, used = "", 0
    for ch in text:
        step = cell_width(ch)
        if used + step > width - 1:
            break
        out, used = out + ch, used + step
    out += ELLIPSIS
    return out + " " * (width - used - 1)


def ago(seconds: float) -> str:
    seconds = max(0.0, seconds)
    for limit, unit, size in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if seconds < limit:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds / 86400:.0f} d"


TIME_FIELDS = frozenset({"ts", "breaker_since", "breaker_until"})
"""Detail fields holding epoch seconds besides those named ``*_at``."""


def local_time(epoch: float, now: float) -> str:
    """``epoch`` as a local date and time with its distance from ``now``:
    ``2027-01-15 09:00:00 (3 min ago)`` or ``(in 25 s)``."""
    import time

    try:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))
    except (OverflowError, OSError, ValueError):
        return str(epoch)
    distance = f"{ago(now - epoch)} ago" if epoch <= now else f"in {ago(epoch - now)}"
    return f"{stamp} ({distance})"


def detail_lines(detail: dict[str, Any], now: float) -> list[str]:
    """A row's detail as ``name: value`` lines, epoch times shown as local times."""
    lines = []
    for name, value in detail.items():
        is_time = name in TIME_FIELDS or name.endswith("_at")
        if is_time and isinstance(value, int | float) and not isinstance(value, bool):
            value = local_time(float(value), now)
        lines.append(f"{name}: {value}")
    return lines


def health_strip(data: dict[str, Any]) -> str:
    """One line: health and why it needs attention first (a narrow screen cuts the end),
    then store, schema, disk, model and safety profile."""
    store = data["store"]
    disk = store.get("disk_free_bytes")
    disk_text = "-" if disk is None else f"{disk / 1024**3:.1f} GiB free"
    reasons = ", ".join(data["attention"])
    health = f"health {data['health']}" + (f": {reasons}" if reasons else "")
    profile = f" (profile {data['profile']})" if data.get("profile") else ""
    return clean(
        f"{health} · store {store['status']} · schema {store['schema_version']} · disk "
        f"{disk_text} · model {data.get('model')} · safety {data.get('safety')}{profile}"
    )


def _money(value: object) -> str:
    return "-" if not isinstance(value, int | float) else f"${value:.2f}"


def _yes(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, "?") if isinstance(value, bool) else "?"


def _sessions(data: dict[str, Any], now: float) -> Panel:
    section = data["sessions"]
    running = section["running"]
    rows = tuple(
        PanelRow(
            key=f"session:{s['id']}",
            cells=(
                s["id"][:8],
                clean(s["title"]),
                clean(s["model"]),
                f"{s['input_tokens']}/{s['output_tokens']}",
                _money(s["cost_usd"]),
                _yes(s["running"]),
                ago(now - s["updated_at"]),
            ),
            next_command=f"tau --resume {s['id'][:8]}",
            detail=s,
        )
        for s in section["recent"]
    )
    title = f"Sessions {section['count']} · running {'?' if running is None else running}"
    return Panel(
        "sessions",
        title,
        ("id", "title", "model", "tokens in/out", "cost", "running", "updated"),
        rows,
    )


def _jobs(data: dict[str, Any], now: float) -> Panel:
    section = data["jobs"]
    listed = {job["id"]: job for job in section["attention"]}
    listed.update({job["id"]: job for job in section["recent"] if job["id"] not in listed})
    rows = tuple(
        PanelRow(
            key=f"job:{j['id']}",
            cells=(
                j["id"][:8],
                clean(j["kind"]),
                clean(j["operator_state"]),
                clean(j["phase"]),
                f"{j['attempt']}/{j['max_attempts']}",
                ago(now - j["updated_at"]),
                clean(j["next_command"]),
            ),
            next_command=j["next_command"],
            detail=j,
        )
        for j in listed.values()
    )
    states = section["by_state"]
    title = (
        f"Jobs {section['total']} · running {states['running']} · queued "
        f"{states['queued'] + states['recovering']} · failed {states['failed']} · stale "
        f"{section['stale']} · stuck {section['stuck']} · needs authority "
        f"{section['needs_authority']}"
    )
    return Panel(
        "jobs", title, ("id", "kind", "state", "phase", "attempt", "updated", "next"), rows
    )


def _missions(data: dict[str, Any], now: float) -> Panel:
    section = data["missions"]
    rows = []
    for m in section["recent"]:
        next_command = m["unblock_command"] or f"tau mission show {m['id'][:8]}"
        rows.append(
            PanelRow(
                key=f"mission:{m['id']}",
                cells=(
                    m["id"][:8],
                    clean(m["title"]),
                    clean(m["phase"]),
                    clean(m["outcome"]),
                    clean(m["verifier"]),
                    str(m["attempts"]),
                    clean(m["reason"])
                    if m["outcome"] == "blocked"
                    else clean((m["commit"] or "")[:10] or None),
                    clean(next_command),
                ),
                next_command=next_command,
                detail=m,
            )
        )
    title = (
        f"Missions {section['count']} · unfinished {section['unfinished']} · blocked "
        f"{section['blocked']}"
    )
    return Panel(
        "missions",
        title,
        ("id", "title", "phase", "outcome", "verifier", "attempts", "reason/commit", "next"),
        tuple(rows),
    )


def _memory(data: dict[str, Any]) -> Panel:
    section = data["memory"]
    rows = tuple(
        PanelRow(
            key=f"memory:{name}",
            cells=(clean(name), str(count)),
            next_command=f"tau memory list --namespace {name}" if name.isidentifier() else None,
            detail={"namespace": name, "entries": count},
        )
        for name, count in section["namespaces"].items()
    )
    return Panel(
        "memory",
        f"Memory {section['entries']} entries · {section['retired']} retired",
        ("namespace", "entries"),
        rows,
    )


def _breaker(p: dict[str, Any], now: float) -> str:
    state = p.get("breaker")
    if state is None:
        return "-"
    until = p.get("breaker_until")
    if state == "open" and isinstance(until, int | float):
        return clean(f"open {ago(until - now)} more")
    return clean(state)


def _providers(data: dict[str, Any], now: float) -> Panel:
    rows = tuple(
        PanelRow(
            key=f"provider:{route}",
            cells=(  # the breaker before the figures: a narrow screen cuts the right
                clean(route),
                _breaker(p, now),
                clean(p["status"]),
                "-" if p["latency_ms"] is None else f"{p['latency_ms']:.0f} ms",
                "-" if p["ts"] is None else ago(now - p["ts"]),
            ),
            detail=p,
        )
        for route, p in data["providers"].items()
    )
    opened = sum(1 for p in data["providers"].values() if p.get("breaker") == "open")
    return Panel(
        "providers",
        f"Providers {len(rows)} · breakers open {opened}",
        ("model", "breaker", "status", "latency", "when"),
        rows,
    )


def _audit(data: dict[str, Any]) -> Panel:
    section = data["audit"]
    rows = tuple(
        PanelRow(
            key=f"audit:{index}:{a['ts']}",
            cells=(clean(a["kind"]), clean(a["tool"]), clean(a["rule"]), clean(a["ts"])),
            detail=a,
        )
        for index, a in enumerate(section["recent"])
    )
    counts = " · ".join(f"{kind} {count}" for kind, count in section["counts"].items())
    return Panel("audit", f"Audit {counts or 'none'}", ("kind", "tool", "rule", "time"), rows)


def build_panels(data: dict[str, Any]) -> list[Panel]:
    """The six panels of a snapshot's JSON, in the order the screens show them."""
    now = float(data["generated_at"])
    return [
        _sessions(data, now),
        _jobs(data, now),
        _missions(data, now),
        _memory(data),
        _providers(data, now),
        _audit(data),
    ]


def _widths(panel: Panel, width: int) -> list[int]:
    """Column widths within ``width`` (one space between columns): each column gets what its
    widest cell needs; when that is too much the widest give way, down to 8 columns each,
    then the columns on the right are left out (a width of 0)."""
    wanted = [
        max([cell_width(name)] + [cell_width(row.cells[i]) for row in panel.rows])
        for i, name in enumerate(panel.columns)
    ]
    floor = [min(8, w) for w in wanted]
    widths = list(wanted)
    shown = len(widths)
    while shown > 1 and sum(floor[:shown]) + shown - 1 > width:
        shown -= 1
    room = width - (shown - 1)
    while sum(widths[:shown]) > room:
        over = [i for i in range(shown) if widths[i] > floor[i]]
        if not over:
            break
        widest = max(over, key=lambda i: widths[i])
        widths[widest] -= 1
    return [w if i < shown else 0 for i, w in enumerate(widths)]


def render_panel(panel: Panel, width: int) -> list[str]:
    """One panel as plain lines, none wider than ``width`` columns."""
    lines = [fit(f"== {clean(panel.title)} ", width).rstrip()]
    widths = _widths(panel, width)
    for cells in (panel.columns, *(row.cells for row in panel.rows)):
        line = " ".join(fit(cell, w) for cell, w in zip(cells, widths, strict=True) if w)
        lines.append(fit(line, width).rstrip())
    if not panel.rows:
        lines.append("(none)")
    return lines


def render_plain(data: dict[str, Any], width: int) -> list[str]:
    """The health strip and every panel, as plain lines within ``width`` columns."""
    lines = [fit(health_strip(data), width).rstrip()]
    for panel in build_panels(data):
        lines.append("")
        lines.extend(render_panel(panel, width))
    return lines
