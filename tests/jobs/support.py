"""Helpers of the job tests: replay scripts, waiting on conditions, finding processes."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tau_engine.jobs.service import JobService
from tau_engine.jobs.worker import Worker, WorkerConfig
from tau_engine.paths import WorkspacePaths


def bash_turn(command: str, call_id: str = "") -> dict[str, Any]:
    call: dict[str, Any] = {"name": "bash", "arguments": {"command": command}}
    if call_id:
        call["id"] = call_id
    return {"text": "Running it.", "tool_calls": [call]}


def text_turn(text: str) -> dict[str, Any]:
    return {"text": text}


def write_script(folder: Path, turns: list[dict[str, Any]], name: str = "script.json") -> Path:
    path = folder / name
    path.write_text(json.dumps({"version": 1, "turns": turns}))
    return path


async def until(
    condition: Callable[[], Any], timeout: float = 60.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` (sync or returning an awaitable) until truthy; return its value."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < end, f"{what} not met within {timeout} s"
        await asyncio.sleep(0.05)


def processes_with(marker: str) -> list[int]:
    """Live (not zombie) processes whose command line contains ``marker``."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
            state = Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state not in (b"Z", b"X"):
            found.append(int(name))
    return found


def kill_all(marker: str) -> None:
    import signal

    for pid in processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def fast_config(**changes: Any) -> WorkerConfig:
    # Short enough for tests, long enough that a loaded 2-core machine (a heartbeat that
    # takes a second) does not lose a lease: 3.5 s of failing heartbeats are tolerated.
    base: dict[str, Any] = {
        "lease_s": 4.0,
        "heartbeat_s": 0.5,
        "cancel_grace_s": 5.0,
        "recover_every_s": 1.0,
        "idle_wait_s": 0.2,
    }
    base.update(changes)
    return WorkerConfig(**base)


async def submit_script_job(
    service: JobService, tmp: Path, turns: list[dict[str, Any]], **options: Any
) -> str:
    script = write_script(tmp, turns, name=f"script-{time.monotonic_ns()}.json")
    # full-auto: the scripted model runs bash, which auto-edit would deny.
    inputs = {
        "prompt": options.pop("prompt", "do the thing"),
        "model": "offline/replay",
        "script": str(script),
        "approval": "full-auto",
        **options.pop("inputs", {}),
    }
    result = await service.submit("prompt", inputs, **options)
    return result.job.id


def start_worker(
    service: JobService,
    config: WorkerConfig,
    logs: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Worker, asyncio.Task[Any]]:
    sink = logs if logs is not None else []
    worker = service.worker(
        config, environ=os.environ if environ is None else environ, log=sink.append
    )
    return worker, asyncio.ensure_future(worker.run())


def open_service(paths: WorkspacePaths) -> JobService:
    return JobService.open(paths)
