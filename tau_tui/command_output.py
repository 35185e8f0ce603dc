"""Plain-text renderings of the engine's command results (``tau_engine.commands``).

One wording for every front end: the app shows these lines as notices, the line
REPL and a session read from stdin print them, ``tau sessions undo|redo|fork``
prints them without ``--json``. The app adds what only it can do on top (pickers,
the memory screen); this module renders the data alone, with no Textual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from tau_engine.commands import Command
from tau_engine.commands import results as r
from tau_engine.text.terminal import strip_terminal_controls as plain

Level = Literal["info", "warning", "error"]


@dataclass(frozen=True, slots=True)
class OutputLine:
    """One thing to tell the user; ``text`` may span lines (``/help``)."""

    text: str
    level: Level = "info"


def help_text(commands: Sequence[Command]) -> str:
    """``/help``: each command's usage and help, aligned."""
    width = max(len(c.usage) for c in commands)
    return "commands:\n" + "\n".join(f"{c.usage.ljust(width)}  {c.help}" for c in commands)


def _title(title: str) -> str:
    return title or "(untitled)"


def _cost(result: r.CostShown) -> str:
    usage, cost = result.usage, result.cost_usd
    about = "~" if usage.estimated else ""
    money = f"{about}${cost:.4f}" if cost is not None else "unknown (no prices for this model)"
    why = " (estimated: the server reported no usage)" if usage.estimated else ""
    return (
        f"tokens: {about}{usage.input_tokens:,} in ({usage.cached_input_tokens:,} cached), "
        f"{about}{usage.output_tokens:,} out · cost {money}{why}"
    )


def _undone(result: r.TurnsUndone) -> list[OutputLine]:
    report = result.report
    if not report.messages:
        return [OutputLine(f"nothing to {report.action}")]
    verb = "undid" if report.action == "undo" else "redid"
    text = f"{verb} {report.messages} message(s) of session {report.session_id[:8]}"
    if report.restored:
        text += "; restored " + ", ".join(report.restored)
    lines = [OutputLine(text)]
    lines += [OutputLine(f"could not restore {f.path}: {f.reason}", "error") for f in report.failed]
    if report.note:
        lines.append(OutputLine(report.note, "warning"))
    return lines


def _session(result: r.SessionShown) -> str:
    info = result.session
    if info is None:
        return "no session yet: it starts with the first prompt"
    cost = f"${info.cost_usd:.4f}" if info.cost_usd is not None else "unknown"
    count = f"{result.on_branch} messages"
    if info.message_count != result.on_branch:
        count += f" on this branch ({info.message_count} in all)"
    return f"session {info.id} · {_title(info.title)} · model {info.model} · {count} · cost {cost}"


def _sessions(result: r.SessionsListed) -> list[OutputLine]:
    if not result.sessions:
        return [OutputLine("no sessions in this workspace yet")]
    return [
        OutputLine(
            ("*" if s.id == result.current_id else " ")
            + f" {s.id[:8]}  {s.model:<28} {_title(s.title)}"
        )
        for s in result.sessions
    ]


def _memory(result: r.MemoryShown) -> str:
    overview = result.overview
    lines = ["instructions (written by people, always in the prompt):"]
    lines += [f"  {f.path}  {f.chars:,} bytes  {f.status}" for f in overview.instructions] or [
        "  none: add AGENTS.md at the workspace root"
    ]
    if not overview.enabled:
        lines.append("learned memory: off (memory = false in config.toml)")
    else:
        lines.append(
            f"learned memory: {overview.live} live · {overview.quarantined} "
            f"quarantined · {overview.retired} retired"
        )
        lines += [f"  waiting for approval: #{e.id} {e.namespace}" for e in overview.pending]
    last = overview.last
    record = last.record if last is not None else None
    if record is not None:
        lines.append(
            "offered with the last prompt: "
            + (f"not searched: {record.error}" if record.error else record.line)
        )
    return "\n".join(lines)


