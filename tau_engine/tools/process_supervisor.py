"""The supervisor of one ``bash`` tool call: a subreaper that owns every process of the call.

tau does not run ``bash`` itself on Linux: it runs this file with a fresh,
isolated interpreter (``python -I -S process_supervisor.py GRACE DRAIN PARENT
-- bash -c COMMAND``), and this process runs the command. It makes itself a
*child subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``), so every process the
command starts stays below it whatever it does: a background job whose shell
has exited, a ``nohup`` job, a process that called ``setsid`` or double-forked
to daemonize are all re-parented here instead of to PID 1. Its descendants
are therefore exactly the call's processes, and it can stop all of them:

- when the command's shell exits, the other processes get ``DRAIN`` seconds
  to finish, then are stopped;
- on SIGTERM, SIGINT or SIGHUP (tau's timeout or cancel), and when tau
  itself dies (``PR_SET_PDEATHSIG``), they are stopped at once.

Stopping sends SIGTERM (and SIGCONT, so stopped jobs can act on it) to every
descendant, waits up to ``GRACE`` seconds, then sends SIGKILL until none is
left. The supervisor exits only when it has no child left, so its exit means
the whole tree is gone. It exits with the shell's status (dying by the same
signal when the shell was killed), so tau reads it like the shell's own.

It is a script, not a module tau imports: standard library only, and no tau
import, so it starts fast. It uses ``_signal``, the C module under ``signal``:
importing ``signal`` itself would pull in ``enum`` and cost more than the rest
of the start-up.
"""

from __future__ import annotations

import ctypes
import os
import sys
import time

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~7 ms here
if TYPE_CHECKING:
    import signal
else:
    import _signal as signal

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
STOP_SIGNALS = frozenset({int(signal.SIGTERM), int(signal.SIGINT), int(signal.SIGHUP)})
WATCHED = STOP_SIGNALS | {int(signal.SIGCHLD)}
# How often the stop loop re-scans for processes forked while it was killing.
KILL_POLL_S = 0.05


def _prctl(option: int, value: int) -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(option, value, 0, 0, 0)) == 0


def descendants(root: int) -> list[int]:
    """Every live process below ``root``, read from ``/proc`` (parents before children)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue  # exited while we looked
        # The command name may contain spaces and parentheses: fields follow the last ')'.
        fields = stat.rsplit(b")", 1)[-1].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Supervisor:
    """Runs the command and reaps whatever the call leaves behind."""

    def __init__(self, grace_s: float, drain_s: float) -> None:
        self.grace_s = grace_s
        self.drain_s = drain_s
        self.shell_pid = 0
        self.shell_status: int | None = None
        self.stop_requested = False

    def start(self, argv: list[str], old_mask: set[int] | set[signal.Signals]) -> None:
        pid = os.fork()
        if pid == 0:  # the child: become the command
            try:
                signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
                # Python ignores SIGPIPE and SIGXFSZ; a command expects the defaults.
                for signum in (signal.SIGPIPE, signal.SIGXFSZ):
                    signal.signal(signum, signal.SIG_DFL)
                os.execvp(argv[0], argv)
            except OSError as exc:
                os.write(2, f"cannot start {argv[0]}: {exc.strerror or exc}\n".encode())
            finally:
                os._exit(127)
        self.shell_pid = pid

    def reap(self) -> bool:
        """Collect every exited child; False once no child is left at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.shell_pid:
                self.shell_status = status

    def _wait_signal(self, timeout: float | None) -> None:
        info: signal.struct_siginfo | None
        if timeout is None:
            info = signal.sigwaitinfo(WATCHED)
        else:
            info = signal.sigtimedwait(WATCHED, max(timeout, 0.0))
        if info is not None and info.si_signo in STOP_SIGNALS:
            self.stop_requested = True

    def run(self) -> None:
        """Wait for the shell, then for the rest (up to DRAIN), stopping all on request."""
        drain_until: float | None = None
        while self.reap():
            if self.stop_requested:
                break
            now = time.monotonic()
            if self.shell_status is not None:
                if drain_until is None:
                    drain_until = now + self.drain_s
                if now >= drain_until:
                    break
                self._wait_signal(drain_until - now)
            else:
                self._wait_signal(None)
        self.stop_all()

    def _signal_all(self, signums: tuple[int, ...]) -> None:
        for pid in descendants(os.getpid()):
            for signum in signums:
                try:
                    os.kill(pid, signum)
                except OSError:
                    pass  # gone already

    def stop_all(self) -> None:
        """SIGTERM every descendant, wait up to GRACE, then SIGKILL until none is left."""
        if not self.reap():
            return
        self._signal_all((signal.SIGTERM, signal.SIGCONT))
        until = time.monotonic() + self.grace_s
        while self.reap():
            left = until - time.monotonic()
            if left <= 0:
                break
            signal.sigtimedwait({signal.SIGCHLD}, min(left, KILL_POLL_S))
        # Re-scan each round: a dying process may have forked, or a parent's death
        # re-parented its children here.
        while self.reap():
            self._signal_all((signal.SIGKILL,))
            signal.sigtimedwait({signal.SIGCHLD}, KILL_POLL_S)

    def exit_like_the_shell(self) -> None:
        status = self.shell_status
        if status is None:
            os._exit(125)
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            # Die by the same signal, without a core file of our own.
            import resource

            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
            os.kill(os.getpid(), signum)
            os._exit(128 + signum)
        os._exit(os.waitstatus_to_exitcode(status))


def main(argv: list[str]) -> None:
    """``GRACE DRAIN PARENT_PID -- COMMAND...``"""
    try:
        split = argv.index("--")
        grace_s, drain_s, parent = float(argv[0]), float(argv[1]), int(argv[2])
        command = argv[split + 1 :]
    except (ValueError, IndexError):
        os.write(2, b"usage: process_supervisor.py GRACE DRAIN PARENT_PID -- COMMAND...\n")
        os._exit(125)
    if not command:
        os._exit(125)
    # Signals are taken synchronously (sigwaitinfo), so block them before anything starts:
    # a stop request that arrives while the command is starting stays pending.
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, WATCHED)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    supervisor = Supervisor(grace_s, drain_s)
    if os.getppid() != parent:
        os._exit(125)  # tau died before the death signal was armed: start nothing
    supervisor.start(command, old_mask)
    supervisor.run()
    supervisor.exit_like_the_shell()


if __name__ == "__main__":
    main(sys.argv[1:])
