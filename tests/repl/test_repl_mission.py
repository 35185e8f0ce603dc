"""``/mission`` in the plain front ends: ``tau --line`` and a session read from stdin print
one progress line per phase and the outcome; Ctrl+C stops a mission, resumable."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cli.tau_process import run_tau
from tests.missions.support import FIX, VERIFIER, git, make_calc_repo, write
from tests.repl.test_repl import make, scripted


def calc_repo(tmp_path: Path) -> Path:
    repo = make_calc_repo(tmp_path / "repo")
    write(repo / "fix.diff", FIX)
    return repo


async def test_line_repl_prints_each_phase_then_the_outcome(tmp_path: Path) -> None:
    repo = calc_repo(tmp_path)
    ask, _ = scripted([f"/mission --verifier '{VERIFIER}' --patch fix.diff Fix add()", "/quit"])
    engine, repl, out, err = await make(repo, ask)
    try:
        assert await repl.loop() == 0
    finally:
        await engine.close()
    progress = [line for line in err.getvalue().splitlines() if line.startswith("tau mission ")]
    phases = [line.split(": ")[1] for line in progress]
    assert phases == ["intake", "branch", "red", "edit", "green", "checks", "commit", "evidence"]
    text = out.getvalue()
    assert ": green\n  committed " in text and "re-check: tau mission verify" in text
    assert git(repo, "symbolic-ref", "--short", "HEAD") == "main"


async def test_ctrl_c_stops_the_mission_not_the_repl(tmp_path: Path) -> None:
    repo = calc_repo(tmp_path)
    hold = tmp_path / "hold"
    hold.write_text("")
    (repo / "check.sh").write_text(
        f"#!/bin/sh\nwhile [ -f {hold} ]; do sleep 0.1; done\nexec {VERIFIER}\n"
    )
    (repo / "check.sh").chmod(0o755)
    git(repo, "add", "check.sh")
    git(repo, "commit", "-qm", "a verifier")
    ask, asked = scripted(["/mission --verifier ./check.sh --patch fix.diff Fix add()", "/cost"])
    engine, repl, out, err = await make(repo, ask)
    try:
        loop = asyncio.ensure_future(repl.loop())
        while "tau mission " not in err.getvalue() or ": branch:" not in err.getvalue():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # in the red phase, the verifier held
        loop.cancel()  # what asyncio.run does on Ctrl+C
        assert await loop == 0  # the REPL went on (to /cost, then the end of input)
    finally:
        await engine.close()
    stopped = [line for line in err.getvalue().splitlines() if "interrupted" in line]
    assert len(stopped) == 1 and "stopped in phase red; tau mission resume" in stopped[0]
    assert "tokens:" in out.getvalue()
    assert asked.count("tau> ") == 3


def test_a_session_read_from_stdin_runs_a_mission(tmp_path: Path) -> None:
    repo = calc_repo(tmp_path)
    proc = run_tau(
        ["--model", "offline/echo"],
        repo,
        input=f"/mission --patch fix.diff Fix add()\n"
        f"/mission --verifier '{VERIFIER}' --patch fix.diff Fix add()\n",
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "blocked (missing-verifier)" in proc.stderr  # a warning: stderr
    assert "to unblock: tau mission run --repo" in proc.stderr
    assert ": green\n" in proc.stdout
    assert proc.stderr.count(": intake: ") == 2
