"""The child process one job attempt runs in, and how it is stopped.

A job runs in its own process (``tau -p … --output-format stream-json`` for a
prompt job), not in the worker, because only a process can be stopped for
certain: a worker that loses its lease, or whose cancel grace period is over,
kills the job's process tree (every descendant, whatever its group) and its
process group with SIGKILL, and nothing the job started writes again. The child
is its own session and process-group leader (``start_new_session``), so signals
for the job never reach the worker.

The child is started through a tiny shim that sets ``PR_SET_PDEATHSIG`` before
it execs the command: when the worker dies (kill -9 included), the kernel kills
the job too, so a job whose worker is gone cannot go on running and writing
while recovery hands it to another worker. (Off Linux there is no such signal;
the lease expiry is then the only guard.)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from tau_engine.tools.process_supervisor import descendants

LINE_LIMIT = 16 * 1024 * 1024  # stream-json lines carry whole tool results

# Run with ``python -I -S -c SHIM PARENT_PID COMMAND...``: standard library only.
_SHIM = """
import ctypes, os, signal, sys
parent = int(sys.argv[1])
try:
    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)
except (OSError, AttributeError):
    pass
if os.getppid() != parent:
    os._exit(125)
try:
    os.execv(sys.argv[2], sys.argv[2:])
except OSError as exc:
    os.write(2, ("cannot start " + sys.argv[2] + ": " + str(exc) + "\\n").encode())
    os._exit(127)
"""


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def kill_tree(root: int) -> None:
    """SIGKILL ``root``, everything below it and its process group.

    The job's own tools started processes in other groups and sessions (each bash
    call runs under its own subreaper, ``tools/process_supervisor.py``); they are
    still its descendants while it lives. Each is stopped (SIGSTOP) as it is
    found, so nothing can fork a new child between the walk and the kill, then
    all are killed. (Were the job's process killed alone, each bash call's
    supervisor would still stop its own tree on its parent's death.)
    """
    frozen: list[int] = []
    for _round in range(20):
        fresh = [pid for pid in [root, *descendants(root)] if pid not in frozen]
        if not fresh:
            break
        for pid in fresh:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
    for pid in frozen:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    _signal_group(root, signal.SIGKILL)


class JobProcess:
    """One running job attempt. Start with ``JobProcess.start``."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.killed = False
        self.terminated = False
        self._feeder: asyncio.Future[None] | None = None

    @classmethod
    async def start(
        cls, argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], stdin: str | None = None
    ) -> JobProcess:
        """Start ``argv`` (its first item an absolute path) as the job's process group;
        ``stdin`` is written to it and closed (a prompt may be longer than one argv item
        can be)."""
        if sys.platform.startswith("linux"):
            full = [sys.executable, "-I", "-S", "-c", _SHIM, str(os.getpid()), *argv]
        else:
            full = list(argv)
        proc = await asyncio.create_subprocess_exec(
            *full,
            cwd=cwd,
            env=dict(env),
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
            limit=LINE_LIMIT,
        )
        job = cls(proc)
        if stdin is not None:
            job._feeder = asyncio.ensure_future(job._feed(stdin.encode("utf-8")))
        return job

    async def _feed(self, data: bytes) -> None:
        pipe = self.proc.stdin
        if pipe is None:
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            pipe.write(data)
            await pipe.drain()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            pipe.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def lines(self) -> AsyncIterator[tuple[str, str]]:
        """``(stream, line)`` pairs from stdout and stderr as they come, until both end."""
        queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue()

        async def pump(name: str, reader: asyncio.StreamReader | None) -> None:
            try:
                while reader is not None:
                    try:
                        raw = await reader.readline()
                    except ValueError:
                        continue  # a line past the limit: dropped, the rest still read
                    if not raw:
                        break
                    await queue.put((name, raw.decode("utf-8", "replace").rstrip("\r\n")))
            finally:
                await queue.put(None)

        tasks = [
            asyncio.ensure_future(pump("stdout", self.proc.stdout)),
            asyncio.ensure_future(pump("stderr", self.proc.stderr)),
        ]
        open_streams = len(tasks)
        try:
            while open_streams:
                item = await queue.get()
                if item is None:
                    open_streams -= 1
                    continue
                yield item
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self) -> int:
        """The exit status (negative: killed by that signal), as soon as it exits."""
        delay = 0.001
        while self.proc.returncode is None:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)
        return self.proc.returncode

    def terminate(self) -> None:
        """Ask the job to stop (SIGTERM to its main process: tau ends the turn cleanly)."""
        self.terminated = True
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)

    async def kill(self) -> int:
        """SIGKILL the job's process tree and group, and wait for its main process."""
        self.killed = True
        if self.proc.returncode is None:
            kill_tree(self.proc.pid)
        else:
            _signal_group(self.proc.pid, signal.SIGKILL)
        code = await self.wait()
        # Members of the group that outlived the leader (they are orphans now).
        _signal_group(self.proc.pid, signal.SIGKILL)
        return code

    async def stop(self, grace_s: float) -> int:
        """Terminate, wait up to ``grace_s``, then kill the group. Returns the exit status."""
        self.terminate()
        try:
            code = await asyncio.wait_for(self.wait(), grace_s)
        except TimeoutError:
            return await self.kill()
        # Whatever the job left in its group is stopped with it.
        _signal_group(self.proc.pid, signal.SIGKILL)
        return code
