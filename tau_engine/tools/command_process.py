"""A command a tool runs, and the guarantee that nothing it starts outlives the call.

On Linux the command runs under ``process_supervisor.py``, a per-call child
subreaper: every process the command starts stays in the supervisor's tree
(``setsid``, ``nohup`` and double-forked daemons included), and the
supervisor exits only once that tree is empty. ``stop()`` asks it to stop
the tree (SIGTERM, a grace period, SIGKILL); if tau itself dies, the kernel
tells the supervisor (``PR_SET_PDEATHSIG``) and it does the same.

Elsewhere (no ``/proc``, no ``prctl``) the command runs directly in a new
session and process group, and ``stop()`` signals that group: a process that
leaves the group on purpose can then survive the call.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

SUPERVISOR = Path(__file__).with_name("process_supervisor.py")
# Beyond the supervisor's own grace period, how long tau waits for it before
# killing its process group itself (it should never need to).
SUPERVISOR_MARGIN_S = 5.0
# Clean-ups of starts that were cancelled, kept referenced until they finish.
_CLEANUPS: set[asyncio.Future[None]] = set()


def supervision_available() -> bool:
    """Whether commands can run under the per-call subreaper (Linux with ``/proc``)."""
    return (
        sys.platform.startswith("linux")
        and bool(sys.executable)
        and os.path.isdir("/proc/self")
        and SUPERVISOR.is_file()
    )


async def wait_exit(proc: asyncio.subprocess.Process) -> int:
    """The exit status, as soon as the process has exited.

    ``Process.wait()`` (Python 3.11) also waits until the process's pipes close,
    which something holding stdout can delay indefinitely, so the return code,
    which is set on exit alone, is polled as well; ``Process.wait()`` still ends
    the wait at once in the usual case, where the pipe closes with the exit.
    """
    if proc.returncode is not None:
        return proc.returncode
    closed = asyncio.ensure_future(proc.wait())
    delay = 0.001
    try:
        while proc.returncode is None and not closed.done():
            await asyncio.wait({closed}, timeout=delay)
            delay = min(delay * 2, 0.05)
    finally:
        closed.cancel()
    assert proc.returncode is not None
    return proc.returncode


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


class CommandProcess:
    """One running command with its stdout (stderr merged in). Start with ``start``."""

    def __init__(
        self, proc: asyncio.subprocess.Process, *, supervised: bool, grace_s: float
    ) -> None:
        self.proc = proc
        self.supervised = supervised
        self.grace_s = grace_s
        self._stopping: asyncio.Task[None] | None = None

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None,
        grace_s: float,
        drain_s: float,
        supervised: bool | None = None,
    ) -> CommandProcess:
        """Start ``argv``; ``drain_s`` is how long its leftovers may run after it exits.

        The start itself is never abandoned half-way: if the awaiting task is
        cancelled while the process is being created, the process is stopped
        before the cancellation goes on, so it cannot escape the call.
        """
        if supervised is None:
            supervised = supervision_available()
        if supervised:
            full = [
                sys.executable,
                "-I",
                "-S",
                str(SUPERVISOR),
                f"{grace_s:g}",
                f"{drain_s:g}",
                str(os.getpid()),
                "--",
                *argv,
            ]
        else:
            full = list(argv)
        spawn = asyncio.ensure_future(
            asyncio.create_subprocess_exec(
                *full,
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        )
        try:
            proc = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            # The process may exist already: stop it before the cancellation goes on. The
            # clean-up is a task of its own, so a second cancel cannot abandon it.
            cleanup = asyncio.ensure_future(cls._abandon(spawn, supervised, grace_s))
            _CLEANUPS.add(cleanup)
            cleanup.add_done_callback(_CLEANUPS.discard)
            await asyncio.shield(cleanup)
            raise
        return cls(proc, supervised=supervised, grace_s=grace_s)

    @classmethod
    async def _abandon(
        cls, spawn: asyncio.Future[asyncio.subprocess.Process], supervised: bool, grace_s: float
    ) -> None:
        try:
            proc = await spawn
        except OSError:
            return  # it never started
        await cls(proc, supervised=supervised, grace_s=grace_s).stop()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> asyncio.StreamReader:
        assert self.proc.stdout is not None
        return self.proc.stdout

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait(self) -> int:
        """The command's exit status (negative: killed by that signal).

        Supervised, this returns once every process of the call has exited.
        """
        return await wait_exit(self.proc)

    async def stop(self) -> None:
        """Stop the command and everything it started; returns when they are gone.

        Safe to call twice, and it finishes even if the caller is cancelled
        while waiting (a second Ctrl+C must not leave half the tree running).
        """
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if self.supervised:
            if self.proc.returncode is None:
                try:
                    self.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                await asyncio.wait_for(wait_exit(self.proc), self.grace_s + SUPERVISOR_MARGIN_S)
                return
            except TimeoutError:
                pass  # the supervisor is stuck: fall back to its process group
        _signal_group(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(wait_exit(self.proc), self.grace_s)
        except TimeoutError:
            pass
        finally:
            # Also catches members that ignore SIGTERM after the leader has gone.
            _signal_group(self.proc.pid, signal.SIGKILL)
        await wait_exit(self.proc)

    async def finish(self) -> None:
        """After the command exited: stop what it left running (unsupervised runs only;
        the supervisor does this itself before it exits)."""
        if not self.supervised:
            await self.stop()
