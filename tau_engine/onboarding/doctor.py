"""``tau doctor``: one line per check of a setup, with what to do when it fails.

The checks, in order: the settings files (user ``config.toml``, the profile in
use, the workspace ``.tau/config.toml``), the credentials (the key file's
permissions, and a key for the chosen model), the model itself (the probe of
``probe.py``), the sandbox (the safety layer's probe of ``bwrap``, weighed by the
safety profile), git, and the
workspace's ``.tau/`` (writable, and its store passing ``PRAGMA quick_check``).

Nothing here changes the setup: the ``.tau/`` check writes and removes one
empty file. Nothing runs git inside the workspace (its ``.git/config`` is
untrusted input).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tau_engine.config import Settings, load_settings
from tau_engine.config.credentials import CredentialsFile
from tau_engine.config.profiles import DEFAULT_SAFETY
from tau_engine.errors import TauError
from tau_engine.onboarding.probe import probe_model
from tau_engine.paths import WorkspacePaths, user_config_dir
from tau_engine.providers.key_sources import mask_key, provider_environ
from tau_engine.providers.registry import ResolvedModel, resolve_model
from tau_engine.providers.specs import OFFLINE_MODEL_ID

Status = Literal["ok", "warn", "fail", "skip"]
SANDBOX_TIMEOUT_S = 10.0
# The safety profiles whose sandbox policy is "required" (the others use it when they can).
SANDBOX_REQUIRED = frozenset({"strict", "hardened"})
BWRAP_INSTALL = (
    "install bubblewrap (apt-get install bubblewrap, dnf install bubblewrap, pacman -S bubblewrap)"
)
# The sandbox section in detail: every probe with its own remedy.
SANDBOX_DETAILS = "tau doctor sandbox shows every probe"
STORE_REMEDY = (
    "back up .tau/tau.db* (cp), then move them out of .tau/: tau starts a fresh "
    "store (the sessions in the damaged one are not carried over)"
)


@dataclass(frozen=True)
class Check:
    """One check's outcome: one line, and what to do when it is not ok."""

    name: str
    status: Status
    message: str
    remedy: str = ""

    def line(self) -> str:
        text = f"{self.status:<4} {self.name:<11} {self.message}"
        return (
            f"{text}; fix: {self.remedy}"
            if self.remedy and self.status in ("warn", "fail")
            else text
        )


def _config_check(
    paths: WorkspacePaths, cli: dict[str, Any] | None, environ: Mapping[str, str], trusted: bool
) -> tuple[Check, Settings | None]:
    try:
        settings = load_settings(paths, cli, dict(environ), trusted=trusted)
    except TauError as exc:
        return Check("config", "fail", str(exc), "correct the file and key named"), None
    read = [
        name
        for name, path in (
            ("config.toml", user_config_dir() / "config.toml"),
            (".tau/config.toml", paths.config_path),
        )
        if path.is_file()
    ]
    if settings.profile:
        read.insert(1, f"profile '{settings.profile}'")
    what = ", ".join(read) if read else "no settings files (defaults)"
    return Check("config", "ok", f"{what}: valid"), settings


def _credentials_check(
    settings: Settings, paths: WorkspacePaths, environ: Mapping[str, str]
) -> tuple[Check, ResolvedModel | None]:
    try:
        loose = CredentialsFile().mode_problems()
        env = provider_environ(settings, environ, paths.root, trusted=settings.workspace_trusted)
        resolved = resolve_model(settings.model, settings, env, paths.root)
    except TauError as exc:
        return Check(
            "credentials", "fail", str(exc), "run tau onboard, or set the variable named"
        ), None
    if loose:
        return Check(
            "credentials", "fail", loose[0].split(": run ")[0], loose[0].split(": run ")[-1]
        ), resolved
    if resolved.provider == "offline":
        if settings.model:
            return Check("credentials", "ok", f"{resolved.model_id} needs no key"), resolved
        return Check(
            "credentials",
            "warn",
            f"no model and no key: tau would use {OFFLINE_MODEL_ID}",
            "run tau onboard",
        ), resolved
    if resolved.api_key is None:
        return Check(
            "credentials", "ok", f"{resolved.model_id} needs no key at {resolved.base_url}"
        ), resolved
    return Check(
        "credentials",
        "ok",
        f"{resolved.provider} key from {resolved.key_env} ({mask_key(resolved.api_key)})",
    ), resolved


async def _model_check(resolved: ResolvedModel, settings: Settings, *, tool_call: bool) -> Check:
    result = await probe_model(resolved, settings, tool_call=tool_call)
    worst = next((s for s in result.steps if s.status == "fail"), None) or next(
        (s for s in result.steps if s.status == "warn"), None
    )
    summary = "; ".join(f"{s.name}: {s.message}" for s in result.steps if s.status != "skip")
    if worst is not None and worst.kind == "network":
        # The wizard moves on when it cannot check; a doctor must say it could not.
        return Check(
            "model",
            "fail",
            f"{resolved.model_id}: {worst.name}: {worst.message}",
            "check the network, proxy settings (HTTPS_PROXY) and the base URL",
        )
    if worst is not None:
        return Check(
            "model",
            worst.status,
            f"{resolved.model_id}: {worst.name}: {worst.message}",
            worst.remedy,
        )
    if not result.checked:
        return Check("model", "ok", result.steps[0].message if result.steps else "nothing to check")
    return Check("model", "ok", f"{resolved.model_id}: {summary}")


