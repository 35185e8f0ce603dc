"""``tau models``: the table, ``--json``, ``--provider`` and ``--refresh openrouter``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tau_engine.errors import UsageError
from tau_engine.paths import user_config_dir
from tau_engine.providers.catalog import OPENROUTER_CACHE_NAME, load_catalog
from tau_tui.commands import models as models_cmd
from tests.support.scripted_server import ScriptedResponse, ScriptedServer

ROOT = Path(__file__).resolve().parents[2]

OPENROUTER_MODELS = {
    "data": [
        {
            "id": "acme/coder-1",
            "name": "Acme: Coder 1",
            "context_length": 262144,
            "pricing": {
                "prompt": "0.0000004",
                "completion": "0.0000016",
                "request": "0",
                "input_cache_read": "0.0000001",
            },
            "top_provider": {
                "context_length": 262144,
                "max_completion_tokens": 65536,
                "is_moderated": False,
            },
            "architecture": {"input_modalities": ["text"], "output_modalities": ["text"]},
            "supported_parameters": ["tools", "tool_choice", "max_tokens"],
        },
        {
            "id": "anthropic/claude-sonnet-4.5",
            "context_length": 1000000,
            "pricing": {"prompt": "0.000003", "completion": "0.000015"},
            "top_provider": {"max_completion_tokens": 64000},
            "supported_parameters": ["tools", "reasoning"],
            "architecture": {"input_modalities": ["text", "image", "file"]},
        },
        {
            "id": "openrouter/auto",
            "context_length": 2000000,
            "pricing": {"prompt": "-1", "completion": "-1"},
        },
    ]
}


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tau")
    models_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["models", *argv])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = models_cmd.run(parse(*argv))
    out, err = capsys.readouterr()
    return code, out, err


def json_rows(out: str) -> list[dict[str, Any]]:
    rows = json.loads(out.strip().splitlines()[-1])
    assert isinstance(rows, list)
    return rows


def test_the_table_lists_every_provider(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == [
        "MODEL",
        "CONTEXT",
        "MAX",
        "OUT",
        "IN",
        "$/M",
        "OUT",
        "$/M",
        "CACHED",
        "$/M",
        "FLAGS",
    ]
    sonnet = next(line for line in lines if line.startswith("anthropic/claude-sonnet-4-5 "))
    assert sonnet.split() == [
        "anthropic/claude-sonnet-4-5",
        "200k",
        "64k",
        "3.00",
        "15.00",
        "0.30",
        "default,tools,vision,thinking",
    ]
    pro = next(line for line in lines if line.startswith("openai/gpt-5-pro "))
    assert "responses-api" in pro and pro.split()[5] == "?"
    for provider in (
        "openai",
        "gemini",
        "xai",
        "mistral",
        "deepseek",
        "openrouter",
        "ollama",
        "offline",
    ):
        assert any(line.startswith(f"{provider}/") for line in lines), provider


def test_provider_filter(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--provider", "DeepSeek")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert ids == ["deepseek/deepseek-chat", "deepseek/deepseek-reasoner"]


def test_an_unknown_provider_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UsageError, match="unknown provider 'acme'; known: anthropic"):
        models_cmd.run(parse("--provider", "acme"))


def test_json_is_one_line_of_objects(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "--provider", "gemini")
    assert code == 0 and len(out.strip().splitlines()) == 1
    rows = json_rows(out)
    assert {row["provider"] for row in rows} == {"gemini"}
    pro = next(row for row in rows if row["id"] == "gemini-2.5-pro")
    assert pro["model_id"] == "gemini/gemini-2.5-pro" and pro["default"] is True
    assert pro["context_window"] == 1048576 and pro["input_price"] == 1.25
    assert pro["api"] == "gemini" and pro["vision"] is True
    for key in (
        "max_output_tokens",
        "output_price",
        "cached_input_price",
        "tools",
        "extended_thinking",
        "knowledge_cutoff",
        "deprecated",
        "aliases",
    ):
        assert key in pro


def test_user_overrides_show_up(capsys: pytest.CaptureFixture[str]) -> None:
    path = user_config_dir() / "models.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text('[ollama."my-coder"]\ncontext_window = 32768\n')
    rows = json_rows(run(capsys, "--json", "--provider", "ollama")[1])
    mine = next(row for row in rows if row["id"] == "my-coder")
    assert mine["input_price"] is None and mine["context_window"] == 32768
    table = run(capsys, "--provider", "ollama")[1]
    assert any(
        line.split()[:5] == ["ollama/my-coder", "33k", "8k", "?", "?"]
        for line in table.splitlines()
    )


def test_refresh_openrouter_merges_the_live_list(
    scripted_server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    scripted_server.add(
        ScriptedResponse.json(
            200,
            OPENROUTER_MODELS,
        )
    )
    monkeypatch.setenv("TAU_OPENROUTER_BASE_URL", scripted_server.url + "/api/v1")
    code, out, err = run(
        capsys,
        "--refresh",
        "openrouter",
        "--json",
        "--provider",
        "openrouter",
        "--workspace",
        str(tmp_path),
    )
    assert code == 0, err
    assert out.splitlines()[0] == "merged 3 openrouter models into the catalog"
    assert scripted_server.requests[0].method == "GET"
    assert scripted_server.requests[0].path == "/api/v1/models"
    rows = {row["id"]: row for row in json_rows(out)}
    coder = rows["acme/coder-1"]
    assert coder["context_window"] == 262144 and coder["max_output_tokens"] == 65536
    assert coder["input_price"] == 0.4 and coder["output_price"] == 1.6
    assert coder["cached_input_price"] == 0.1 and coder["vision"] is False
    assert rows["openrouter/auto"]["input_price"] is None
    sonnet = rows["anthropic/claude-sonnet-4.5"]
    assert sonnet["extended_thinking"] and sonnet["knowledge_cutoff"] == "2025-01"
    assert "meta-llama/llama-4-maverick" in rows  # built-in entries stay
    cache = json.loads((user_config_dir() / OPENROUTER_CACHE_NAME).read_text())
    assert len(cache["models"]) == 3
    # The engine's catalog sees the refreshed list too.
    assert load_catalog().get("openrouter", "acme/coder-1") is not None


@pytest.mark.parametrize(
    "answer",
    [
        ScriptedResponse.json(503, {"error": {"message": "unavailable"}}),
        ScriptedResponse.json(200, {"models": "not the OpenRouter shape"}),
        ScriptedResponse.json(200, {"data": []}),
        ScriptedResponse(status=200, chunks=[b"<html>oops</html>"], content_type="text/html"),
    ],
)
def test_a_failed_refresh_is_one_line_and_exit_1(
    answer: ScriptedResponse,
    scripted_server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    scripted_server.add(answer)
    monkeypatch.setenv("TAU_OPENROUTER_BASE_URL", scripted_server.url + "/api/v1")
    code, out, err = run(capsys, "--refresh", "openrouter", "--workspace", str(tmp_path))
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1
    assert err.startswith("tau: error: ") and "/api/v1/models" in err
    assert err.rstrip().endswith("the built-in model list still works")
    assert not (user_config_dir() / OPENROUTER_CACHE_NAME).exists()
    code, out, _ = run(capsys, "--provider", "openrouter")
    assert code == 0 and "openrouter/anthropic/claude-sonnet-4.5" in out


def test_refresh_when_offline(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TAU_OPENROUTER_BASE_URL", f"http://127.0.0.1:{port}/api/v1")
    code, out, err = run(capsys, "--refresh", "openrouter", "--workspace", str(tmp_path))
    assert code == 1 and out == ""
    assert err.startswith("tau: error: openrouter connection: could not fetch")
    assert len(err.splitlines()) == 1


def test_a_failed_refresh_keeps_the_previous_cache(
    scripted_server: ScriptedServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    scripted_server.add(
        ScriptedResponse.json(200, OPENROUTER_MODELS),
        ScriptedResponse.json(500, {"error": {"message": "boom"}}),
    )
    monkeypatch.setenv("TAU_OPENROUTER_BASE_URL", scripted_server.url + "/api/v1")
    assert run(capsys, "--refresh", "openrouter", "--workspace", str(tmp_path))[0] == 0
    assert run(capsys, "--refresh", "openrouter", "--workspace", str(tmp_path))[0] == 1
    assert load_catalog().get("openrouter", "acme/coder-1") is not None


def test_module_entry_point(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TAU_CONFIG_DIR": str(tmp_path / "config"),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "tau_tui.commands.models", "--json", "--provider", "offline"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [row["id"] for row in json_rows(done.stdout)] == ["echo", "replay"]
    bad = subprocess.run(
        [sys.executable, "-m", "tau_tui.commands.models", "--provider", "acme"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith("tau: error: unknown provider 'acme'")
