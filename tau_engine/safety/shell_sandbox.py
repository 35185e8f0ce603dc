"""Whether and how ``bash`` runs in bubblewrap for one workspace and profile.

:class:`ShellSandbox` probes the machine once (in a thread; the probe starts a few ``bwrap``
processes, so its result is kept for the life of the process), then answers two questions for
every command: may it run at all (a ``required`` sandbox that is unavailable refuses it), and
with which argv (``bwrap … bash -c COMMAND`` or plain ``bash -c COMMAND``).

The profile's ``sandbox.policy`` decides what happens when bubblewrap is missing or fails:
``best-effort`` runs the command unsandboxed and says so once in a notice; ``required`` refuses
it with ``refused (sandbox): <diagnostic>``. A profile that cuts the network on a machine that
cannot create a network namespace counts as unavailable for ``required`` and runs with the
network for ``best-effort``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tau_engine.safety.profiles import Profile
from tau_engine.safety.sandbox import SandboxProbe, bwrap_argv, probe_sandbox, spec_for_profile

_PROBES: dict[str | None, SandboxProbe] = {}
_PROBE_LOCK = threading.Lock()


def cached_probe(bwrap: str | None = None) -> SandboxProbe:
    """:func:`probe_sandbox`, run once per process (blocking: call it from a thread)."""
    with _PROBE_LOCK:
        probe = _PROBES.get(bwrap)
        if probe is None:
            probe = _PROBES[bwrap] = probe_sandbox(bwrap)
        return probe


@dataclass(frozen=True)
class SandboxStatus:
    """What the sandbox will do for bash calls in this session."""

    policy: str  # best-effort | required
    active: bool  # commands run inside bubblewrap
    network: bool  # commands can reach the network
    diagnostic: str = ""  # why it is not active (or what it lacks), with the remedy

    @property
    def refuses(self) -> bool:
        """A required sandbox that cannot run: every command is refused."""
        return self.policy == "required" and not self.active

    def label(self) -> str:
        """One line for traces and the status view: ``bwrap (network off)``."""
        if self.active:
            return f"bwrap (network {'on' if self.network else 'off'})"
        if self.refuses:
            return "required but unavailable"
        return "off (best-effort: bwrap unavailable)"

    def refusal(self) -> str:
        """The tool result of a command refused for want of the required sandbox."""
        return f"refused (sandbox): {self.diagnostic}"


class ShellSandbox:
    """The bash sandbox of one workspace under one profile."""

    def __init__(
        self,
        profile: Profile,
        workspace: Path,
        *,
        extra_protected: Sequence[str] = (),
        extra_hidden: Sequence[Path] = (),
        probe: Callable[[], SandboxProbe] = cached_probe,
    ) -> None:
        self.profile = profile
        self.workspace = workspace.resolve()
        self.extra_protected = tuple(extra_protected)
        # A hidden folder that holds the workspace would hide the workspace itself.
        self.extra_hidden = tuple(
            p
            for p in extra_hidden
            if p.resolve() != self.workspace and p.resolve() not in self.workspace.parents
        )
        self._probe_fn = probe
        self._probe: SandboxProbe | None = None
        self._lock = asyncio.Lock()

    @property
    def probed(self) -> SandboxProbe | None:
        return self._probe

    async def probe(self) -> SandboxProbe:
        """The machine's probe (run in a thread the first time)."""
        async with self._lock:
            if self._probe is None:
                self._probe = await asyncio.to_thread(self._probe_fn)
        return self._probe

    def status_of(self, probe: SandboxProbe) -> SandboxStatus:
        doc = self.profile.document.sandbox
        if not probe.usable:
            return SandboxStatus(doc.policy, False, True, probe.diagnostic())
        if not doc.network and not probe.network_isolation:
            check = next(c for c in probe.checks if c.name == "loopback")
            diagnostic = f"loopback: {check.detail}; {check.remedy}"
            if doc.policy == "required":
                return SandboxStatus(doc.policy, False, True, diagnostic)
            return SandboxStatus(doc.policy, True, True, diagnostic)
        return SandboxStatus(doc.policy, True, doc.network)

    async def status(self) -> SandboxStatus:
        return self.status_of(await self.probe())

    def argv(self, command: str, status: SandboxStatus) -> list[str]:
        """What runs ``command``: inside bubblewrap when the sandbox is active."""
        probe = self._probe
        if not status.active or probe is None or probe.bwrap is None:
            return ["bash", "-c", command]
        spec = spec_for_profile(
            self.profile,
            self.workspace,
            extra_protected=self.extra_protected,
            extra_hidden=self.extra_hidden,
            proc=probe.proc,
        )
        if status.network != spec.network:
            spec = replace(spec, network=status.network)
        return bwrap_argv(spec, command, bwrap=probe.bwrap)
