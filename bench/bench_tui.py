"""TUI benchmarks: first frame, streaming, event-loop stalls, a 1,000-message session.

Run from the repository root (compile bytecode first, as an install does):

    python -m compileall -q tau_engine tau_tui
    python bench/bench_tui.py [--quick] [--only first_frame|stream|paced|long]

Each figure is a median over repeated runs with a baseline measured in the
same run (these machines are noisy; absolute times are only indicative):

- first_frame: ``tau`` (the real CLI path, headless, exits right after its
  first frame) vs a minimal Textual app doing the same.
- stream: the headless benchmark's 20,000-word answer (8-character SSE
  chunks) shown in the app, from Enter to the run's end, wall and CPU time;
  baseline: the same engine run with no UI attached, in the same process.
- paced: a 20 KB Markdown answer paced at 50 chunks/s: the longest event-loop
  stall, the process's CPU share of one core, and characters lost (must be 0);
  baseline: the CPU share of the same run with no UI (the engine, and the
  loopback server's thread, which shares this process).
- long: a 1,000-message session (~500-character Markdown messages): time to
  open it, RSS growth, keystroke-to-frame latency in the prompt against an
  empty session's, and jumping to the first message and back.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.openai_script import openai_chunks  # noqa: E402
from tests.support.scripted_server import ScriptedResponse, ScriptedServer  # noqa: E402

SIZE = (120, 40)
WORDS = 20_000

_MINIMAL_APP = """
from textual.app import App
class Minimal(App):
    def on_mount(self):
        self.call_after_refresh(self.exit)
Minimal().run(headless=True)
"""

# The real ``tau`` entry point, headless, leaving right after the first frame.
_TAU_FIRST_FRAME = """
import sys
from textual.app import App
import tau_tui.app as tau_app
_on_mount = tau_app.TauApp.on_mount
def on_mount(self):
    _on_mount(self)
    self.call_after_refresh(self.exit)
tau_app.TauApp.on_mount = on_mount
tau_app.TauApp.run = lambda self, **kw: App.run(self, headless=True)
import tau_tui.cli
tau_tui.cli.stdio_is_terminal = lambda: True  # the app runs headless here, into a pipe
from tau_tui.cli import main
sys.exit(main(["--workspace", sys.argv[1]]))
"""


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def _child_seconds(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        cmd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed: {done.stderr.decode()[-400:]}")
    return elapsed


def bench_first_frame(runs: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, TAU_CONFIG_DIR=str(Path(tmp) / "cfg"))
        for key in [k for k in env if k.endswith("_API_KEY")]:
            del env[key]
        tau = [sys.executable, "-c", _TAU_FIRST_FRAME, tmp]
        base = [sys.executable, "-c", _MINIMAL_APP]
        for _ in range(2):
            _child_seconds(tau, env)
            _child_seconds(base, env)
        tau_t, base_t = [], []
        for _ in range(runs):
            tau_t.append(_child_seconds(tau, env))
            base_t.append(_child_seconds(base, env))
    return {
        "tau_ms": _median_ms(tau_t),
        "minimal_textual_ms": _median_ms(base_t),
        "ratio": statistics.median(tau_t) / statistics.median(base_t),
    }


# -- in-process app helpers ------------------------------------------------------------


def _make_app(root: Path, server: ScriptedServer | None, **open_kwargs: Any) -> Any:
    from tau_tui.app import TauApp

    async def open_engine(approver: Any) -> Any:
        from tau_engine.config import Settings
        from tau_engine.engine import Engine
        from tau_engine.paths import WorkspacePaths

        settings = (
            Settings(model="openai/gpt-bench", base_url=server.url + "/v1", approval="full-auto")
            if server
            else Settings()
        )
        return await Engine.open(
            workspace=WorkspacePaths(root),
            settings=settings,
            approver=approver,
            environ={"OPENAI_API_KEY": "bench"},
            **open_kwargs,
        )

    return TauApp(open_engine, workspace_label="bench", cursor_blink=False)


async def _until(predicate: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("benchmark timed out")
        await asyncio.sleep(0.005)


async def _next_frame(app: Any) -> None:
    """Wait until the screen has been refreshed once more."""
    done = asyncio.get_running_loop().create_future()
    app.screen.call_after_refresh(lambda: done.done() or done.set_result(None))
    await done


class StallMonitor:
    """Measures how late a 5 ms sleeper wakes up: the event loop's longest stall."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, time.perf_counter() - before - 0.005)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._watch())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


