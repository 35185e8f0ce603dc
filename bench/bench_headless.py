"""Headless benchmarks: start-up, streaming a long answer, harness overhead per tool turn.

Run from the repository root:  python bench/bench_headless.py [--quick]
(compile bytecode first, as an installed tau has it: python -m compileall -q tau_engine tau_tui)

Every figure is a median over repeated runs, reported with a ratio against a
baseline measured in the same run (these machines are noisy; absolute times
are only indicative):

- startup: ``tau --version`` vs ``python -c pass``.
- stream: ``tau -p`` streaming a 20,000-word answer sent in 8-character chunks by
  the loopback server, whole process, ``--output-format text`` to a file; the
  baseline is a bare httpx client reading the same stream and writing the text
  to a file. Also the child's peak RSS, and the stream-json output size against
  the answer size (must stay linear: each delta carries only its own text).
- tool turn: in-process engine against a zero-latency loopback model; per-turn
  harness overhead = (run with N tool turns - run with 1 turn) / (N - 1).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.openai_script import openai_answer, openai_chunks  # noqa: E402
from tests.support.scripted_server import ScriptedResponse, ScriptedServer  # noqa: E402

WORDS = 20_000


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _run_child(
    cmd: list[str],
    *,
    stdout: int | object = subprocess.DEVNULL,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> tuple[float, int]:
    """Wall time (s) and peak RSS (KiB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        stdout=stdout,
        stderr=subprocess.DEVNULL,  # type: ignore[arg-type]
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    _, status, rusage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"benchmark command failed ({proc.returncode}): {' '.join(cmd)}")
    return elapsed, rusage.ru_maxrss


def bench_startup(runs: int) -> dict[str, float]:
    tau = [sys.executable, "-m", "tau_tui.cli", "--version"]
    base = [sys.executable, "-c", "pass"]
    for _ in range(3):  # warm the page cache and bytecode
        _run_child(tau)
        _run_child(base)
    tau_t, base_t = [], []
    for _ in range(runs):
        tau_t.append(_run_child(tau)[0])
        base_t.append(_run_child(base)[0])
    return {
        "tau_version_ms": _median_ms(tau_t),
        "python_pass_ms": _median_ms(base_t),
        "ratio": statistics.median(tau_t) / statistics.median(base_t),
    }


def _answer_text() -> str:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    return " ".join(words[i % len(words)] for i in range(WORDS))


_BASELINE_CLIENT = """
import httpx, sys, json
out = open(sys.argv[2], "w")
with httpx.Client(timeout=60) as client:
    with client.stream("POST", sys.argv[1] + "/v1/chat/completions", json={"stream": True}) as r:
        for line in r.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                obj = json.loads(line[6:])
                for choice in obj.get("choices") or []:
                    text = choice["delta"].get("content")
                    if text:
                        out.write(text)
out.close()
"""


def bench_stream(runs: int, write_size: int) -> dict[str, float]:
    text = _answer_text()
    chunks = openai_chunks(text, chunk_size=8)
    with ScriptedServer() as server, tempfile.TemporaryDirectory() as tmp:
        server.responder = lambda request: ScriptedResponse(
            chunks=list(chunks), write_size=write_size
        )
        work = Path(tmp)
        env = dict(os.environ, OPENAI_API_KEY="bench", TAU_CONFIG_DIR=str(work / "cfg"))
        tau = [
            sys.executable,
            "-m",
            "tau_tui.cli",
            "-p",
            "write a long answer",
            "--model",
            "openai/gpt-bench",
            "--base-url",
            server.url + "/v1",
            "--no-color",
        ]
        base = [sys.executable, "-c", _BASELINE_CLIENT, server.url, str(work / "base.txt")]
        tau_t, tau_rss, base_t = [], [], []
        for i in range(runs + 1):
            with open(work / "out.txt", "w") as out:
                elapsed, rss = _run_child(tau, stdout=out, env=env, cwd=work)
            got = (work / "out.txt").read_text()
            if got.strip() != text:
                raise SystemExit("tau's output differs from the streamed answer")
            b_elapsed, _ = _run_child(base, env=env, cwd=work)
            if i == 0:
                continue  # warm-up
            tau_t.append(elapsed)
            tau_rss.append(rss)
            base_t.append(b_elapsed)
        with open(work / "stream.jsonl", "w") as out:
            _run_child([*tau, "--output-format", "stream-json"], stdout=out, env=env, cwd=work)
        stream_bytes = (work / "stream.jsonl").stat().st_size
    return {
        "chunks": len(chunks),
        "answer_bytes": len(text),
        "tau_ms": _median_ms(tau_t),
        "baseline_httpx_ms": _median_ms(base_t),
        "ratio": statistics.median(tau_t) / statistics.median(base_t),
        "tau_peak_rss_mb": statistics.median(tau_rss) / 1024,
        "stream_json_bytes": stream_bytes,
        "stream_json_per_answer_byte": stream_bytes / len(text),
    }


async def _engine_run(server: ScriptedServer, work: Path, tool_turns: int) -> float:
    from tau_engine.config import Settings
    from tau_engine.engine import Engine
    from tau_engine.paths import WorkspacePaths

    for i in range(tool_turns):
        server.add(
            openai_answer("", [{"id": f"c{i}", "name": "read", "arguments": {"path": "a.txt"}}])
        )
    server.add(openai_answer("done"))
    settings = Settings(
        model="openai/gpt-bench", base_url=server.url + "/v1", max_turns=tool_turns + 5
    )
    engine = await Engine.open(
        workspace=WorkspacePaths(work), settings=settings, environ={"OPENAI_API_KEY": "bench"}
    )
    try:
        start = time.perf_counter()
        result = await engine.run("read a.txt repeatedly")
        elapsed = time.perf_counter() - start
        assert result.stop_reason == "end_turn", result
        return elapsed
    finally:
        await engine.close()


def bench_tool_turns(runs: int, turns: int = 20) -> dict[str, float]:
    per_turn = []
    one_turn = []
    with ScriptedServer() as server, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "a.txt").write_text("hello\n" * 50)
        os.environ["TAU_CONFIG_DIR"] = str(work / "cfg")
        for i in range(runs + 1):
            short = asyncio.run(_engine_run(server, work, 1))
            long = asyncio.run(_engine_run(server, work, turns))
            if i == 0:
                continue
            one_turn.append(short)
            per_turn.append((long - short) / (turns - 1))
    return {
        "tool_turns": turns,
        "overhead_per_tool_turn_ms": _median_ms(per_turn),
        "single_tool_turn_run_ms": _median_ms(one_turn),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", choices=["startup", "stream", "tools"])
    args = parser.parse_args()
    runs = 5 if args.quick else 15
    results: dict[str, dict[str, float]] = {}
    if args.only in (None, "startup"):
        results["startup"] = bench_startup(runs * 2)
    if args.only in (None, "stream"):
        # 16 KiB writes: the client, not the Python test server, is what is measured.
        results["stream"] = bench_stream(max(3, runs // 3), write_size=16384)
        # One write per 8-character SSE event, as a token-by-token server sends them.
        results["stream_per_event_writes"] = bench_stream(max(3, runs // 3), write_size=0)
    if args.only in (None, "tools"):
        results["tools"] = bench_tool_turns(max(3, runs // 3))
    for name, figures in results.items():
        print(f"[{name}]")
        for key, value in figures.items():
            print(
                f"  {key:32} {value:,.3f}" if isinstance(value, float) else f"  {key:32} {value:,}"
            )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