def _safety_name(settings: Settings) -> str:
    """The safety profile a run would use: a flag, ``TAU_SAFETY``, the workspace file, the
    profile in use or the user's ``config.toml`` (settings merge them), else the default."""
    return settings.safety or DEFAULT_SAFETY


def _sandbox_required(safety: str) -> bool:
    """Whether the safety profile's sandbox policy is ``required`` (else best effort)."""
    from tau_engine.safety.profiles import load_profile

    try:
        return load_profile(safety).document.sandbox.policy == "required"
    except TauError:
        return safety in SANDBOX_REQUIRED


def sandbox_check(safety: str, bwrap: str | None = None) -> Check:
    """The safety layer's probe of bubblewrap, weighed by the safety profile: a sandbox
    that cannot start fails a profile that requires it and warns otherwise (blocking)."""
    from tau_engine.safety.sandbox import probe_sandbox

    required = _sandbox_required(safety)
    status: Status = "fail" if required else "warn"
    need = f"safety profile '{safety}' {'requires' if required else 'uses'} it"
    probe = probe_sandbox(bwrap, timeout_s=SANDBOX_TIMEOUT_S)
    if not probe.usable:
        failed = next((c for c in probe.checks if not c.ok), None)
        detail = f"{failed.name}: {failed.detail}" if failed else "bwrap cannot start"
        return Check(
            "sandbox",
            status,
            f"the sandbox cannot start ({detail}; {need})",
            (failed.remedy if failed and failed.remedy else BWRAP_INSTALL) + f"; {SANDBOX_DETAILS}",
        )
    limits = [c.name for c in probe.checks if not c.ok]
    if limits:
        return Check(
            "sandbox",
            "warn",
            f"bwrap starts a sandbox ({probe.bwrap}) without: {', '.join(limits)}",
            f"{probe.diagnostic()}; {SANDBOX_DETAILS}",
        )
    return Check("sandbox", "ok", f"bwrap starts a sandbox ({probe.bwrap})")


def git_check(root: Path) -> Check:
    """git installed, and whether the workspace is a repository (blocking)."""
    program = shutil.which("git")
    if program is None:
        return Check("git", "fail", "git not found", "install git")
    try:
        version = subprocess.run(
            [program, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd="/",
            stdin=subprocess.DEVNULL,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("git", "fail", f"git does not run: {exc}", "reinstall git")
    if not (root / ".git").exists():
        return Check(
            "git",
            "warn",
            f"{version}; {root} is not a git repository (missions need one)",
            f"git init {root}",
        )
    return Check("git", "ok", f"{version}; {root} is a git repository")


def workspace_check(paths: WorkspacePaths) -> Check:
    """``.tau/`` exists and a file can be created in it (blocking)."""
    state = paths.state_dir
    if not state.is_dir():
        return Check(
            "workspace",
            "fail",
            f"no .tau/ in {paths.root}",
            "run tau onboard (or any tau run) to create it",
        )
    probe = state / f".doctor-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return Check(
            "workspace",
            "fail",
            f"{state} is not writable: {exc.strerror or exc}",
            f"give yourself write access: chmod u+rwx {state}",
        )
    return Check("workspace", "ok", f"{state} is writable")


def store_check(paths: WorkspacePaths) -> Check:
    """``PRAGMA quick_check`` of ``.tau/tau.db`` (blocking)."""
    db = paths.db_path
    if not db.is_file():
        return Check("store", "ok", "no store yet (the first run creates it)")
    try:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
        try:
            rows = [str(row[0]) for row in connection.execute("PRAGMA quick_check")]
        finally:
            connection.close()
    except sqlite3.Error as exc:
        return Check("store", "fail", f"{db} cannot be read: {exc}", STORE_REMEDY)
    if rows != ["ok"]:
        return Check(
            "store",
            "fail",
            f"{db}: quick_check found {len(rows)} problem(s): {rows[0][:200]}",
            STORE_REMEDY,
        )
    return Check("store", "ok", f"{db}: quick_check ok")


async def run_doctor(
    paths: WorkspacePaths,
    cli: dict[str, Any] | None = None,
    *,
    probe: bool = True,
    tool_call: bool = True,
    trusted: bool = False,
    environ: Mapping[str, str] | None = None,
) -> list[Check]:
    """Every check, in order. Checks that depend on a failed one are skipped."""
    env = os.environ if environ is None else environ
    checks: list[Check] = []
    config, settings = await asyncio.to_thread(_config_check, paths, cli, env, trusted)
    checks.append(config)
    resolved: ResolvedModel | None = None
    if settings is None:
        checks.append(Check("credentials", "skip", "skipped: the settings do not load"))
    else:
        credentials, resolved = await asyncio.to_thread(_credentials_check, settings, paths, env)
        checks.append(credentials)
    if settings is None or resolved is None:
        checks.append(Check("model", "skip", "skipped: no model to check"))
    elif not probe:
        checks.append(Check("model", "skip", f"{resolved.model_id}: not probed (--no-probe)"))
    else:
        checks.append(await _model_check(resolved, settings, tool_call=tool_call))
    safety = _safety_name(settings) if settings is not None else DEFAULT_SAFETY
    checks.append(await asyncio.to_thread(sandbox_check, safety))
    checks.append(await asyncio.to_thread(git_check, paths.root))
    checks.append(await asyncio.to_thread(workspace_check, paths))
    checks.append(await asyncio.to_thread(store_check, paths))
    return checks
