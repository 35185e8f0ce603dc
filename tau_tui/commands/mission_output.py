"""How ``tau mission`` prints: plain text for people, one compact JSON line for scripts."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import sys
from typing import IO, Any

from tau_engine.events import Event, MissionPhaseEvent
from tau_engine.text.terminal import strip_terminal_controls


def _compact(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _when(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def phase_line(event: MissionPhaseEvent) -> str:
    """One progress line: ``tau mission ID: red: RED: ...``."""
    return f"tau mission {event.mission_id}: {event.phase}: {event.note}"


class PhaseLines:
    """The progress lines on stderr, one per phase as it ends (``tau mission ID: red:
    RED: ...``) and one when a mission resumes: a sink of the ``mission_phase`` events.
    It remembers the last mission it saw and its phase, to say how to resume a mission
    stopped mid-way (``tau --line``)."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err
        self.last: tuple[str, str] | None = None  # (mission id, phase)

    def __call__(self, event: Event) -> None:
        match event:
            case MissionPhaseEvent(status="finished" | "resumed"):
                self.last = (event.mission_id, str(event.phase))
                self.err.write(strip_terminal_controls(phase_line(event)) + "\n")
                self.err.flush()
            case MissionPhaseEvent():
                self.last = (event.mission_id, str(event.phase))
            case _:
                pass  # an event of an agent run

    def stopped_line(self) -> str:
        """What to say when a mission was stopped before its outcome."""
        if self.last is None:
            return "mission stopped before it was recorded"
        mission_id, phase = self.last
        return (
            f"mission {mission_id} stopped in phase {phase}; "
            f"tau mission resume {mission_id} continues it"
        )


def print_outcome(context: Any, state: Any, as_json: bool) -> int:
    """The end of ``run``/``resume``: the outcome, and the JSON line with ``--json``."""
    from tau_tui.command_output import mission_outcome_text

    result = context.result(state)
    out = sys.stdout
    out.write(mission_outcome_text(state, result.evidence_dir) + "\n")
    if as_json:
        out.write(_compact(result.model_dump(mode="json")) + "\n")
    code: int = result.exit_code
    return code


def print_list(rows: list[Any], as_json: bool) -> int:
    out = sys.stdout
    if as_json:
        out.write(
            _compact(
                [
                    {
                        "id": r.id,
                        "created_at": r.created_at,
                        "updated_at": r.updated_at,
                        "title": r.title,
                        "phase": r.phase,
                        "outcome": r.outcome,
                        "reason": r.reason,
                        "commit": r.commit,
                    }
                    for r in rows
                ]
            )
            + "\n"
        )
        return 0
    if not rows:
        out.write("no missions in this repository yet\n")
        return 0
    for r in rows:
        outcome = (r.outcome or f"({r.phase})") + (f" {r.reason}" if r.reason else "")
        out.write(f"{r.id}  {_when(r.created_at)}  {outcome:<32}  {r.title}\n")
    return 0


def show_json(context: Any, state: Any) -> dict[str, Any]:
    data: dict[str, Any] = state.model_dump(mode="json")
    data["inputs"] = state.inputs.public()
    data["result"] = context.result(state).model_dump(mode="json")
    return data


def print_show(context: Any, state: Any, as_json: bool) -> int:
    out = sys.stdout
    if as_json:
        out.write(_compact(show_json(context, state)) + "\n")
        return 0
    inputs = state.inputs
    outcome = state.outcome.value if state.outcome else f"running or stopped ({state.phase})"
    lines = [
        f"mission {state.id}  {inputs.title}",
        f"outcome   {outcome}" + (f" ({state.reason})" if state.reason else ""),
        f"repo      {inputs.repo}",
        f"verifier  {inputs.verifier or '-'}",
        f"guard     {inputs.guard or '-'}",
        f"authority {inputs.authority or '-'} {inputs.patch_file or inputs.model or ''}".rstrip(),
        f"base      {state.base_commit or '-'} ({state.base_branch or 'detached'})",
        f"branch    {state.branch or '-'}",
        f"commit    {state.commit or '-'}",
    ]
    if state.message:
        lines.append(f"message   {state.message}")
    if state.unblock_command:
        lines.append(f"unblock   {state.unblock_command}")
    lines.append("phases")
    for record in state.phases:
        lines.append(f"  {record.name.value:<9} {record.duration_s:7.2f}s  {record.note}")
    for attempt in state.attempts:
        verifier = attempt.verifier.exit_code if attempt.verifier else "-"
        lines.append(
            f"  attempt {attempt.number}: {attempt.status}, verifier exit {verifier}, "
            f"diff {(attempt.diff_sha256 or '-')[:12]}"
        )
    lines.append(f"evidence  {context.evidence_dir(state.id)}")
    out.write("\n".join(lines) + "\n")
    return 0


def print_evidence(context: Any, state: Any, as_json: bool) -> int:
    from tau_engine.missions.evidence import check_sums

    root = context.evidence_dir(state.id)
    files = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    problems = check_sums(root) if state.finished else ["the mission has not finished"]
    if as_json:
        sys.stdout.write(
            _compact(
                {
                    "id": state.id,
                    "evidence_dir": str(root),
                    "sums_ok": not problems,
                    "problems": problems,
                    "files": [
                        {
                            "path": p.relative_to(root).as_posix(),
                            "bytes": p.stat().st_size,
                            "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
                        }
                        for p in files
                    ],
                }
            )
            + "\n"
        )
        return 0
    sys.stdout.write(f"{root}\n")
    for p in files:
        sys.stdout.write(f"  {p.relative_to(root).as_posix():<32} {p.stat().st_size:>9,} bytes\n")
    sys.stdout.write(
        "SHA256SUMS: " + ("all files match" if not problems else "; ".join(problems)) + "\n"
    )
    return 0


def print_verify(report: Any, as_json: bool) -> int:
    if as_json:
        sys.stdout.write(
            _compact(
                {
                    "id": report.mission_id,
                    "ok": report.ok,
                    "checks": [
                        {"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks
                    ],
                }
            )
            + "\n"
        )
    else:
        for check in report.checks:
            sys.stdout.write(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}\n")
        sys.stdout.write(
            f"mission {report.mission_id}: " + ("verified\n" if report.ok else "NOT verified\n")
        )
    return 0 if report.ok else 1
