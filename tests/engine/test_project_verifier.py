"""The project's verifier: detected from the repository's files, or read back from the line
onboarding records in .tau/AGENTS.md; nothing is ever run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tau_engine.resources.project_verifier import (
    check_verifier,
    detect_verifier,
    read_recorded_verifier,
    recorded_verifier,
)

# python_command: "python" when it is on PATH, else "python3"; a PATH with only python3.
ENV = {"PATH": "/usr/bin:/bin"}
PY = "python" if os.path.exists("/usr/bin/python") or os.path.exists("/bin/python") else "python3"


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.pytest.ini_options]\n"}, f"{PY} -m pytest -q"),
        ({"pytest.ini": "[pytest]\n"}, f"{PY} -m pytest -q"),
        ({"tox.ini": "[pytest]\naddopts = -q\n"}, f"{PY} -m pytest -q"),
        ({"conftest.py": ""}, f"{PY} -m pytest -q"),
        ({"go.mod": "module x\n"}, "go test ./..."),
        ({"package.json": '{"scripts": {"test": "vitest run"}}'}, "npm test"),
        ({"package.json": '{"scripts": {"test": "echo \\"Error: no test specified\\""}}'}, None),
        ({"package.json": "{not json"}, None),
        ({"Cargo.toml": "[package]\n"}, "cargo test"),
        ({"Makefile": "build:\n\ttrue\ntest:\n\ttrue\n"}, "make test"),
        ({"tests/test_calc.py": ""}, f"{PY} -m unittest"),
        ({"setup.py": ""}, f"{PY} -m unittest"),
        ({"README.md": "# nothing to run\n"}, None),
    ],
)
def test_detect_verifier_by_the_projects_files(
    tmp_path: Path, files: dict[str, str], expected: str | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert detect_verifier(tmp_path, ENV) == expected


def test_recorded_verifier_reads_back_the_line_onboarding_writes(tmp_path: Path) -> None:
    text = "# Project\n\n## Verifier\n\nCheck a change with: `make check`\n"
    assert recorded_verifier(text) == "make check"
    assert recorded_verifier("Check a change with: make check\n") is None
    (tmp_path / ".tau").mkdir()
    (tmp_path / ".tau" / "AGENTS.md").write_text(text)
    assert read_recorded_verifier(tmp_path) == "make check"


def test_a_recorded_verifier_from_a_link_a_fifo_or_too_long_is_ignored(tmp_path: Path) -> None:
    state = tmp_path / ".tau"
    state.mkdir()
    assert read_recorded_verifier(tmp_path) is None  # no file
    os.mkfifo(state / "AGENTS.md")  # reading it would block tau forever
    assert read_recorded_verifier(tmp_path) is None
    (state / "AGENTS.md").unlink()
    target = tmp_path / "target.md"
    target.write_text("Check a change with: `make check`\n")
    (state / "AGENTS.md").symlink_to(target)
    assert read_recorded_verifier(tmp_path) is None
    (state / "AGENTS.md").unlink()
    (state / "AGENTS.md").write_text(f"Check a change with: `{'x' * 301}`\n")
    assert read_recorded_verifier(tmp_path) is None
    with pytest.raises(ValueError):
        check_verifier("a `b`")


def test_named_pipes_planted_as_project_files_are_not_waited_on(tmp_path: Path) -> None:
    # A plain open() of a FIFO blocks until a writer comes: `tau mission run` without a
    # verifier hung in intake on a pipe named pyproject.toml or .tau/AGENTS.md.
    (tmp_path / ".tau").mkdir()
    os.mkfifo(tmp_path / "pyproject.toml")
    os.mkfifo(tmp_path / "package.json")
    os.mkfifo(tmp_path / ".tau" / "AGENTS.md")
    assert detect_verifier(tmp_path, ENV) is None
    assert read_recorded_verifier(tmp_path) is None
