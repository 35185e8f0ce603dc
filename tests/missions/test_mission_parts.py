"""Unit tests of the mission's parts: test-name parsing, repair context, no-progress, report."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tau_engine.missions.model import (
    Attempt,
    CommandRun,
    MissionInputs,
    MissionState,
    Outcome,
)
from tau_engine.missions.repair import (
    DIFF_CHARS,
    HEAD_CHARS,
    TAIL_CHARS,
    head_tail,
    history_line,
    no_progress,
    repair_context,
)
from tau_engine.missions.report import resolution, swe_tests_status, verification_sentence
from tau_engine.missions.test_output import parse_test_names
from tests.missions.support import CALC_TESTS, write

GO_OUTPUT = """=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestSub
    calc_test.go:12: got -1, want 5
--- FAIL: TestSub (0.00s)
=== RUN   TestTable
=== RUN   TestTable/empty
=== RUN   TestTable/one
    calc_test.go:30: bad
--- FAIL: TestTable (0.00s)
    --- PASS: TestTable/empty (0.00s)
    --- FAIL: TestTable/one (0.00s)
FAIL
FAIL\texample.com/calc\t0.002s
FAIL\texample.com/broken [build failed]
ok  \texample.com/other\t0.001s
FAIL
"""

JEST_OUTPUT = """PASS src/sum.test.js
  math
    \u2713 adds 1 + 2 (2 ms)
    nested
      \u2713 deep (1 ms)
FAIL src/sub.test.js
  math
    \u2715 subtracts (3 ms)
    \u2713 negates (1 ms)

  \u25cf math \u203a subtracts

    expect(received).toBe(expected) // Object.is equality

    Expected: 1
    Received: 3

FAIL src/broken.test.js
  \u25cf Test suite failed to run

    Cannot find module './nope' from 'src/broken.test.js'

