"""The bash sandbox, run for real with bubblewrap.

CI installs bubblewrap, so there these tests must run: they skip only outside CI on a machine
without bwrap."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.safety.profiles import load_profile
from tau_engine.safety.sandbox import SandboxSpec, bwrap_argv, probe_sandbox, spec_for_profile

BWRAP = shutil.which("bwrap")
needs_bwrap = pytest.mark.skipif(
    BWRAP is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (CI installs it)",
)


def _run(spec: SandboxSpec, command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        bwrap_argv(spec, command), capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".tau" / "identity").mkdir(parents=True)
    (root / ".tau" / "identity" / "SOUL.md").write_text("me\n")
    return root


@pytest.fixture
def outside() -> Iterator[Path]:
    # Not under /tmp: the sandbox's /tmp is private, so a folder there would just be missing.
    folder = Path(tempfile.mkdtemp(prefix="tau-sandbox-outside-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_bwrap
def test_workspace_is_writable_and_everything_else_is_not(repo: Path, outside: Path) -> None:
    done = _run(
        SandboxSpec(repo),
        f"echo hi > made.txt && cat made.txt; touch {outside}/x; touch /etc/tau-sandbox-probe",
    )
    assert done.stdout.strip() == "hi"
    assert (repo / "made.txt").read_text() == "hi\n"
    assert not (outside / "x").exists()
    assert not Path("/etc/tau-sandbox-probe").exists()
    assert done.stderr.count("Read-only file system") == 2


@needs_bwrap
def test_git_and_identity_files_are_read_only(repo: Path) -> None:
    spec = SandboxSpec(repo, read_only=[repo / ".git", repo / ".tau" / "identity"])
    done = _run(
        spec,
        "touch .git/hooks-evil; echo x >> .git/config; "
        "echo x > .tau/identity/SOUL.md; echo ok > fine.txt",
    )
    assert done.stderr.count("Read-only file system") == 3, done.stderr
    assert (repo / ".git" / "config").read_text() == "[core]\n"
    assert (repo / ".tau" / "identity" / "SOUL.md").read_text() == "me\n"
    assert not (repo / ".git" / "hooks-evil").exists()
    assert (repo / "fine.txt").exists()


@pytest.fixture
def listener() -> Iterator[int]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(10)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                conn.close()
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield port
    stop.set()
    server.close()


@needs_bwrap
def test_network_is_cut_unless_allowed(repo: Path, listener: int) -> None:
    probe = f"exec 3<>/dev/tcp/127.0.0.1/{listener} && echo connected"
    cut = _run(SandboxSpec(repo, network=False), probe)
    assert "connected" not in cut.stdout and cut.returncode != 0
    allowed = _run(SandboxSpec(repo, network=True), probe)
    assert allowed.stdout.strip() == "connected", allowed.stderr


@needs_bwrap
def test_private_tmp_own_pid_namespace_and_hidden_folders(repo: Path, outside: Path) -> None:
    secrets = outside / "home-ssh"  # not under /tmp, which is private anyway
    secrets.mkdir()
    (secrets / "id_rsa").write_text("PRIVATE")
    key_file = outside / "netrc"
    key_file.write_text("machine x password SECRET")
    marker = f"tau-sandbox-{os.getpid()}"
    command = (
        f"echo x > /tmp/{marker}; ls /proc | grep -c '^[0-9]'; "
        f"cat {secrets}/id_rsa {key_file}; echo done"
    )
    shown = _run(SandboxSpec(repo), command)
    assert "PRIVATE" in shown.stdout and "SECRET" in shown.stdout  # readable unless hidden
    done = _run(SandboxSpec(repo, hide=[secrets, key_file]), command)
    lines = done.stdout.split()
    assert not Path(f"/tmp/{marker}").exists()
    assert int(lines[0]) < 10  # only the sandbox's own processes are visible
    assert lines[-1] == "done"
    assert "PRIVATE" not in done.stdout and "SECRET" not in done.stdout


def test_argv_shape(repo: Path) -> None:
    argv = bwrap_argv(SandboxSpec(repo, read_only=[repo / ".git", repo / "missing"]), "ls")
    for flag in ("--die-with-parent", "--unshare-pid", "--new-session", "--unshare-net"):
        assert flag in argv
    assert argv[-4:] == ["--", "bash", "-c", "ls"]
    assert argv.index("--ro-bind") < argv.index("--bind")  # the root first, then the workspace
    assert str(repo / "missing") not in argv  # no mount point is created on the host
    assert argv[argv.index("--chdir") + 1] == str(repo.resolve())
    assert "--unshare-net" not in bwrap_argv(SandboxSpec(repo, network=True), "ls")
    assert "--proc" not in bwrap_argv(SandboxSpec(repo, proc="bind"), "ls")


@needs_bwrap
def test_probe_on_this_machine() -> None:
    probe = probe_sandbox()
    assert probe.usable, probe.diagnostic()
    assert [c.name for c in probe.checks] == [
        "bubblewrap",
        "user namespaces",
        "/proc",
        "loopback",
        "sandboxed command",
    ]


def test_probe_without_bwrap_names_the_package(tmp_path: Path) -> None:
    probe = probe_sandbox(str(tmp_path / "no-such-bwrap"))
    assert not probe.usable
    assert "apt-get install bubblewrap" in probe.diagnostic()


def test_probe_names_a_specific_remedy_for_blocked_namespaces(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(
        "#!/bin/sh\necho 'bwrap: No permissions to creating new namespace, "
        "likely because the kernel does not allow non-privileged user namespaces'"
        " >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    probe = probe_sandbox(str(fake))
    assert not probe.usable
    failing = next(c for c in probe.checks if not c.ok)
    assert failing.name == "user namespaces"
    assert failing.remedy and ("sysctl" in failing.remedy or "chmod u+s" in failing.remedy)
    assert probe.diagnostic().startswith("user namespaces: bwrap: No permissions")


def test_probe_falls_back_to_binding_proc(tmp_path: Path) -> None:
    fake = tmp_path / "bwrap"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do [ "$a" = --proc ] && '
        "{ echo \"bwrap: Can't mount proc on /newroot/proc: Operation not "
        'permitted" >&2; exit 1; }; done\nexit 0\n'
    )
    fake.chmod(0o755)
    probe = probe_sandbox(str(fake))
    assert probe.proc == "bind" and probe.usable
    proc = next(c for c in probe.checks if c.name == "/proc")
    assert not proc.ok and proc.remedy and "systempaths=unconfined" in proc.remedy


@needs_bwrap
def test_profile_sandbox_keeps_tau_state_read_only(repo: Path, tmp_path: Path) -> None:
    # A command that could write .tau/permissions.toml could grant itself permissions.
    spec = spec_for_profile(load_profile("balanced", user_dir=tmp_path / "none"), repo)
    assert spec.network is False
    done = _run(
        spec, "echo '[[rule]]' > .tau/permissions.toml; echo x > .git/config; echo ok > src.txt"
    )
    assert not (repo / ".tau" / "permissions.toml").exists()
    assert (repo / ".git" / "config").read_text() == "[core]\n"
    assert (repo / "src.txt").read_text() == "ok\n"
    assert done.stderr.count("Read-only file system") == 2


def test_profile_sandbox_spec(repo: Path, tmp_path: Path) -> None:
    permissive = spec_for_profile(
        load_profile("permissive", user_dir=tmp_path / "none"),
        repo,
        extra_protected=["secrets"],
        extra_hidden=[tmp_path],
    )
    assert permissive.network is True
    assert repo.resolve() / ".tau" in permissive.read_only
    assert repo.resolve() / "secrets" in permissive.read_only
    assert Path("/tmp") in permissive.write_roots and tmp_path in permissive.hide


@needs_bwrap
def test_no_capabilities_inside_so_root_cannot_remount_git_writable(repo: Path) -> None:
    # Run as root (CI, containers), bwrap keeps every capability unless told otherwise, and
    # a remount makes the read-only .git writable again.
    spec = SandboxSpec(repo, read_only=[repo / ".git"])
    done = _run(
        spec,
        "mount -o remount,rw,bind .git; echo hacked > .git/config; grep CapEff /proc/self/status",
    )
    assert (repo / ".git" / "config").read_text() == "[core]\n"
    assert done.stdout.split()[-1] == "0000000000000000"