def mission_outcome_text(state: Any, evidence_dir: str) -> str:
    """A mission's outcome as ``tau mission run`` prints it: the outcome and reason, the
    message, the unblock command, publication, the evidence folder and how to re-check."""
    if not state.finished:
        return f"mission {state.id}: stopped in phase {state.phase}; tau mission resume {state.id}"
    lines = [
        f"mission {state.id}: {state.outcome.value}"
        + (f" ({state.reason})" if state.reason else "")
    ]
    if state.message:
        lines.append(f"  {state.message}")
    if state.unblock_command:
        lines.append(f"  to unblock: {state.unblock_command}")
    if state.publication is not None:
        lines.append(f"  publish: {state.publication.reason}")
        if state.publication.status != "published":
            lines += [f"    {command}" for command in state.publication.commands]
    lines.append(f"  evidence: {evidence_dir}")
    if state.outcome.value in ("green", "already-green"):
        red = " --red" if state.outcome.value == "green" else ""
        lines.append(f"  re-check: tau mission verify {state.id}{red}")
    return "\n".join(lines)


MISSION_LEVELS: dict[str, Level] = {"blocked": "warning", "failed": "error"}


def _mission(result: r.MissionFinished) -> OutputLine:
    state = result.state
    outcome = state.outcome.value if state.finished and state.outcome else ""
    return OutputLine(
        mission_outcome_text(state, str(result.evidence_dir)), MISSION_LEVELS.get(outcome, "info")
    )


def _lines(result: Any) -> list[OutputLine]:
    match result:
        case r.HelpShown(commands=commands):
            return [OutputLine(help_text(commands))]
        case r.ModelShown(model_id=model_id):
            return [OutputLine(f"model: {model_id}")]
        case r.ModelChanged(model_id=model_id, warnings=warnings):
            return [*(OutputLine(w, "warning") for w in warnings), OutputLine(f"model: {model_id}")]
        case r.ApprovalShown(mode=mode):
            return [OutputLine(f"approval mode: {mode.value} ({mode.help})")]
        case r.SessionShown():
            return [OutputLine(_session(result))]
        case r.SessionsListed():
            return _sessions(result)
        case r.SessionResumed(session=info):
            return [OutputLine(f"resumed session {info.id[:8]} · {_title(info.title)}")]
        case r.NewSession(previous=previous, cleared=True):
            back = (
                ""
                if previous is None
                else f"; /resume {previous.id[:8]} returns to the previous one"
            )
            return [OutputLine(f"context cleared: your next prompt starts a new session{back}")]
        case r.NewSession():
            return [OutputLine("new session: it starts with your next prompt")]
        case r.SessionForked(source_id=source, session=forked, switched=True):
            return [
                OutputLine(
                    f"forked {source[:8]} into new session {forked.id[:8]}; "
                    "the original session is unchanged"
                )
            ]
        case r.SessionForked(source_id=source, session=forked):
            return [OutputLine(f"forked session {source[:8]} into {forked.id[:8]}")]
        case r.TurnsUndone():
            return _undone(result)
        case r.CompactionDone():
            return [OutputLine(result.message)]
        case r.CostShown():
            return [OutputLine(_cost(result))]
        case r.MemoryShown():
            return [OutputLine(_memory(result))]
        case r.MemoryApproved(entry_id=entry_id):
            return [OutputLine(f"approved memory #{entry_id}: it is offered from now on")]
        case r.SessionExported(path=path, records=records):
            return [OutputLine(f"exported {records} records to {path}")]
        case r.RiskCleared(cleared=0):
            return [
                OutputLine("the risk is not raised: no tool result was flagged in this session")
            ]
        case r.RiskCleared(risk=risk, profile=profile, mode=mode):
            return [
                OutputLine(
                    f"risk cleared ({risk}); calls follow the rules of profile "
                    f"{profile} and mode {mode} again"
                )
            ]
        case r.MissionFinished():
            return [_mission(result)]
        case r.QuitRequested():
            return []
    raise TypeError(f"no rendering for {type(result).__name__}")


def result_lines(result: Any) -> list[OutputLine]:
    """What to tell the user about ``result``, controls stripped (titles, model ids and
    file names are untrusted)."""
    return [OutputLine(plain(line.text), line.level) for line in _lines(result)]
