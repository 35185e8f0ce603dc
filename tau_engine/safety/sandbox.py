"""The bash sandbox: a bubblewrap command line, and a probe of what this machine allows.

:func:`bwrap_argv` wraps one ``bash -c`` call so that it sees the whole file system read-only
except the workspace (and any extra write roots); ``.git``, tau's state and identity files and
the other protected paths stay read-only inside the workspace; credentials folders are hidden
behind empty ones; ``/tmp`` is private; the network is cut (only a private loopback) unless the
profile allows it; the command has no capabilities (even when tau runs as root), its own
PID, IPC and UTS namespaces and a new session
(no ``TIOCSTI`` typing into the user's terminal) and dies with tau (``--die-with-parent``).

:func:`probe_sandbox` runs bubblewrap the way :func:`bwrap_argv` would, one capability at a
time (user namespaces, a fresh ``/proc``, a network namespace with loopback), and for each
failure names the specific remedy: the data ``tau doctor sandbox`` prints. A machine where
mounting ``/proc`` is forbidden (some containers) can still sandbox with ``proc="bind"``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tau_engine.safety.profiles import Profile

ProcMode = Literal["proc", "bind"]
INSTALL_REMEDY = (
    "install bubblewrap: `sudo apt-get install bubblewrap` (Debian/Ubuntu), "
    "`sudo dnf install bubblewrap` (Fedora), `sudo pacman -S bubblewrap` (Arch)"
)


@dataclass(frozen=True)
class SandboxSpec:
    """What one sandboxed call may see and touch.

    ``read_only`` paths are bound read-only on top of the writable ones (protected paths
    inside the workspace); ``hide`` paths are covered by an empty folder or file."""

    workspace: Path
    network: bool = False
    write_roots: Sequence[Path] = ()
    read_only: Sequence[Path] = ()
    hide: Sequence[Path] = ()
    proc: ProcMode = "proc"


def spec_for_profile(
    profile: Profile,
    workspace: Path,
    *,
    extra_protected: Sequence[str] = (),
    extra_hidden: Sequence[Path] = (),
    proc: ProcMode = "proc",
) -> SandboxSpec:
    """The sandbox a profile describes for one workspace.

    tau's whole state folder (``.tau``) is read-only inside, whatever the profile lists: no
    sandboxed command needs to write it, and a command that could would be able to grant
    itself permissions. Extra hidden paths are for tau's own credentials file."""
    doc = profile.document
    root = workspace.resolve()
    protected = [*doc.files.protected, *extra_protected, ".tau"]
    roots = [Path(os.path.expanduser(r)) for r in doc.files.write_roots]
    return SandboxSpec(
        workspace=root,
        network=doc.sandbox.network,
        write_roots=[r if r.is_absolute() else root / r for r in roots],
        read_only=[
            Path(os.path.expanduser(p)) if os.path.isabs(os.path.expanduser(p)) else root / p
            for p in protected
        ],
        hide=[*(Path(h) for h in doc.sandbox.hide), *extra_hidden],
        proc=proc,
    )


