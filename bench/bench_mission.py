"""What a patch mission costs beyond the verifier runs it has to make.

A mission runs the verifier three times (RED twice, GREEN once). The baseline,
measured the same way in the same run, is those three verifier runs plus the
git work a person would do by hand (a worktree, apply the patch, commit), each
as a separate process, as a script would run them. Medians of N runs.

    python bench/bench_mission.py [--runs N]
"""

from __future__ import annotations

import argparse
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.missions.support import FIX, VERIFIER, make_calc_repo, write  # noqa: E402

TAU = [sys.executable, "-m", "tau_tui.cli"]


def _timed(commands: list[list[str]], cwd: Path, ok_codes: tuple[int, ...] = (0, 1)) -> float:
    started = time.perf_counter()
    for command in commands:
        proc = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if proc.returncode not in ok_codes:
            raise SystemExit(f"{command} failed: {proc.stderr}")
    return time.perf_counter() - started


def _mission(tmp: Path, n: int) -> float:
    repo = make_calc_repo(tmp / f"m{n}")
    patch = write(tmp / f"m{n}.diff", FIX)
    return _timed(
        [
            [
                *TAU,
                "mission",
                "run",
                "--task",
                "Fix add()",
                "--verifier",
                VERIFIER,
                "--patch",
                str(patch),
            ]
        ],
        repo,
        ok_codes=(0,),
    )


def _by_hand(tmp: Path, n: int) -> float:
    repo = make_calc_repo(tmp / f"h{n}")
    patch = write(tmp / f"h{n}.diff", FIX)
    tree = tmp / f"h{n}-tree"
    verifier = shlex.split(VERIFIER)
    return _timed(
        [
            ["git", "worktree", "add", "-q", "-b", "fix", str(tree)],
            ["git", "-C", str(tree), "--no-pager", "status", "--porcelain"],
            ["bash", "-c", f"cd {tree} && {VERIFIER}"],
            ["bash", "-c", f"cd {tree} && {VERIFIER}"],
            ["git", "-C", str(tree), "apply", str(patch)],
            ["bash", "-c", f"cd {tree} && {' '.join(verifier)}"],
            ["git", "-C", str(tree), "commit", "-qam", "Fix add()"],
        ],
        repo,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        _mission(tmp, -1)  # warm the page cache and the bytecode
        mission, by_hand = [], []
        for n in range(args.runs):
            by_hand.append(_by_hand(tmp, n))
            mission.append(_mission(tmp, n))
    m, h = statistics.median(mission), statistics.median(by_hand)
    print(f"patch mission, whole process: median {m * 1000:.0f} ms over {args.runs} runs")
    print(f"the same verifier runs and git steps by hand: median {h * 1000:.0f} ms")
    print(f"ratio {m / h:.2f}x; mission overhead {(m - h) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
