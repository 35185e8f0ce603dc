"""What ``tau jobs`` prints: plain lines for people, one JSON document with ``--json``.

Everything a job carries (its prompt, its output, its errors) may come from an
untrusted workspace or model, so terminal controls are stripped before they
reach the terminal: a job cannot move the cursor, set the title or rewrite the
screen. One-line fields keep to one line.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys
from typing import Any

from tau_engine.text.terminal import strip_terminal_controls


def clean(text: Any) -> str:
    """``text`` without terminal controls, on one line."""
    return " ".join(strip_terminal_controls(str(text)).split("\n"))


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _json(data: Any) -> None:
    sys.stdout.write(json.dumps(data) + "\n")


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")


def worker_log(text: str) -> None:
    sys.stderr.write(f"tau jobs: {clean(text)}\n")
    sys.stderr.flush()


def job_json(service: Any, job: Any, view: Any = None) -> dict[str, Any]:
    data: dict[str, Any] = job.model_dump(mode="json")
    data["summary"] = service.summary(job)
    if view is not None:
        data["operator"] = view.to_json()
    return data


def print_submitted(service: Any, result: Any, as_json: bool) -> int:
    job = result.job
    if as_json:
        _json({"created": result.created, "job": job_json(service, job)})
        return 0
    if not result.created:
        _out(
            f"job {job.id[:8]} already holds key '{clean(job.key)}' ({job.state}); not queued again"
        )
        return 0
    link = f", a replay of {job.replay_of[:8]}" if job.replay_of else ""
    _out(f"queued job {job.id[:8]} ({job.kind}{link}): {clean(service.summary(job))}")
    return 0


def print_list(service: Any, jobs: list[Any], views: list[Any], as_json: bool) -> int:
    if as_json:
        _json([job_json(service, job, view) for job, view in zip(jobs, views, strict=True)])
        return 0
    if not jobs:
        _out("no jobs in this workspace")
        return 0
    for job, view in zip(jobs, views, strict=True):
        _out(
            f"{job.id[:8]}  {job.state:<10}  {view.state:<15}  "
            f"{job.attempt}/{job.max_attempts}  p{job.priority:<3}  "
            f"{clean(service.summary(job))}"
        )
        _out(f"          {clean(view.reason)}")
        _out(f"          next: {clean(view.next_command)}")
    return 0


def print_show(service: Any, detail: Any, as_json: bool) -> int:
    job, view = detail.job, detail.view
    if as_json:
        _json(
            {
                "job": job_json(service, job, view),
                "attempts": [a.model_dump(mode="json") for a in detail.attempts],
                "events": [e.model_dump(mode="json") for e in detail.events],
                "sessions": detail.sessions,
                "submit_argv": detail.submit_argv,
            }
        )
        return 0
    _out(f"job {job.id}  {job.kind}  {clean(service.summary(job))}")
    key = f"   key {clean(job.key)}" if job.key else ""
    _out(
        f"state     {job.state} ({job.reason})   attempt {job.attempt}/{job.max_attempts}"
        f"   priority {job.priority}{key}"
    )
    _out(f"operator  {view.state}: {clean(view.reason)}")
    _out(f"next      {clean(view.next_command)}")
    _out(
        f"times     created {_when(job.created_at)}   started {_when(job.started_at)}   "
        f"finished {_when(job.finished_at)}"
    )
    if job.next_run_at and job.state in ("queued", "recovering"):
        _out(f"next run  {_when(job.next_run_at)}")
    if job.replay_of:
        _out(f"replay of {job.replay_of}")
    if job.message:
        _out(f"message   {clean(job.message)}")
    if job.last_error:
        _out(f"error     {clean(job.last_error)}")
    if detail.submit_argv is not None:
        import shlex

        _out(f"inputs    tau jobs submit {clean(shlex.join(detail.submit_argv))}")
    if detail.attempts:
        _out("\nattempts")
        for a in detail.attempts:
            session = f"  session {a.session_id[:8]}" if a.session_id else ""
            error = f"  {clean(a.error)}" if a.error else ""
            _out(
                f"  {a.attempt}  {a.reason:<15} -> {a.outcome or 'running':<12} pid "
                f"{a.owner.pid} on {clean(a.owner.host)}  {_when(a.started_at)}"
                f"{session}{error}"
            )
    _out("\nlog")
    for event in detail.events:
        data = " ".join(f"{k}={clean(v)}" for k, v in event.data.items() if v not in (None, ""))
        _out(f"  {_when(event.ts)}  #{event.attempt}  {event.type}  {data}")
    for session_id, events in detail.sessions.items():
        _out(f"\ntranscript of session {session_id[:8]}")
        for line in transcript_lines(events):
            _out(f"  {clean(line)}")
    return 0


def transcript_lines(events: list[dict[str, Any]]) -> list[str]:
    """A session's engine events as a short transcript: text, tool calls, results."""
    lines: list[str] = []
    text = ""
    for event in events:
        kind = event.get("type")
        if kind == "text_delta":
            text += str(event.get("text", ""))
            continue
        if text.strip():
            lines += [f"assistant: {line}" for line in text.strip().splitlines()]
        text = ""
        if kind == "tool_call":
            args = json.dumps(event.get("arguments", {}))
            lines.append(f"-> {event.get('name')} {args[:100]}")
        elif kind == "tool_result":
            status = "denied" if event.get("denied") else ("ok" if event.get("ok") else "error")
            first = (str(event.get("output", "")).strip().splitlines() or [""])[0]
            lines.append(f"<- {event.get('name')} {status} {first[:100]}")
        elif kind == "error":
            lines.append(f"error: {event.get('message')}")
        elif kind == "run_finished":
            lines.append(f"(finished: {event.get('stop_reason')}, {event.get('turns')} turns)")
    if text.strip():
        lines += [f"assistant: {line}" for line in text.strip().splitlines()]
    return lines


def print_recovery(report: Any, as_json: bool) -> int:
    if as_json:
        _json(report.model_dump(mode="json"))
        return 0
    if report.skipped:
        _out("another recovery pass is running on this queue: nothing done")
        return 0
    if not report.jobs:
        _out("no expired leases: nothing to recover")
        return 0
    for job in report.jobs:
        _out(f"{job.job_id[:8]}  {job.action} ({job.reason}): {clean(job.detail)}")
    return 0


def print_changed(service: Any, job: Any, as_json: bool) -> int:
    if as_json:
        _json(job_json(service, job))
        return 0
    if job.state == "running" and job.cancel_requested_at is not None:
        _out(
            f"job {job.id[:8]}: cancel requested; its worker stops it at its next "
            "heartbeat and kills it if it has not stopped after the grace period"
        )
    elif job.state == "blocked":
        _out(f"job {job.id[:8]} blocked: {clean(job.message)}")
    else:
        _out(f"job {job.id[:8]} {job.state}")
    return 0


def print_pruned(pruned: list[str], as_json: bool) -> int:
    if as_json:
        _json({"pruned": pruned})
    else:
        _out(f"pruned {len(pruned)} job(s)")
    return 0


def print_worker_report(report: Any, as_json: bool) -> int:
    if as_json:
        _json(
            {
                "ran": report.ran,
                "outcomes": report.outcomes,
                "lost": report.lost,
                "recovered": report.recovered,
            }
        )
    else:
        done = ", ".join(f"{n} {state}" for state, n in sorted(report.outcomes.items()))
        worker_log(
            f"worker stopped: ran {report.ran} attempt(s)"
            + (f" ({done})" if done else "")
            + (f", lost {report.lost} lease(s)" if report.lost else "")
        )
    return 0
