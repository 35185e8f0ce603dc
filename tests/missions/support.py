"""Temporary git repositories with real failing tests, and ways to look at them."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.cli.tau_process import run_tau, tau_env

PYTHON = shlex.quote(sys.executable)
VERIFIER = f"{PYTHON} -m unittest -v"

CALC = """def add(a, b):
    return a - b


def mul(a, b):
    return a * b
"""
CALC_TESTS = """import unittest

from calc import add, mul


class TestCalc(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)

    def test_mul(self):
        self.assertEqual(mul(2, 3), 6)
"""
FIX = """--- a/calc/__init__.py
+++ b/calc/__init__.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a + b
"""
# Applies, but does not fix the bug.
NOT_A_FIX = """--- a/calc/__init__.py
+++ b/calc/__init__.py
@@ -1,2 +1,2 @@
 def add(a, b):
-    return a - b
+    return a * b
"""
# Does not apply: its context is not in the file.
STALE = """--- a/calc/__init__.py
+++ b/calc/__init__.py
@@ -1,2 +1,2 @@
 def add(x, y):
-    return x - y
+    return x + y
"""
# Fixes the bug and also weakens the test.
FIX_AND_TEST = (
    FIX
    + """--- a/tests/test_calc.py
+++ b/tests/test_calc.py
@@ -7,2 +7,2 @@
     def test_add(self):
-        self.assertEqual(add(2, 3), 5)
+        self.assertEqual(add(2, 2), 4)
"""
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_calc_repo(root: Path) -> Path:
    """A repository whose unittest suite fails (add subtracts); one commit on main."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Dev")
    git(root, "config", "user.email", "dev@example.com")
    (root / "calc").mkdir()
    (root / "calc" / "__init__.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_calc.py").write_text(CALC_TESTS)
    (root / ".gitignore").write_text("__pycache__/\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "calc with a bug")
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@dataclass(frozen=True)
class Checkout:
    """What the user sees in their checkout: branch, HEAD, status, stash, file contents."""

    branch: str
    head: str
    status: str
    stash: str
    files: str

    @classmethod
    def of(cls, repo: Path) -> Checkout:
        digest = hashlib.sha256()
        for rel in sorted(git(repo, "ls-files", "-co", "--exclude-standard").splitlines()):
            path = repo / rel
            digest.update(
                rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"<missing>")
            )
        return cls(
            branch=git(repo, "symbolic-ref", "--short", "HEAD"),
            head=git(repo, "rev-parse", "HEAD"),
            status=git(repo, "status", "--porcelain", "--untracked-files=all"),
            stash=git(repo, "stash", "list"),
            files=digest.hexdigest(),
        )


def mission(
    repo: Path, *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``tau mission ARGS --json`` in ``repo``; the process and its last JSON line."""
    proc = run_tau(
        ["mission", *args, "--json"], repo, env=env or tau_env(), input=input, timeout=180
    )
    lines = proc.stdout.strip().splitlines()
    data = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return proc, data


def branch_commits(repo: Path, base: str, branch: str) -> list[str]:
    return git(repo, "rev-list", f"{base}..refs/heads/{branch}").split()


def mission_state(repo: Path, mission_id: str) -> dict[str, Any]:
    proc = run_tau(["mission", "show", mission_id, "--json"], repo)
    assert proc.returncode == 0, proc.stderr
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return data


FAKE_GH = """#!/usr/bin/env bash
# A stand-in for the gh CLI: records every call, remembers the pull request it created.
echo "$*" >> "{log}"
case "$1 $2" in
  "auth status") exit {auth_exit} ;;
  "pr view")
    if [ -f "{state}" ]; then cat "{state}"; exit 0; fi
    echo "no pull requests found" >&2; exit 1 ;;
  "pr create") echo "https://github.com/example/calc/pull/7" > "{state}"; cat "{state}"; exit 0 ;;
  "pr edit"|"pr ready"|"pr merge") exit 0 ;;
esac
echo "unexpected gh call: $*" >&2
exit 9
"""


def fake_gh(tmp: Path, *, logged_in: bool = True) -> tuple[dict[str, str], Path]:
    """A PATH with a recording ``gh`` first; returns the environment and the call log."""
    folder = tmp / "fake-bin"
    folder.mkdir(exist_ok=True)
    log = tmp / "gh-calls.log"
    script = folder / "gh"
    script.write_text(
        FAKE_GH.format(log=log, state=tmp / "gh-pr-url", auth_exit=0 if logged_in else 1)
    )
    script.chmod(0o755)
    env = tau_env(PATH=f"{folder}:{tau_env()['PATH']}")
    return env, log


def add_origin(repo: Path, tmp: Path) -> Path:
    """A bare repository as ``origin``, so that ``git push`` has somewhere to go."""
    remote = tmp / "origin.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    return remote
