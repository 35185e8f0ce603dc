"""The engine/UI boundary and start-up cost, checked in fresh interpreters."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
UI_MODULES = ("textual", "rich", "prompt_toolkit", "tau_tui")


def _modules_after(code: str) -> set[str]:
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_engine_imports_no_ui_library() -> None:
    engine_modules = [
        p.relative_to(ROOT).with_suffix("").as_posix().replace("/", ".")
        for p in (ROOT / "tau_engine").rglob("*.py")
    ]
    code = "\n".join(f"import {m.removesuffix('.__init__')}" for m in engine_modules)
    loaded = _modules_after(code)
    leaked = sorted(m for m in loaded if m.split(".")[0] in UI_MODULES)
    assert not leaked, f"tau_engine pulled in UI modules: {leaked}"


def test_engine_sources_never_import_ui_libraries() -> None:
    offenders = []
    for path in (ROOT / "tau_engine").rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")) and any(
                stripped.split()[1].split(".")[0] == m for m in UI_MODULES
            ):
                offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert not offenders


def test_version_and_help_stay_light() -> None:
    for flag in ("--version", "--help"):
        code = (
            f"import sys\nsys.argv=['tau', '{flag}']\nfrom tau_tui import cli\n"
            "try:\n    cli.main()\nexcept SystemExit:\n    pass"
        )
        loaded = _modules_after(code)
        heavy = sorted(
            m for m in ("textual", "httpx", "pydantic", "sqlite3", "rich") if m in loaded
        )
        assert not heavy, f"tau {flag} imported {heavy}"
