"""Run the real ``tau`` command in a subprocess, as a user or a CI script would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TAU = [sys.executable, "-m", "tau_tui.cli"]


def tau_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()}
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra)
    return env


def run_tau(
    args: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    input: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TAU, *args],
        cwd=cwd,
        env=env or tau_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
