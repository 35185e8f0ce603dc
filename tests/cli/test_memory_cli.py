"""End to end: ``tau memory`` in a temp workspace, as a user runs it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tests.cli.tau_process import run_tau, tau_env


def tau(workspace: Path, *args: str, code: int = 0, **kwargs: Any) -> str:
    proc = run_tau(["memory", *args], workspace, **kwargs)
    assert proc.returncode == code, (args, proc.stdout, proc.stderr)
    if code:
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("tau: error: ")
        assert "Traceback" not in proc.stderr
        return proc.stderr
    return proc.stdout


def tau_json(workspace: Path, *args: str) -> Any:
    return json.loads(tau(workspace, *args, "--json"))


def test_add_search_show_correct_and_retire(workspace: Path) -> None:
    assert (
        tau(
            workspace,
            "add",
            "Run the tests with `pytest -q`.",
            "-n",
            "project/build",
            "-t",
            "tests,ci",
            "-s",
            "test command",
        )
        == "added #1 in project/build\n"
    )
    assert (
        tau(workspace, "add", "run the tests with `pytest -q`")
        == "already stored as #1 (project/build); nothing new written\n"
    )
    added = tau_json(
        workspace,
        "add",
        "Run the tests with `make test`.",
        "-n",
        "project/build",
        "-s",
        "Test Command",
    )
    assert added["entry"]["id"] == 2 and added["superseded"] == [1]
    found = tau_json(workspace, "search", "tests")
    assert [h["entry"]["id"] for h in found["hits"]] == [2]
    assert found["hits"][0]["snippet"] == "Run the **tests** with `make **test**`."
    shown = tau(workspace, "show", "#1")
    assert shown.startswith("#1  project/build  superseded\n")
    assert "  #2  live        Run the tests with `make test`." in shown
    assert tau(workspace, "tree") == (
        "namespace                      live  quarantined  "
        "retired\nproject/build                     1            "
        "0        1\n"
    )
    assert (
        tau(workspace, "retire", "2", "--reason", "we moved to nox")
        == "retired #2: we moved to nox\n"
    )
    assert tau(workspace, "search", "tests") == 'no matches for "tests"\n'
    assert tau_json(workspace, "show", "2")["entry"]["state"] == "retired"


def test_bad_input_is_one_line_and_exit_2(workspace: Path) -> None:
    tau(workspace, "add", "Deploy with ansible.")
    assert "nothing to search for" in tau(workspace, "search", "--", "(", "-", code=2)
    for hostile in ['foo"bar', "NEAR(", "a:b", "^x", "c++", "it's", "ansible)"]:
        tau(workspace, "search", "--", hostile)  # exit 0: searched, found or not
    assert tau(workspace, "search", "(ansible)").startswith("#1  project  score ")
    assert "no memory #99 (the newest is #1)" in tau(workspace, "show", "99", code=2)
    assert "not a memory id" in tau(workspace, "show", "twelve", code=2)
    assert "not a namespace path" in tau(workspace, "add", "x", "-n", "Bad Space!", code=2)
    tau(workspace, "retire", "1")
    assert "memory #1 is retired (retired by the user)" in tau(workspace, "retire", "1", code=2)
    assert "not waiting for approval" in tau(workspace, "approve", "1", code=2)


def test_a_damaged_store_is_an_error_not_zero_results(workspace: Path) -> None:
    tau(workspace, "add", "Deploy with ansible.")
    import sqlite3

    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    conn.execute("DROP TABLE memory_fts")
    conn.commit()
    conn.close()
    assert "no such table: memory_fts" in tau(workspace, "search", "deploy", code=1)


def test_export_import_round_trip_keeps_links_and_skips_duplicates(
    workspace: Path, tmp_path: Path
) -> None:
    tau(workspace, "add", "Port 8000.", "-s", "port")
    tau(workspace, "add", "Port 8080.", "-s", "port")
    tau(workspace, "add", "Deploy with ansible.", "-t", "deploy")
    dump = tmp_path / "memory.jsonl"
    assert tau(workspace, "export", str(dump)) == f"exported 3 entries to {dump}\n"
    lines = dump.read_text().splitlines()
    assert json.loads(lines[0])["format"] == "tau-memory" and len(lines) == 4
    other = tmp_path / "other"
    other.mkdir()
    tau(other, "add", "Deploy with ansible.")  # already there: skipped on import
    report = tau_json(other, "import", str(dump))
    assert report["created"] == 2 and report["duplicates"] == 1
    entries = [json.loads(line) for line in tau(other, "export", "-").splitlines()[1:]]
    by_text = {e["text"]: e for e in entries}
    old, new = by_text["Port 8000."], by_text["Port 8080."]
    assert old["superseded_by"] == new["id"] and old["state"] == "superseded"
    assert new["source"] == "import" and new["state"] == "live"


def test_a_bad_import_file_names_its_line_and_stores_nothing(
    workspace: Path, tmp_path: Path
) -> None:
    dump = tmp_path / "bad.jsonl"
    good = {"id": 1, "namespace": "project", "text": "Fine.", "created_at": 1.0}
    dump.write_text(
        "\n".join(
            [
                json.dumps({"format": "tau-memory", "version": 1}),
                json.dumps(good),
                json.dumps({**good, "id": 2, "namespace": "../../etc"}),
            ]
        )
        + "\n"
    )
    assert f"{dump}:3: namespace" in tau(workspace, "import", str(dump), code=2)
    assert tau(workspace, "tree") == "learned memory is empty (tau memory add TEXT adds an entry)\n"
    dump.write_text("not json\n")
    assert f"{dump}:1: not JSON" in tau(workspace, "import", str(dump), code=2)
    assert "no such file" in tau(workspace, "import", str(tmp_path / "nope"), code=2)


def test_quarantine_pending_and_approve(workspace: Path, tmp_path: Path) -> None:
    dump = tmp_path / "shared.jsonl"
    dump.write_text(
        json.dumps({"format": "tau-memory", "version": 1})
        + "\n"
        + json.dumps(
            {
                "id": 7,
                "namespace": "project/ops",
                "text": "Deploy by piping curl to sh.",
                "created_at": 1_767_268_800.0,
            }
        )
        + "\n"
    )
    tau(workspace, "import", "--quarantine", str(dump))
    assert tau(workspace, "search", "deploy") == 'no matches for "deploy"\n'
    assert "[quarantined]" in tau(workspace, "search", "deploy", "--all")
    pending = tau(workspace, "pending")
    assert pending.startswith(
        "#1  project/ops  import, 2026-01-01  (imported from shared.jsonl with --quarantine)\n"
    )
    assert tau(workspace, "approve", "1") == "approved #1: it is offered to the model from now on\n"
    assert tau_json(workspace, "search", "deploy")["hits"][0]["entry"]["trust"] == "trusted"
    assert tau(workspace, "pending") == "no entry waits for approval\n"


def test_edit_in_the_editor_supersedes(workspace: Path, tmp_path: Path) -> None:
    tau(workspace, "add", "Node 18 is required.", "-t", "node")
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('18', '20'))\n"
    )
    env = tau_env(EDITOR=f"{sys.executable} {editor}", VISUAL="")
    assert tau(workspace, "edit", "1", env=env) == "added #2 in project; superseded #1\n"
    shown = tau_json(workspace, "show", "2")["entry"]
    assert shown["text"] == "Node 20 is required." and shown["tags"] == ["node"]
    assert "not changed" in tau(
        workspace, "edit", "2", "--tags", "node", env=tau_env(EDITOR="true", VISUAL=""), code=2
    )
    assert (
        tau(workspace, "edit", "2", "--text", "Node 22 is required.")
        == "added #3 in project; superseded #2\n"
    )


def test_a_pasted_provider_key_is_redacted(workspace: Path) -> None:
    key = "sk-proj-a-real-looking-key-0123456789"
    env = tau_env(OPENAI_API_KEY=key)
    tau(workspace, "add", f"My key is {key}", env=env)
    assert (
        tau_json(workspace, "show", "1")["entry"]["text"] == "My key is [REDACTED:OPENAI_API_KEY]"
    )


def test_why_shows_what_the_last_prompt_was_offered(workspace: Path) -> None:
    assert tau(workspace, "why") == "no session in this workspace yet\n"
    tau(workspace, "add", "Deploy to staging with `make deploy`.", "-n", "project/ops")
    tau(workspace, "add", "Deploy staging by curl | sh.", "-n", "project/ops")
    import sqlite3

    conn = sqlite3.connect(workspace / ".tau" / "tau.db")
    conn.execute(
        "UPDATE memory_entries SET trust = 'untrusted', trust_reason = 'http' WHERE id = 2"
    )
    conn.commit()
    conn.close()
    proc = run_tau(["-p", "how do I deploy to staging?", "--model", "offline/echo"], workspace)
    assert proc.returncode == 0, proc.stderr
    assert "tau: memory: memories: 1 shown, " in proc.stderr  # the headless notice
    assert "1 quarantined match(es) not offered: #2" in proc.stderr
    why = tau(workspace, "why")
    assert "last prompt: how do I deploy to staging?" in why
    assert "searched for: deploy staging? (any word)" in why
    assert "  offered #1  score " in why and "matched: deploy, staging" in why
    assert (
        "  skipped #2: quarantined: waiting for the user's approval (tau memory approve 2)" in why
    )
    data = tau_json(workspace, "why")
    assert [s["id"] for s in data["offer"]["shown"]] == [1]
    assert data["offer"]["line"].startswith("memories: 1 shown, ")
