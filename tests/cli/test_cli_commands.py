"""End-to-end: ``tau sessions`` and ``tau models`` in temp workspaces, and --help/--version."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.cli.tau_process import run_tau


def _seed(workspace: Path, prompt: str) -> str:
    proc = run_tau(["-p", prompt, "--model", "offline/echo", "--output-format", "json"], workspace)
    assert proc.returncode == 0, proc.stderr
    session_id: str = json.loads(proc.stdout.splitlines()[-1])["session_id"]
    return session_id


def test_version_and_help(workspace: Path) -> None:
    version = run_tau(["--version"], workspace)
    assert version.returncode == 0 and version.stdout.startswith("tau 0.")
    helped = run_tau(["--help"], workspace)
    assert helped.returncode == 0 and "--output-format" in helped.stdout
    assert "sessions" in helped.stdout and "models" in helped.stdout
    bad = run_tau(["--no-such-flag"], workspace)
    assert bad.returncode == 2 and "unrecognized arguments" in bad.stderr


def test_a_subcommand_usage_names_the_subcommand(workspace: Path) -> None:
    for command in (["mission", "run"], ["jobs", "submit"], ["sessions", "list"], ["doctor"]):
        helped = run_tau([*command, "--help"], workspace)
        assert helped.returncode == 0
        assert helped.stdout.startswith(f"usage: tau {' '.join(command)} "), helped.stdout
    bad = run_tau(["jobs", "submit"], workspace)
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.startswith("tau: error: ") and "(see tau jobs submit --help)" in bad.stderr


def test_sessions_list_show_delete(workspace: Path) -> None:
    empty = run_tau(["sessions", "list"], workspace)
    assert empty.returncode == 0 and "no sessions" in empty.stdout
    first = _seed(workspace, "first prompt")
    second = _seed(workspace, "second prompt")
    listing = json.loads(run_tau(["sessions", "list", "--json"], workspace).stdout)
    assert [s["id"] for s in listing] == [second, first]
    assert listing[0]["title"] == "second prompt" and listing[0]["model"] == "offline/echo"
    text = run_tau(["sessions", "list"], workspace).stdout
    assert first[:8] in text and "first prompt" in text
    shown = run_tau(["sessions", "show", first[:6]], workspace)
    assert shown.returncode == 0 and "user:\nfirst prompt" in shown.stdout
    deleted = run_tau(["sessions", "delete", first, "--json"], workspace)
    assert json.loads(deleted.stdout) == {"deleted": first}
    missing = run_tau(["sessions", "show", first], workspace)
    assert missing.returncode == 2 and first in missing.stderr


def test_export_import_round_trip(workspace: Path, tmp_path: Path) -> None:
    sid = _seed(workspace, "remember this")
    out = tmp_path / "s.jsonl"
    exported = run_tau(["sessions", "export", sid, str(out), "--json"], workspace)
    assert exported.returncode == 0, exported.stderr
    before = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    run_tau(["sessions", "delete", sid], workspace)
    imported = run_tau(["sessions", "import", str(out), "--json"], workspace)
    assert imported.returncode == 0, imported.stderr
    assert json.loads(imported.stdout)["id"] == sid
    after = json.loads(run_tau(["sessions", "show", sid, "--json"], workspace).stdout)
    assert after["messages"] == before["messages"]
    again = run_tau(["sessions", "import", str(out)], workspace)
    assert again.returncode == 2 and "exists" in again.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text(out.read_text().splitlines()[0] + "\n{not json\n")
    bad = run_tau(["sessions", "import", str(broken)], workspace)
    assert bad.returncode == 2 and ":2" in bad.stderr and "Traceback" not in bad.stderr


def test_undo_redo_fork_from_the_cli(workspace: Path, tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(
        json.dumps(
            [
                {
                    "tool_calls": [
                        {"name": "write", "arguments": {"path": "new.txt", "content": "x"}}
                    ]
                },
                {"text": "made new.txt"},
            ]
        )
    )
    proc = run_tau(
        [
            "-p",
            "make a file",
            "--model",
            "offline/replay",
            "--script",
            str(script),
            "--output-format",
            "json",
        ],
        workspace,
    )
    sid = json.loads(proc.stdout.splitlines()[-1])["session_id"]
    assert (workspace / "new.txt").exists()
    undone = run_tau(["sessions", "undo", sid, "--json"], workspace)
    assert undone.returncode == 0, undone.stderr
    assert json.loads(undone.stdout)["restored"] == ["new.txt"]
    assert not (workspace / "new.txt").exists()
    nothing = run_tau(["sessions", "undo", sid], workspace)
    assert nothing.returncode == 2 and "nothing to undo" in nothing.stderr.lower()
    redone = run_tau(["sessions", "redo", sid], workspace)
    assert redone.returncode == 0 and (workspace / "new.txt").read_text() == "x"
    forked = json.loads(run_tau(["sessions", "fork", sid, "--json"], workspace).stdout)
    assert forked["id"] != sid and forked["messages"] == 4


def test_models_lists_catalog(workspace: Path) -> None:
    listing = run_tau(["models", "--json"], workspace)
    assert listing.returncode == 0, listing.stderr
    models = json.loads(listing.stdout.splitlines()[-1])
    providers = {m["provider"] for m in models}
    assert {"openai", "anthropic", "gemini", "openrouter", "offline"} <= providers
    only = json.loads(
        run_tau(["models", "--provider", "anthropic", "--json"], workspace).stdout.splitlines()[-1]
    )
    assert only and all(m["provider"] == "anthropic" for m in only)
    table = run_tau(["models", "--provider", "offline"], workspace)
    assert "echo" in table.stdout and "replay" in table.stdout
    bad = run_tau(
        ["models", "--refresh", "openrouter"],
        workspace,
        env={**os.environ, "TAU_OPENROUTER_BASE_URL": "http://127.0.0.1:9/api/v1"},
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_workspace_option_after_the_action(workspace: Path, tmp_path: Path) -> None:
    sid = _seed(workspace, "elsewhere")
    listing = run_tau(["sessions", "list", "--json", "-w", str(workspace)], tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert json.loads(listing.stdout)[0]["id"] == sid
