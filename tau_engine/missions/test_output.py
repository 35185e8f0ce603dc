"""Test names from a verifier's output: pytest, unittest, go test and jest.

Only what the output states is taken: a runner that prints failures but not
passes (``pytest -q``, plain ``go test``) yields failing names and no passing
ones, and callers treat an empty passing list as "not known", not "none".
Names are normalised so that the same test reads the same in every run:

- pytest: the node id, ``tests/test_x.py::TestA::test_b[param]``
- unittest: the dotted id, ``pkg.test_mod.TestA.test_b``
- go test: the test name, ``TestParse/empty_input``; a package that fails to
  build or set up counts as one failing name, the package path
- jest: describe blocks and the test joined as jest prints them, by the
  angle quote U+203A (``math > adds 1 + 2``, with that quote for ``>``); a test
  file that fails to run counts as its path
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass
class TestNames:
    """The failing and passing test names one output states."""

    __test__ = False  # not a pytest test class, despite the name

    framework: str | None = None
    failing: set[str] = field(default_factory=set)
    passing: set[str] = field(default_factory=set)

    def settle(self) -> TestNames:
        # A test reported failing anywhere (a retry, a later summary) is failing.
        self.passing -= self.failing
        return self


# -- pytest ----------------------------------------------------------------------------

_PYTEST_SEEN = re.compile(
    r"^=+ .*\b(passed|failed|error|errors|no tests ran)\b.* in [\d.]+s"
    r"( \([\d:]+\))? =+$|^=+ short test summary info =+$|"
    r"^\d+ (passed|failed|errors?)\b.* in [\d.]+s"
)
_PYTEST_SUMMARY = re.compile(r"^(PASSED|FAILED|ERROR|XPASS|XFAIL) (\S+?(?:\[.*?\])?)(?: - .*)?$")
_PYTEST_VERBOSE = re.compile(
    r"^(\S+::\S.*?) (PASSED|FAILED|ERROR|XPASS|XFAIL|SKIPPED)"
    r"(?: \(.*\))?(?:\s+\[\s*\d+%\])?$"
)


def _pytest(lines: list[str]) -> TestNames | None:
    if not any(_PYTEST_SEEN.search(line) for line in lines):
        return None
    names = TestNames("pytest")
    for line in lines:
        summary = _PYTEST_SUMMARY.match(line)
        verbose = _PYTEST_VERBOSE.match(line)
        if summary:
            status, name = summary.group(1), summary.group(2)
        elif verbose:
            name, status = verbose.group(1), verbose.group(2)
        else:
            continue
        if status in ("FAILED", "ERROR"):
            names.failing.add(name)
        elif status == "PASSED":
            names.passing.add(name)
    return names.settle()


# -- unittest --------------------------------------------------------------------------

_UNITTEST_SEEN = re.compile(r"^Ran \d+ tests? in [\d.]+s$")
_UNITTEST_HEADER = re.compile(r"^(FAIL|ERROR|UNEXPECTED SUCCESS): (\S+) \(([^)]+)\)")
_UNITTEST_VERBOSE = re.compile(
    r"^(\S+) \(([^)]+)\)(?: .*)? \.\.\. "
    r"(ok|FAIL|ERROR|skipped.*|expected failure|unexpected success)$"
)
_UNITTEST_NAME_ONLY = re.compile(r"^(\S+) \(([^)]+)\)$")
_UNITTEST_STATUS = re.compile(
    r" \.\.\. (ok|FAIL|ERROR|skipped.*|expected failure|"
    r"unexpected success)$"
)


def _unittest_id(method: str, where: str) -> str:
    # Python 3.11+ prints (pkg.mod.Class.test_x); older ones print (pkg.mod.Class).
    where = where.split(")")[0]
    return where if where.endswith("." + method) else f"{where}.{method}"


def _unittest(lines: list[str]) -> TestNames | None:
    if not any(_UNITTEST_SEEN.match(line) for line in lines):
        return None
    names = TestNames("unittest")
    pending: str | None = None  # a verbose line whose docstring line carries the status
    for line in lines:
        header = _UNITTEST_HEADER.match(line)
        if header:
            names.failing.add(_unittest_id(header.group(2), header.group(3)))
            pending = None
            continue
        verbose = _UNITTEST_VERBOSE.match(line)
        status_only = _UNITTEST_STATUS.search(line) if pending else None
        if verbose:
            test_id, status = _unittest_id(verbose.group(1), verbose.group(2)), verbose.group(3)
        elif status_only and pending:
            test_id, status = pending, status_only.group(1)
        else:
            name_only = _UNITTEST_NAME_ONLY.match(line)
            pending = _unittest_id(name_only.group(1), name_only.group(2)) if name_only else None
            continue
        pending = None
        if status in ("FAIL", "ERROR", "unexpected success"):
            names.failing.add(test_id)
        elif status == "ok":
            names.passing.add(test_id)
    return names.settle()


# -- go test ---------------------------------------------------------------------------

_GO_RESULT = re.compile(r"^\s*--- (FAIL|PASS|SKIP): (\S+) \([\d.]+s\)")
_GO_PACKAGE = re.compile(r"^(ok|FAIL)\s+(\S+)\s+(?:[\d.]+s|\(cached\)|\[(?:build|setup) failed\])")
_GO_BROKEN_PACKAGE = re.compile(r"^FAIL\s+(\S+)\s+\[(?:build|setup) failed\]")


def _go(lines: list[str]) -> TestNames | None:
    if not any(_GO_RESULT.match(line) or _GO_PACKAGE.match(line) for line in lines):
        return None
    names = TestNames("go")
    for line in lines:
        result = _GO_RESULT.match(line)
        if result:
            (
                names.failing
                if result.group(1) == "FAIL"
                else names.passing
                if result.group(1) == "PASS"
                else set()
            ).add(result.group(2))
            continue
        broken = _GO_BROKEN_PACKAGE.match(line)
        if broken:
            names.failing.add(broken.group(1))
    return names.settle()


# -- jest ------------------------------------------------------------------------------

_JEST_SEEN = re.compile(r"^Tests:\s+.*\d+ total")
_JEST_FILE = re.compile(r"^(PASS|FAIL)\s+(\S+)")
_JEST_BULLET = re.compile(r"^\s*● (.+)$")
_JEST_CASE = re.compile(r"^(\s*)([✓✕√×○])\s+(.+?)(?: \(\d+(?:\.\d+)? ?m?s\))?$")


def _jest(lines: list[str]) -> TestNames | None:
    if not any(_JEST_SEEN.match(line) for line in lines):
        return None
    names = TestNames("jest")
    current_file: str | None = None
    stack: list[tuple[int, str]] = []  # (indent, describe name)
    for line in lines:
        file_line = _JEST_FILE.match(line)
        if file_line:
            current_file, stack = file_line.group(2), []
            continue
        bullet = _JEST_BULLET.match(line)
        if bullet:
            text = bullet.group(1).strip()
            if text == "Test suite failed to run":
                if current_file:
                    names.failing.add(current_file)
            elif not text.startswith("Console"):
                names.failing.add(text)
            continue
        case = _JEST_CASE.match(line)
        if case:
            indent = len(case.group(1))
            stack = [(i, n) for i, n in stack if i < indent]
            full = " › ".join([n for _, n in stack] + [case.group(3).strip()])
            if case.group(2) in "✓√":
                names.passing.add(full)
            elif case.group(2) in "✕×":
                names.failing.add(full)
            continue
        if current_file and line.strip() and not line.startswith(("Test", "Snapshots:")):
            # A describe block heading in verbose output: deeper than the file line.
            indent = len(line) - len(line.lstrip())
            if indent >= 2:
                stack = [(i, n) for i, n in stack if i < indent] + [(indent, line.strip())]
    return names.settle()


_PARSERS: tuple[Callable[[list[str]], TestNames | None], ...] = (_pytest, _unittest, _go, _jest)


def parse_test_names(output: str) -> TestNames:
    """The test names ``output`` states; ``framework`` is None when no runner was recognised."""
    lines = [_ANSI.sub("", line).rstrip("\r") for line in output.splitlines()]
    for parser in _PARSERS:
        found = parser(lines)
        if found is not None:
            return found
    return TestNames()