Test Suites: 2 failed, 1 passed, 3 total
Tests:       1 failed, 3 passed, 4 total
"""


def _real_output(tmp_path: Path, *args: str) -> str:
    """The output of a real test run over a suite with one failing test."""
    write(
        tmp_path / "calc" / "__init__.py",
        "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
    )
    write(tmp_path / "tests" / "__init__.py", "")
    write(tmp_path / "tests" / "test_calc.py", CALC_TESTS)
    proc = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"},
    )
    return proc.stdout + proc.stderr


def test_pytest_quiet_and_verbose(tmp_path: Path) -> None:
    quiet = parse_test_names(_real_output(tmp_path, "pytest", "-q", "-p", "no:cacheprovider"))
    assert quiet.framework == "pytest"
    assert quiet.failing == {"tests/test_calc.py::TestCalc::test_add"}
    assert quiet.passing == set()  # -q names no passing test: unknown, not "none"
    verbose = parse_test_names(_real_output(tmp_path, "pytest", "-v", "-p", "no:cacheprovider"))
    assert verbose.failing == {"tests/test_calc.py::TestCalc::test_add"}
    assert verbose.passing == {"tests/test_calc.py::TestCalc::test_mul"}


def test_unittest_plain_and_verbose(tmp_path: Path) -> None:
    plain = parse_test_names(_real_output(tmp_path, "unittest"))
    assert (plain.framework, plain.failing, plain.passing) == (
        "unittest",
        {"tests.test_calc.TestCalc.test_add"},
        set(),
    )
    verbose = parse_test_names(_real_output(tmp_path, "unittest", "-v"))
    assert verbose.failing == {"tests.test_calc.TestCalc.test_add"}
    assert verbose.passing == {"tests.test_calc.TestCalc.test_mul"}


def test_unittest_older_pythons_and_docstrings() -> None:
    output = (
        "test_a (pkg.test_m.T)\nChecks a. ... FAIL\ntest_b (pkg.test_m.T) ... ok\n\n"
        "FAIL: test_a (pkg.test_m.T)\n---\nRan 2 tests in 0.001s\n\nFAILED (failures=1)\n"
    )
    names = parse_test_names(output)
    assert names.failing == {"pkg.test_m.T.test_a"} and names.passing == {"pkg.test_m.T.test_b"}


def test_go_test() -> None:
    names = parse_test_names(GO_OUTPUT)
    assert names.framework == "go"
    assert names.failing == {"TestSub", "TestTable", "TestTable/one", "example.com/broken"}
    assert names.passing == {"TestAdd", "TestTable/empty"}


def test_jest() -> None:
    names = parse_test_names(JEST_OUTPUT)
    assert names.framework == "jest"
    assert names.failing == {"math \u203a subtracts", "src/broken.test.js"}
    assert names.passing == {
        "math \u203a adds 1 + 2",
        "math \u203a nested \u203a deep",
        "math \u203a negates",
    }


def test_unknown_output_names_nothing() -> None:
    names = parse_test_names("Segmentation fault\nexit 139\n")
    assert names.framework is None and not names.failing and not names.passing


def test_ansi_colours_are_ignored() -> None:
    coloured = (
        "\x1b[31mFAILED\x1b[0m tests/test_x.py::test_a - boom\n"
        "\x1b[31m===== 1 failed in 0.01s =====\x1b[0m\n"
    )
    assert parse_test_names(coloured).failing == {"tests/test_x.py::test_a"}


def _run(
    exit_code: int,
    failing: list[str] = (),  # type: ignore[assignment]
    passing: list[str] = (),  # type: ignore[assignment]
    log: str = "x.log",
    framework: str | None = "unittest",
) -> CommandRun:
    return CommandRun(
        command="python -m unittest -v",
        exit_code=exit_code,
        duration_s=0.1,
        log=log,
        framework=framework,
        failing=list(failing),
        passing=list(passing),
    )


def _inputs(**kw: object) -> MissionInputs:
    return MissionInputs(
        repo="/r", task="Fix add()", title="Fix add()", verifier="python -m unittest -v", **kw
    )  # type: ignore[arg-type]


def test_head_tail_counts_what_it_elides() -> None:
    text = "h" * HEAD_CHARS + "m" * 500 + "t" * TAIL_CHARS
    cut = head_tail(text)
    assert "[... 500 characters elided ...]" in cut
    assert cut.startswith("h" * HEAD_CHARS) and cut.endswith("t" * TAIL_CHARS)
    assert head_tail("short") == "short"


def test_repair_context_carries_the_new_failure() -> None:
    attempt = Attempt(
        number=1,
        started_at=0,
        status="red",
        diff_sha256="ab" * 32,
        diff_files=1,
        diff_added=1,
        diff_removed=1,
        verifier=_run(1, ["t.T.test_add"]),
    )
    big_diff = "+" + "x" * (DIFF_CHARS + 10)
    output = "A" * 5000 + "AssertionError: 6 != 5" + "B" * 10_000
    text = repair_context(_inputs(), attempt, output, "", big_diff, [attempt])
    assert "exited with code 1" in text and "Failing tests: t.T.test_add" in text
    assert f"[... {5000 + 22 + 10_000 - HEAD_CHARS - TAIL_CHARS} characters elided ...]" in text
    assert "[... 11 more characters of diff elided ...]" in text
    assert (
        "- attempt 1: verifier exit 1 1 failing (t.T.test_add) diff abababababab "
        "(+1 -1 in 1 files)" in text
    )
    assert history_line(attempt).startswith("attempt 1: verifier exit 1")


def test_no_progress_needs_two_rounds_in_a_row_alike() -> None:
    def attempt(number: int, failing: list[str], diff: str) -> Attempt:
        return Attempt(
            number=number, started_at=0, status="red", diff_sha256=diff, verifier=_run(1, failing)
        )

    same = [attempt(1, ["a"], "d1"), attempt(2, ["a"], "d1")]
    assert no_progress(same)
    assert not no_progress(same[:1])
    assert not no_progress([attempt(1, ["a"], "d1"), attempt(2, ["a"], "d2")])
    assert not no_progress([attempt(1, ["a"], "d1"), attempt(2, ["b"], "d1")])


def _state(red: list[CommandRun], final: CommandRun | None, **kw: object) -> MissionState:
    state = MissionState(id="abc123", created_at=0, updated_at=0, inputs=_inputs(), red=red, **kw)  # type: ignore[arg-type]
    if final is not None:
        state.attempts.append(
            Attempt(
                number=1,
                started_at=0,
                status="green" if final.ok else "red",
                verifier=final,
                diff_sha256="d",
            )
        )
    return state


def test_report_resolution_full_partial_no() -> None:
    red = [_run(1, ["a", "b"], ["c"])] * 2
    full = _state(red, _run(0, [], ["a", "b", "c"]), outcome=Outcome.GREEN)
    assert swe_tests_status(full)["FAIL_TO_PASS"] == {"success": ["a", "b"], "failure": []}
    assert swe_tests_status(full)["PASS_TO_PASS"] == {"success": ["c"], "failure": []}
    assert resolution(full, swe_tests_status(full)) == "FULL"
    partial = _state(red, _run(1, ["b"]), outcome=Outcome.FAILED)
    assert swe_tests_status(partial)["FAIL_TO_PASS"] == {"success": ["a"], "failure": ["b"]}
    assert resolution(partial, swe_tests_status(partial)) == "PARTIAL"
    broke = _state(red, _run(1, ["c"]), outcome=Outcome.FAILED)
    assert resolution(broke, swe_tests_status(broke)) == "NO"
    assert resolution(_state(red, None), swe_tests_status(_state(red, None))) == "NO"


def test_report_without_test_names_uses_the_verifier_as_the_test() -> None:
    red = [_run(1, framework=None)] * 2
    state = _state(red, _run(0, framework=None), outcome=Outcome.GREEN)
    assert swe_tests_status(state)["FAIL_TO_PASS"]["success"] == ["python -m unittest -v"]
    assert verification_sentence(state) == (
        "failed before (2/2 runs), passes after; previously passing tests not checked (no "
        "guard, and the verifier names no passing tests); test files unchanged"
    )
