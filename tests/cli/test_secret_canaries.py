"""Canaries: fake secrets planted where a run will meet them never leave the redaction funnel.

One is planted in the workspace ``.env`` (read by a command), one in a tool's output, one in a
file the model reads and one in an error message (a command fails naming it). None of them is
one of the user's provider keys: the vendor detectors and the ``.env`` values catch them. The
real ``tau`` runs headless; then every provider request, every byte under ``.tau/`` (the store,
its WAL, the logs and the audit log), the ``--record`` script, a ``tau sessions export`` and the
``--output-format json`` / ``stream-json`` output are searched for each canary.
"""

from __future__ import annotations

import json
import random
import string
from pathlib import Path

import pytest

from tests.cli.tau_process import run_tau, tau_env
from tests.support.openai_script import openai_answer
from tests.support.scripted_server import ScriptedServer

_RNG = random.Random(20261130)


def _rand(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(_RNG.choice(alphabet) for _ in range(n))


DOTENV = "sk_live_" + _rand(24)  # Stripe, in .env as STRIPE_SECRET_KEY
TOOL_OUTPUT = "ghp_" + _rand(36)  # GitHub, printed by a command
FILE_READ = "AKIA" + _rand(16, string.ascii_uppercase + "234567")  # AWS, in a file read
ERROR = "glpat-" + _rand(24)  # GitLab, in an error message
CANARIES = {
    "dotenv": DOTENV,
    "tool output": TOOL_OUTPUT,
    "file read": FILE_READ,
    "error message": ERROR,
}


def plant(workspace: Path) -> list[dict[str, object]]:
    """Write the canaries into the workspace; return the tool calls that meet them."""
    (workspace / ".env").write_text(f"STRIPE_SECRET_KEY={DOTENV}\n")
    (workspace / "settings.py").write_text(f'REGION = "eu"\nAWS_ACCESS_KEY_ID = "{FILE_READ}"\n')
    return [
        {"id": "c1", "name": "bash", "arguments": {"command": "cat .env"}},
        {"id": "c2", "name": "read", "arguments": {"path": "settings.py"}},
        {
            "id": "c3",
            "name": "bash",
            "arguments": {"command": f"echo 'deploy token {TOOL_OUTPUT}'"},
        },
        {"id": "c4", "name": "bash", "arguments": {"command": f"cat /nonexistent/{ERROR}"}},
    ]


def _leaks(where: str, data: bytes | str) -> list[str]:
    raw = data.encode() if isinstance(data, str) else data
    return [f"{name} in {where}" for name, value in CANARIES.items() if value.encode() in raw]


@pytest.mark.parametrize("fmt", ["json", "stream-json"])
def test_no_canary_leaves_the_funnel(
    scripted_server: ScriptedServer, workspace: Path, tmp_path: Path, fmt: str
) -> None:
    calls = plant(workspace)
    scripted_server.add(
        openai_answer("", calls[:2]), openai_answer("", calls[2:]), openai_answer("Checked.")
    )
    record = tmp_path / "run.json"
    proc = run_tau(
        [
            "-p",
            "check the deployment settings",
            "--model",
            "openai/gpt-test",
            "--base-url",
            scripted_server.url + "/v1",
            "--approval",
            "full-auto",
            "--output-format",
            fmt,
            "--record",
            str(record),
            "--no-color",
        ],
        workspace,
        env=tau_env(OPENAI_API_KEY="test-key-0000"),
    )
    assert proc.returncode == 0, proc.stderr
    # The run really met every canary: the model saw the markers in their place.
    results = "".join(
        m["content"] for m in scripted_server.requests[-1].json["messages"] if m["role"] == "tool"
    )
    for marker in (
        "STRIPE_SECRET_KEY=[REDACTED:STRIPE_SECRET_KEY]",
        'AWS_ACCESS_KEY_ID = "[REDACTED:aws-access-key]"',
        "deploy token [REDACTED:github-token]",
        "/nonexistent/[REDACTED:gitlab-token]: No such file or directory",
    ):
        assert marker in results
    session = (
        json.loads(proc.stdout.splitlines()[-1])["session_id"]
        if fmt == "json"
        else next(
            json.loads(line)["session_id"]
            for line in proc.stdout.splitlines()
            if line.strip() and json.loads(line)["session_id"]
        )
    )  # past the opening notices
    export = tmp_path / "export.jsonl"
    exported = run_tau(["sessions", "export", session, str(export)], workspace)
    assert exported.returncode == 0, exported.stderr
    leaks: list[str] = []
    for number, request in enumerate(scripted_server.requests):
        leaks += _leaks(f"provider request {number}", request.body)
    for path in (workspace / ".tau").rglob("*"):
        if path.is_file():
            leaks += _leaks(str(path.relative_to(workspace)), path.read_bytes())
    leaks += _leaks("the recording", record.read_bytes())
    leaks += _leaks("the export", export.read_bytes())
    leaks += _leaks(f"--output-format {fmt}", proc.stdout)
    leaks += _leaks("stderr", proc.stderr)
    assert leaks == []
    audit = (workspace / ".tau" / "logs" / "audit.jsonl").read_text()
    assert '"kind":"redaction"' in audit and '"rule":"github-token"' in audit
