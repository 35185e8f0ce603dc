"""The safety layer of one workspace: everything the tool pipeline's checks and filters share.

:meth:`SafetyLayer.open` reads the active profile (the ``safety`` setting, default
``balanced``), the saved permission rules (the user's, and the workspace's, whose allow rules
count only when the workspace is trusted), and builds the permission policy, the bash sandbox,
the redaction funnel, the injection scanner, the call-rate limit and the audit log. The engine
holds one for its life; a new session clears what was allowed for the session and the raised
risk. :meth:`SafetyLayer.state` is the read-only view front ends show (the status bar,
``tau status``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tau_engine.errors import StoreError
from tau_engine.paths import WorkspacePaths, user_config_dir
from tau_engine.safety.audit import AuditEvent, AuditLog, redaction_event
from tau_engine.safety.injection import InjectionScanner
from tau_engine.safety.permission_store import load_rules, user_rules_path, workspace_rules_path
from tau_engine.safety.permissions import PermissionPolicy
from tau_engine.safety.policy import ApprovalMode
from tau_engine.safety.profiles import DEFAULT_PROFILE, Profile, load_profile
from tau_engine.safety.ratelimit import CallRateLimiter
from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.redaction import RedactionFilter
from tau_engine.safety.risk import RiskState
from tau_engine.safety.sandbox import SandboxProbe
from tau_engine.safety.secret_rules import Finding
from tau_engine.safety.shell_sandbox import SandboxStatus, ShellSandbox, cached_probe
from tau_engine.safety.toml_lines import display_path

if TYPE_CHECKING:
    from tau_engine.config import Settings

SAFETY_ENV = "TAU_SAFETY"


@dataclass(frozen=True)
class SafetyState:
    """What a front end shows about safety: profile, sandbox, raised risk."""

    profile: str
    profile_source: str
    mode: str
    sandbox: str  # "bwrap (network off)", or "not probed yet" before the first bash call
    redaction: str  # redact | block | warn
    raised_risk: bool = False
    risk: str = ""  # what raised it


def choice_source(
    value: str | None,
    *,
    environ: Mapping[str, str],
    workspace_config: Path,
    user_config: Path,
    workspace_kept: bool,
    profile_file: Path | None = None,
) -> str:
    """Where the active safety profile was chosen: a flag, the environment, a file and line
    (the workspace's, the profile in use (``profile_file``), the user's), or the default.
    The highest layer holding the active value is named."""
    from tau_engine.config import read_toml
    from tau_engine.safety.toml_lines import index_lines

    if value is None:
        return "default"
    if environ.get(SAFETY_ENV) == value:
        return SAFETY_ENV
    files = [(workspace_config, workspace_kept), (user_config, True)]
    if profile_file is not None:
        files.insert(1, (profile_file, True))
    for path, used in files:
        try:
            if used and read_toml(path).get("safety") == value:
                line = index_lines(path.read_text(encoding="utf-8")).key_line("safety")
                return f"{display_path(path)}:{line}" if line else display_path(path)
        except (OSError, ValueError):
            continue
    return "--safety"


def _profile_file(settings: Settings) -> Path | None:
    """The file of the profile in use (``tau onboard``'s profiles), if any."""
    if not settings.profile:
        return None
    from tau_engine.config.profiles import ProfileStore
    from tau_engine.errors import UsageError

    try:
        return ProfileStore().path(settings.profile)
    except UsageError:
        return None


@dataclass
class AuditContext:
    """Who the next audit events belong to: the session and the run (one prompt)."""

    session: str | None = None
    run: str | None = None
    runs: int = 0


@dataclass
class SafetyLayer:
    """The safety state of one engine (see the module docstring)."""

    profile: Profile
    profile_source: str
    policy: PermissionPolicy
    sandbox: ShellSandbox
    redaction: RedactionFilter
    audit: AuditLog | None
    rate: CallRateLimiter
    workspace_trusted: bool = False
    risk: RiskState = field(default_factory=RiskState)
    context: AuditContext = field(default_factory=AuditContext)
    # Called with a one-line warning when the audit log cannot be written (once).
    on_warning: Callable[[str], None] | None = None
    # Called when an injection flag raises the risk (learned memory stops trusting writes).
    injection_listeners: list[Callable[[], None]] = field(default_factory=list)
    _injection: InjectionScanner | None = None
    _pending: list[AuditEvent] = field(default_factory=list)
    _audit_failed: bool = False
    _risk_session: str | None = None  # the session whose history the risk was read from

    @classmethod
    def open(
        cls,
        root: Path,
        *,
        mode: ApprovalMode,
        safety: str | None = None,
        profile_source: str = "default",
        workspace_trusted: bool = False,
        protected_paths: Iterable[str] = (),
        secrets: Iterable[tuple[str, str]] = (),
        state_dir: Path | None = None,
        probe: Callable[[], SandboxProbe] = cached_probe,
    ) -> SafetyLayer:
        """The layer for a workspace: profile, rules, policy, sandbox, funnel and audit log.

        ``secrets`` are the exact values to redact (the user's keys); ``state_dir`` is the
        workspace's ``.tau`` (None: no audit log, as in a dry run)."""
        profile = load_profile(safety or DEFAULT_PROFILE)
        user_rules, workspace_rules = load_rules(root, workspace_trusted=workspace_trusted)
        extra = list(dict.fromkeys(protected_paths))
        policy = PermissionPolicy(
            profile,
            mode,
            root,
            user_rules=user_rules,
            workspace_rules=workspace_rules,
            extra_protected=extra,
            sandbox="not probed yet",
        )
        config = user_config_dir()
        sandbox = ShellSandbox(
            profile,
            root,
            extra_protected=extra,
            extra_hidden=[config] if config.is_dir() else [],
            probe=probe,
        )
        layer = cls(
            profile=profile,
            profile_source=profile_source,
            policy=policy,
            sandbox=sandbox,
            redaction=RedactionFilter(
                SecretRedactor(list(secrets)), action=profile.document.redaction.action
            ),
            audit=AuditLog.for_workspace(state_dir) if state_dir else None,
            rate=CallRateLimiter(profile.document.limits.tool_calls_per_minute),
            workspace_trusted=workspace_trusted,
        )
        layer.redaction.on_findings = layer._audit_findings
        return layer

    @classmethod
    def for_settings(
        cls,
        paths: WorkspacePaths,
        settings: Settings,
        *,
        mode: ApprovalMode,
        environ: Mapping[str, str],
        secrets: Iterable[tuple[str, str]] = (),
        audit: bool = True,
        probe: Callable[[], SandboxProbe] = cached_probe,
    ) -> SafetyLayer:
        """The layer a run's settings describe (``audit=False``: a dry run, no audit log)."""
        source = choice_source(
            settings.safety,
            environ=environ,
            workspace_config=paths.config_path,
            user_config=user_config_dir() / "config.toml",
            workspace_kept=not any(w.key == "safety" for w in settings.withheld),
            profile_file=_profile_file(settings),
        )
        return cls.open(
            paths.root,
            mode=mode,
            safety=settings.safety,
            profile_source=source,
            workspace_trusted=settings.workspace_trusted,
            protected_paths=settings.protected_paths,
            secrets=secrets,
            state_dir=paths.state_dir if audit else None,
            probe=probe,
        )

    # -- what the pipeline's checks and filters use ----------------------------------------
    @property
    def injection(self) -> InjectionScanner:
        """The profile's injection scanner (compiled on first use)."""
        if self._injection is None:
            self._injection = InjectionScanner.for_profile(self.profile.document.injection)
        return self._injection

    def warm(self) -> None:
        """Compile the secret and injection rule sets now (tens of milliseconds, blocking)
        rather than at the first tool result."""
        self.redaction.scanner.may_find("")
        self.injection.scan("")

    async def sandbox_status(self) -> SandboxStatus:
        """Probe the sandbox (once) and let traces show what it does."""
        status = await self.sandbox.status()
        self.policy.sandbox = status.label()
        self.policy.sandboxed = status.active
        return status

    def record(self, *events: AuditEvent) -> None:
        """Keep events for the audit log; they are written, in order, at the next flush (after
        each tool call, at the end of each run, at close), off the event loop."""
        if self.audit is None or not events:
            return
        self._pending += [
            event
            if event.session or event.run
            else AuditEvent(
                **{**event.__dict__, "session": self.context.session, "run": self.context.run}
            )
            for event in events
        ]

    def flush_audit(self) -> str | None:
        """Write what was recorded (blocking: :meth:`aflush_audit` does it off the event
        loop). Returns why it failed, if it did; those events are lost, later ones are not."""
        pending, self._pending = self._pending, []
        if not pending or self.audit is None:
            return None
        try:
            self.audit.record_many(pending)
        except StoreError as exc:
            return str(exc)
        return None

    async def aflush_audit(self) -> None:
        """:meth:`flush_audit` in a thread, when there is anything to write; a failure is
        said once (``on_warning``) and never stops a call."""
        if not self._pending:
            return
        failure = await asyncio.to_thread(self.flush_audit)
        if failure and not self._audit_failed:
            self._audit_failed = True
            if self.on_warning is not None:
                self.on_warning(f"the audit log is not being written: {failure}")

    def _audit_findings(self, findings: list[Finding], where: str) -> None:
        self.record(
            *(
                redaction_event(
                    finding,
                    action=self.redaction.action,
                    tool=where,
                    session=self.context.session,
                    run=self.context.run,
                )
                for finding in findings
            )
        )

    # -- the session ----------------------------------------------------------------------
    def begin_run(self, session_id: str) -> None:
        """Audit events from now on belong to this session and a new run (one prompt)."""
        self.context.runs += 1
        self.context.session = session_id
        self.context.run = f"{session_id[:8]}-{self.context.runs}"

    def new_session(self) -> None:
        """What was allowed for the session, and the raised risk, end with it."""
        self.policy.forget_session()
        self.risk.clear()
        self._risk_session = None

    def restore_risk(self, session_id: str, history: Iterable[Any]) -> None:
        """A flagged tool result in a resumed session's history raises the risk again (read
        once per session: a later undo or model switch does not undo the user's clearing)."""
        if self._risk_session == session_id:
            return
        self._risk_session = session_id
        self.risk.restore({**m.meta, "tool": m.name or ""} for m in history if m.role == "tool")

    def clear_risk(self) -> int:
        """The user's ``/clear-risk``: side effects follow the rules again (audited)."""
        cleared = self.risk.clear()
        if cleared:
            self.record(
                AuditEvent(
                    kind="injection", rule="cleared by the user", detail={"cleared": cleared}
                )
            )
        return cleared

    def reload_rules(self) -> None:
        """Re-read the saved rules (after ``always allow`` saved one)."""
        user, workspace = load_rules(
            self.policy.workspace_root, workspace_trusted=self.workspace_trusted
        )
        self.policy.user_rules[:] = user
        self.policy.workspace_rules[:] = workspace
        self.policy.rules_changed()

    def state(self) -> SafetyState:
        return SafetyState(
            profile=self.profile.name,
            profile_source=self.profile_source,
            mode=self.policy.mode.value,
            sandbox=self.policy.sandbox,
            redaction=self.redaction.action,
            raised_risk=self.risk.raised,
            risk=self.risk.summary(),
        )

    def rule_files(self) -> dict[str, Path]:
        """Where saved rules live: the user's file and the workspace's."""
        return {
            "user": user_rules_path(),
            "workspace": workspace_rules_path(self.policy.workspace_root),
        }

    def describe(self) -> dict[str, Any]:
        """The profile choice and files, for ``tau policy show``."""
        return {
            "profile": self.profile.name,
            "source": self.profile_source,
            "builtin": self.profile.builtin,
            "rule_files": {k: os.fspath(v) for k, v in self.rule_files().items()},
        }
