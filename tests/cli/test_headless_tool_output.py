"""Live tool output in headless runs: stream-json carries it, text output does not repeat it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.tau_process import run_tau


def script(workspace: Path) -> Path:
    path = workspace / "script.json"
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "turns": [
                    {
                        "tool_calls": [
                            {
                                "name": "bash",
                                "arguments": {
                                    "command": "echo compiled one; sleep 0.3; echo compiled two"
                                },
                            }
                        ]
                    },
                    {"text": "Built."},
                ],
            }
        )
    )
    return path


def test_stream_json_has_the_deltas_before_the_result(workspace: Path) -> None:
    proc = run_tau(
        [
            "-p",
            "build",
            "--model",
            "offline/replay",
            "--script",
            str(script(workspace)),
            "--approval",
            "full-auto",
            "--output-format",
            "stream-json",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    deltas = [e for e in events if e["type"] == "tool_output_delta"]
    assert "".join(d["text"] for d in deltas) == "compiled one\ncompiled two\n"
    assert 1 <= len(deltas) <= 2  # one per burst of output at most, not one per write
    assert kinds.index("tool_output_delta") < kinds.index("tool_result")
    assert {d["call_id"] for d in deltas} == {
        next(e["call_id"] for e in events if e["type"] == "tool_call")
    }


def test_text_output_prints_one_line_per_call_not_the_live_output(workspace: Path) -> None:
    proc = run_tau(
        [
            "-p",
            "build",
            "--model",
            "offline/replay",
            "--script",
            str(script(workspace)),
            "--approval",
            "full-auto",
            "--no-color",
        ],
        workspace,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "Built."
    lines = proc.stderr.splitlines()
    assert not [line for line in lines if line.startswith("compiled")]
    assert [line for line in lines if line.startswith("tool=bash")] == [
        "tool=bash command=echo compiled one; sleep 0.3; echo compiled two ok"
    ]
