"""The user's guide tells the truth: its set-up commands, options, model ids and examples."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.cli.tau_process import run_tau

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _bash_blocks(text: str) -> list[str]:
    return re.findall(r"```bash\n(.*?)```", text, flags=re.S)


def test_ci_runs_the_readmes_second_command_verbatim() -> None:
    readme = (ROOT / "README.md").read_text()
    first_block = _bash_blocks(readme)[0].strip().splitlines()
    assert len(first_block) == 2  # install and run; install the dev extras and test
    assert first_block[0].startswith("python3 -m venv .venv") and first_block[0].endswith("tau")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert any(line == first_block[1] or line.startswith(first_block[1] + " ||") for line in ci), (
        first_block[1]
    )
    assert "ruff check ." in ci and "lint-imports" in ci


def test_every_option_of_the_cli_is_in_the_reference() -> None:
    from tau_tui.cli import build_parser

    reference = (ROOT / "docs" / "cli.md").read_text()
    options = [
        o
        for action in build_parser()._actions
        for o in action.option_strings
        if o.startswith("--") and o != "--help"
    ]
    missing = [
        o for o in options if not re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", reference)
    ]
    assert not missing


def test_model_ids_in_the_docs_are_in_the_catalog() -> None:
    from tau_engine.providers.catalog import load_catalog

    catalog = load_catalog()
    pattern = re.compile(r'--model ([a-z]+)/([A-Za-z0-9._:/-]+)|model = "([a-z]+)/([^"]+)"')
    unknown = []
    for doc in DOCS:
        for match in pattern.finditer(doc.read_text()):
            provider, model = (match[1], match[2]) if match[1] else (match[3], match[4])
            if catalog.get(provider, model) is None:
                unknown.append(f"{doc.name}: {provider}/{model}")
    assert not unknown


def test_the_replay_script_example_runs(workspace: Path, tmp_path: Path) -> None:
    providers = (ROOT / "docs" / "providers.md").read_text()
    section = providers.split("## The `offline/replay` script format", 1)[1]
    example = re.search(r"```json\n(.*?)```", section, flags=re.S)
    assert example is not None
    script = tmp_path / "turns.json"
    script.write_text(example[1])
    (workspace / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (workspace / "tests").mkdir()
    (workspace / "tests" / "test_calc.py").write_text("from calc import add\n")
    proc = run_tau(
        [
            "-p",
            "fix add",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.splitlines()[-1])
    assert result["result"] == "Fixed: `add` now adds."
    assert [c["name"] for c in result["tool_calls"]] == ["read", "edit"]
    assert "a + b" in (workspace / "calc.py").read_text()


def test_the_readme_examples_parse(workspace: Path) -> None:
    """Every `tau ...` line of the README is accepted by the parser (--help after it
    stops before anything runs)."""
    readme = (ROOT / "README.md").read_text()
    lines = [
        line.split("#")[0].strip()
        for block in _bash_blocks(readme)[1:]
        for line in block.splitlines()
    ]
    commands = [shlex.split(line.split("| ")[-1]) for line in lines if "tau " in line]
    assert commands
    for argv in commands:
        assert argv[0] == "tau"
        proc = run_tau([*argv[1:], "--help"], workspace)
        assert proc.returncode == 0, (argv, proc.stderr)