def _existing(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        expanded = Path(os.path.expanduser(str(path)))
        if expanded.exists() and not expanded.is_symlink():
            resolved = expanded.resolve()
            if resolved not in out:
                out.append(resolved)
    return out


def bwrap_argv(
    spec: SandboxSpec, command: str, *, bwrap: str = "bwrap", shell: str = "bash"
) -> list[str]:
    """The full argv that runs ``shell -c command`` inside the sandbox described by ``spec``.

    Mount order matters: later mounts cover earlier ones, so the read-only root comes first,
    then the writable workspace, then the read-only and hidden paths inside it."""
    workspace = spec.workspace.resolve()
    # --cap-drop ALL: run as root (CI, containers) bwrap would keep every capability, and
    # `mount -o remount,rw` would make the read-only mounts writable again.
    argv = [
        bwrap,
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
    ]
    if not spec.network:
        argv.append("--unshare-net")
    argv += ["--ro-bind", "/", "/", "--dev", "/dev"]
    argv += ["--proc", "/proc"] if spec.proc == "proc" else ["--ro-bind", "/proc", "/proc"]
    argv += ["--tmpfs", "/tmp"]
    tmp = Path("/tmp")
    for root in [workspace, *_existing(spec.write_roots)]:
        if root != workspace and (root == tmp or tmp in root.parents):
            continue  # /tmp is private and writable already
        argv += ["--bind", str(root), str(root)]
    for path in _existing(spec.read_only):
        argv += ["--ro-bind", str(path), str(path)]
    for path in _existing(spec.hide):
        if path.is_dir():
            argv += ["--tmpfs", str(path), "--remount-ro", str(path)]
        else:
            argv += ["--ro-bind", "/dev/null", str(path)]
    argv += ["--chdir", str(workspace), "--", shell, "-c", command]
    return argv


@dataclass(frozen=True)
class ProbeCheck:
    """One capability the sandbox needs: whether it works, what happened, how to fix it."""

    name: str
    ok: bool
    detail: str
    remedy: str | None = None


@dataclass
class SandboxProbe:
    """What this machine allows; ``usable`` means bash can run sandboxed with ``proc``."""

    bwrap: str | None
    checks: list[ProbeCheck] = field(default_factory=list)
    proc: ProcMode = "proc"
    network_isolation: bool = True

    @property
    def usable(self) -> bool:
        return self.bwrap is not None and all(
            c.ok
            for c in self.checks
            if c.name in ("bubblewrap", "user namespaces", "sandboxed command")
        )

    def diagnostic(self) -> str:
        """One line: the first failing check and its remedy (for ``refused (sandbox): …``)."""
        for check in self.checks:
            if not check.ok:
                remedy = f"; {check.remedy}" if check.remedy else ""
                return f"{check.name}: {check.detail}{remedy}"
        return "the sandbox works"


def _read_sysctl(path: str) -> str | None:
    try:
        return Path(path).read_text(encoding="ascii").strip()
    except OSError:
        return None


def _userns_remedy(stderr: str) -> str:
    if _read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == "1":
        return (
            "AppArmor restricts unprivileged user namespaces (Ubuntu 23.10+): add an "
            "AppArmor profile for bwrap or run `sudo sysctl -w "
            "kernel.apparmor_restrict_unprivileged_userns=0`"
        )
    if _read_sysctl("/proc/sys/kernel/unprivileged_userns_clone") == "0":
        return "run `sudo sysctl -w kernel.unprivileged_userns_clone=1`"
    if _read_sysctl("/proc/sys/user/max_user_namespaces") == "0":
        return "run `sudo sysctl -w user.max_user_namespaces=15000`"
    if "setuid" in stderr.lower():
        return "reinstall bubblewrap from your distribution's packages"
    return (
        "user namespaces are blocked (in a container: run it with "
        "`--security-opt seccomp=unconfined --security-opt apparmor=unconfined`, or "
        "make bwrap setuid: `sudo chmod u+s $(command -v bwrap)`)"
    )


def _run(argv: list[str], timeout_s: float) -> tuple[int, str]:
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout_s:g}s"
    except OSError as exc:
        return 127, str(exc)
    lines = (done.stderr or done.stdout).strip().splitlines()
    return done.returncode, lines[-1] if lines else ""


def probe_sandbox(bwrap: str | None = None, *, timeout_s: float = 10.0) -> SandboxProbe:
    """Try each capability bubblewrap needs and say what is missing and how to fix it."""
    found = shutil.which(bwrap) if bwrap is not None else shutil.which("bwrap")
    probe = SandboxProbe(bwrap=found)
    if found is None:
        probe.checks.append(
            ProbeCheck("bubblewrap", False, "bwrap is not installed", INSTALL_REMEDY)
        )
        return probe
    probe.checks.append(ProbeCheck("bubblewrap", True, found))
    code, err = _run([found, "--ro-bind", "/", "/", "--unshare-pid", "true"], timeout_s)
    if code != 0:
        probe.checks.append(
            ProbeCheck("user namespaces", False, err or f"exit {code}", _userns_remedy(err))
        )
        return probe
    probe.checks.append(ProbeCheck("user namespaces", True, "a PID namespace can be created"))
    code, err = _run(
        [found, "--ro-bind", "/", "/", "--dev", "/dev", "--unshare-pid", "--proc", "/proc", "true"],
        timeout_s,
    )
    if code == 0:
        probe.checks.append(ProbeCheck("/proc", True, "a private /proc can be mounted"))
    else:
        probe.proc = "bind"
        probe.checks.append(
            ProbeCheck(
                "/proc",
                False,
                err or f"exit {code}",
                "the host's /proc is bound read-only instead (processes outside the sandbox stay "
                "visible); in a container, run it with `--security-opt systempaths=unconfined` "
                "to allow a private /proc",
            )
        )
    code, err = _run([found, "--ro-bind", "/", "/", "--unshare-net", "true"], timeout_s)
    if code == 0:
        probe.checks.append(
            ProbeCheck("loopback", True, "a network namespace with loopback can be created")
        )
    else:
        probe.network_isolation = False
        probe.checks.append(
            ProbeCheck(
                "loopback",
                False,
                err or f"exit {code}",
                "network namespaces are not allowed here (in a container: add `--cap-add "
                "NET_ADMIN` or unconfined seccomp); until then commands cannot be cut off "
                "from the network, so profiles that need that refuse to run them",
            )
        )
    with tempfile.TemporaryDirectory(prefix="tau-sandbox-probe-") as folder:
        spec = SandboxSpec(Path(folder), network=not probe.network_isolation, proc=probe.proc)
        code, err = _run(bwrap_argv(spec, "echo ok > probe && cat probe", bwrap=found), timeout_s)
        probe.checks.append(
            ProbeCheck(
                "sandboxed command",
                code == 0,
                "bash ran and wrote in the workspace" if code == 0 else err or f"exit {code}",
                None if code == 0 else _userns_remedy(err),
            )
        )
    return probe