async def _run_in_app(
    root: Path, server: ScriptedServer, answer: str, monitor: StallMonitor | None = None
) -> tuple[float, float, int]:
    """Wall and CPU seconds of one prompt shown in the app, and characters lost."""
    from tau_tui.widgets.entries import AssistantEntry
    from tau_tui.widgets.prompt import PromptInput

    app = _make_app(root, server)
    async with app.run_test(size=SIZE) as pilot:
        await _until(lambda: app.agent.engine_ready.is_set())
        await pilot.pause()
        prompt = app.query_one(PromptInput)
        prompt.insert("write a long answer")
        if monitor is not None:
            monitor.start()
        wall, cpu = time.perf_counter(), time.process_time()
        prompt.submit()
        await _until(lambda: app.agent.running)
        await _until(lambda: not app.agent.running)
        await _next_frame(app)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if monitor is not None:
            monitor.stop()
        shown = next(e for e in app.agent.transcript.entries if isinstance(e, AssistantEntry))
        lost = (
            len(answer) - len(shown.text)
            if shown.text == answer[: len(shown.text)]
            else len(answer)
        )
    return wall, cpu, lost


async def _run_engine_only(root: Path, server: ScriptedServer) -> tuple[float, float]:
    from tau_engine.config import Settings
    from tau_engine.engine import Engine
    from tau_engine.paths import WorkspacePaths

    settings = Settings(model="openai/gpt-bench", base_url=server.url + "/v1")
    engine = await Engine.open(
        workspace=WorkspacePaths(root), settings=settings, environ={"OPENAI_API_KEY": "bench"}
    )
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        await engine.run("write a long answer")
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await engine.close()


def bench_stream(runs: int) -> dict[str, float]:
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
    answer = " ".join(words[i % len(words)] for i in range(WORDS))
    chunks = openai_chunks(answer, chunk_size=8)
    app_wall, app_cpu, base_wall, base_cpu, lost = [], [], [], [], []
    with ScriptedServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["TAU_CONFIG_DIR"] = str(Path(tmp) / "cfg")
        server.responder = lambda request: ScriptedResponse(chunks=list(chunks))
        for i in range(runs + 1):
            root = Path(tmp) / f"ws{i}"
            root.mkdir()
            wall, cpu, missing = asyncio.run(_run_in_app(root, server, answer))
            b_wall, b_cpu = asyncio.run(_run_engine_only(root, server))
            if i == 0:
                continue
            app_wall.append(wall)
            app_cpu.append(cpu)
            base_wall.append(b_wall)
            base_cpu.append(b_cpu)
            lost.append(missing)
    return {
        "chunks": len(chunks),
        "answer_bytes": len(answer),
        "app_ms": _median_ms(app_wall),
        "app_cpu_ms": _median_ms(app_cpu),
        "engine_only_ms": _median_ms(base_wall),
        "engine_only_cpu_ms": _median_ms(base_cpu),
        "ratio": statistics.median(app_wall) / statistics.median(base_wall),
        "chars_lost": max(lost),
    }


def _markdown_answer(size: int) -> str:
    parts: list[str] = []
    i = 0
    while sum(len(p) for p in parts) < size:
        i += 1
        parts.append(
            f"## Step {i}\n\nThis step explains **what** changes and *why*, with "
            f"`inline code` and a [link](https://example.com/{i}). " * 2
        )
        parts.append("- first point of the step\n- second point, a bit longer than the first\n")
        parts.append(f"```python\ndef step_{i}(value):\n    return value * {i}\n```\n")
    return "\n\n".join(parts)[:size]


