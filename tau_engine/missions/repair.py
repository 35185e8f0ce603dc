"""What an editor is told: the task and RED output first, then each failure to repair.

A repair round gets, in this order: the verifier's exit code; the head and tail
of its output, with the count of characters left out between them; the failing
test names when the output states them; the bounded ``git diff`` of the work so
far; and one line per earlier attempt. The same text is saved as
``attempts/<n>/context.md``, so evidence shows exactly what was sent.

``no_progress`` is the stop rule: two rounds in a row that end with the same
failing tests and the same diff will not be rescued by a third.
"""

from __future__ import annotations

from tau_engine.missions.model import Attempt, CommandRun, Failed, MissionInputs, MissionState

HEAD_CHARS = 3_000
TAIL_CHARS = 6_000
DIFF_CHARS = 20_000
MAX_NAMES = 30


def head_tail(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """``text``, or its head and tail with the number of characters elided between them."""
    if len(text) <= head + tail:
        return text
    elided = len(text) - head - tail
    return f"{text[:head]}\n[... {elided} characters elided ...]\n{text[-tail:]}"


def bounded(text: str, limit: int = DIFF_CHARS) -> str:
    """``text`` cut at ``limit`` characters, saying how many were left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}\n[... {len(text) - limit} more characters of diff elided ...]\n"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def history_line(attempt: Attempt) -> str:
    """One line on an attempt: how the verifier ended, what failed, the diff's hash."""
    parts = [f"attempt {attempt.number}:"]
    if attempt.error:
        parts.append(f"edit failed ({attempt.error.splitlines()[0][:120]})")
    run = attempt.verifier
    if run is not None:
        parts.append(f"verifier exit {run.exit_code}")
        if run.failing:
            parts.append(f"{len(run.failing)} failing ({_names(run.failing[:5])})")
    if attempt.guard_broken:
        parts.append(f"guard broke {_names(attempt.guard_broken[:5])}")
    if attempt.diff_sha256:
        parts.append(
            f"diff {attempt.diff_sha256[:12]} (+{attempt.diff_added} "
            f"-{attempt.diff_removed} in {attempt.diff_files} files)"
        )
    return " ".join(parts)


def _failure_block(title: str, run: CommandRun, output: str) -> list[str]:
    lines = [
        f"## {title}",
        "",
        f"`{run.command}` exited with code {run.exit_code}"
        + (" (timed out)" if run.timed_out else "")
        + ".",
    ]
    if run.failing:
        lines.append(f"Failing tests: {_names(run.failing)}")
    lines += ["", "```", head_tail(output).rstrip("\n"), "```", ""]
    return lines


def first_context(inputs: MissionInputs, red: CommandRun, red_output: str) -> str:
    """What the first attempt is told: the task, and the verifier failing now."""
    lines = [
        "# Mission",
        "",
        inputs.task.strip(),
        "",
        "Done means the verifier command below exits with code 0. Change the code "
        "under test, not the tests, unless the task asks for a test change. Do not run "
        "git commands: tau commits when the verifier passes.",
        "",
    ]
    lines += _failure_block("The verifier fails now (RED)", red, red_output)
    return "\n".join(lines)


def repair_context(
    inputs: MissionInputs,
    attempt: Attempt,
    output: str,
    guard_output: str,
    diff: str,
    history: list[Attempt],
) -> str:
    """What the next attempt is told after ``attempt`` did not reach GREEN."""
    lines = [
        "# Mission (repair)",
        "",
        inputs.task.strip(),
        "",
        f"Attempt {attempt.number} did not make the verifier pass. Fix what is still "
        "failing; the work so far is already in the files.",
        "",
    ]
    if attempt.error:
        lines += ["## The edit failed", "", attempt.error, ""]
    if attempt.verifier is not None:
        lines += _failure_block("The verifier after the last attempt", attempt.verifier, output)
    if attempt.guard is not None and attempt.guard_broken:
        lines += _failure_block(
            "The guard: tests that passed before now fail", attempt.guard, guard_output
        )
    lines += [
        "## The diff so far",
        "",
        "```diff",
        bounded(diff).rstrip("\n") or "(no change)",
        "```",
        "",
        "## Attempts so far",
        "",
    ]
    lines += [f"- {history_line(a)}" for a in history]
    return "\n".join(lines) + "\n"


def failing_set(attempt: Attempt) -> frozenset[str]:
    """What an attempt left failing: the verifier's failing tests, the guard's newly
    broken ones, and the exit code (so a change of failure kind counts as a change)."""
    run = attempt.verifier
    code = f"exit:{run.exit_code}" if run is not None else "exit:none"
    names = set(run.failing) if run is not None else set()
    return frozenset({code, *names, *(f"guard:{n}" for n in attempt.guard_broken)})


def no_progress(attempts: list[Attempt]) -> bool:
    """Whether the last two finished attempts ended with the same failures and diff."""
    done = [a for a in attempts if a.status in ("red", "error")]
    if len(done) < 2:
        return False
    last, before = done[-1], done[-2]
    if last.number != before.number + 1:
        return False
    return failing_set(last) == failing_set(before) and last.diff_sha256 == before.diff_sha256


def guard_broken(before: CommandRun | None, after: CommandRun) -> list[str]:
    """Tests the guard shows broken by the change (empty: nothing newly fails)."""
    if after.ok or before is None:
        return []
    if not before.ok and before.framework and after.framework:
        # Red at RED too: only what fails now and did not fail then was broken.
        return sorted(set(after.failing) - set(before.failing))
    return sorted(after.failing) or [f"guard: {after.command}"]


def budget_problem(state: MissionState) -> tuple[Failed, str] | None:
    """Which budget (tokens, cost, wall time) is spent before another attempt, if any."""
    inputs = state.inputs
    if (
        inputs.max_tokens is not None
        and state.input_tokens + state.output_tokens >= inputs.max_tokens
    ):
        return Failed.BUDGET_TOKENS, f"the token budget ({inputs.max_tokens}) is spent"
    cost = state.cost_usd
    if inputs.max_cost is not None and cost is not None and cost >= inputs.max_cost:
        return Failed.BUDGET_COST, f"the cost budget (${inputs.max_cost:g}) is spent"
    if inputs.max_minutes is not None and state.elapsed_s >= inputs.max_minutes * 60:
        return Failed.BUDGET_TIME, f"the time budget ({inputs.max_minutes:g} min) is spent"
    return None
