"""No Python file in the project is over 500 lines (as ``ruff format`` lays it out).

Small modules with one job is a rule of the code base; this pins it so a growing module is
split when it passes the limit, not at the end of a wave.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 500
PACKAGES = ("tau_engine", "tau_tui", "tests", "bench")


def test_no_python_file_is_over_the_limit() -> None:
    too_long = {
        str(path.relative_to(ROOT)): count
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > LIMIT
    }
    assert not too_long, f"split these modules (over {LIMIT} lines): {too_long}"