def bench_paced(runs: int) -> dict[str, float]:
    answer = _markdown_answer(20_000)
    per_chunk = 40  # 500 chunks at 50 chunks/s: a 10 s stream
    chunks = openai_chunks(answer, chunk_size=per_chunk)
    stalls, shares, base_shares, lost = [], [], [], []
    with ScriptedServer() as server, tempfile.TemporaryDirectory() as tmp:
        os.environ["TAU_CONFIG_DIR"] = str(Path(tmp) / "cfg")
        server.responder = lambda request: ScriptedResponse(chunks=list(chunks), delay_s=0.02)
        for i in range(runs):
            root = Path(tmp) / f"ws{i}"
            root.mkdir()
            monitor = StallMonitor()
            wall, cpu, missing = asyncio.run(_run_in_app(root, server, answer, monitor))
            stalls.append(monitor.worst)
            shares.append(cpu / wall)
            lost.append(missing)
            b_wall, b_cpu = asyncio.run(_run_engine_only(root, server))
            base_shares.append(b_cpu / b_wall)
    return {
        "answer_bytes": len(answer),
        "chunks": len(chunks),
        "max_stall_ms": _median_ms(stalls),
        "cpu_share_of_core": statistics.median(shares),
        "engine_and_server_only_cpu_share": statistics.median(base_shares),
        "chars_lost": max(lost),
    }


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def _open_and_type(root: Path, resume: bool) -> dict[str, float]:
    from tau_tui.widgets.prompt import PromptInput
    from tau_tui.widgets.transcript import Transcript

    rss_before = _rss_mb()
    app = _make_app(root, None, continue_latest=resume)
    figures: dict[str, float] = {}
    async with app.run_test(size=SIZE) as pilot:
        start = time.perf_counter()
        await _until(lambda: app.agent.engine_ready.is_set())
        await _next_frame(app)
        figures["open_s"] = time.perf_counter() - start
        await pilot.pause(0.2)
        figures["rss_mb"] = _rss_mb() - rss_before
        figures["widgets"] = sum(1 for _ in app.screen.walk_children(with_self=True))
        prompt = app.query_one(PromptInput)
        prompt.focus()
        latencies = []
        from textual import events

        for key in "the quick brown fox jumps over":
            await pilot.pause(0.02)
            began = time.perf_counter()
            prompt.post_message(events.Key(key, key))
            await _next_frame(app)
            latencies.append(time.perf_counter() - began)
        figures["keystroke_ms"] = _median_ms(latencies)
        transcript = app.query_one(Transcript)
        began = time.perf_counter()
        await transcript.jump_to_start()
        await _next_frame(app)
        figures["jump_to_first_ms"] = (time.perf_counter() - began) * 1000
        began = time.perf_counter()
        await transcript.jump_to_end()
        await _next_frame(app)
        figures["jump_back_ms"] = (time.perf_counter() - began) * 1000
    return figures


def bench_long(runs: int, messages: int = 1000) -> dict[str, float]:
    from tests.tui.long_session import create_long_session

    long_runs: list[dict[str, float]] = []
    empty_runs: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TAU_CONFIG_DIR"] = str(Path(tmp) / "cfg")
        long_root = Path(tmp) / "long"
        long_root.mkdir()
        asyncio.run(create_long_session(long_root, messages))
        empty_root = Path(tmp) / "empty"
        empty_root.mkdir()
        asyncio.run(_open_and_type(empty_root, False))  # warm imports and caches
        for _ in range(runs):
            empty_runs.append(asyncio.run(_open_and_type(empty_root, False)))
            long_runs.append(asyncio.run(_open_and_type(long_root, True)))

    def median(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(row[key] for row in rows)

    return {
        "messages": messages,
        "open_ms": median(long_runs, "open_s") * 1000,
        "open_empty_ms": median(empty_runs, "open_s") * 1000,
        "rss_growth_mb": median(long_runs, "rss_mb"),
        "rss_growth_empty_mb": median(empty_runs, "rss_mb"),
        "mounted_widgets": median(long_runs, "widgets"),
        "mounted_widgets_empty": median(empty_runs, "widgets"),
        "keystroke_ms": median(long_runs, "keystroke_ms"),
        "keystroke_empty_ms": median(empty_runs, "keystroke_ms"),
        "jump_to_first_ms": median(long_runs, "jump_to_first_ms"),
        "jump_back_ms": median(long_runs, "jump_back_ms"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--only", choices=["first_frame", "stream", "paced", "long"])
    args = parser.parse_args()
    runs = 3 if args.quick else 9
    benches: dict[str, Callable[[], dict[str, float]]] = {
        "first_frame": lambda: bench_first_frame(runs * 2),
        "stream": lambda: bench_stream(max(2, runs // 3)),
        "paced": lambda: bench_paced(max(1, runs // 3)),
        "long": lambda: bench_long(max(2, runs // 3)),
    }
    results: dict[str, dict[str, float]] = {}
    for name, bench in benches.items():
        if args.only in (None, name):
            results[name] = bench()
            print(f"[{name}]")
            for key, value in results[name].items():
                print(
                    f"  {key:28} {value:,.3f}"
                    if isinstance(value, float)
                    else f"  {key:28} {value:,}"
                )
            sys.stdout.flush()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
