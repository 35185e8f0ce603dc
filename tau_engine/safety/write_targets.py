"""Files a bash command writes: redirections and the operands of rm, cp, tee… judged as paths.

A write to a protected path (``.git``, tau's state, the profile's and the caller's list) is
refused, as is a recursive one (``rm -rf .``) that contains a protected path; a write outside
the profile's write roots gets ``shell.outside_write_roots``. Relative targets are judged from
the workspace and from every folder the command ``cd``s to. A redirection whose target is only
known at run time fails closed; a glob operand is judged by what it can expand to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path

from tau_engine.safety.profiles import Profile
from tau_engine.safety.shell_commands import ShellAnalysis
from tau_engine.safety.toml_lines import Source
from tau_engine.safety.verdicts import Cause, PartDecision, Verdict, strictest_cause

_DEVICES = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "/dev/zero"})


class WriteTargets:
    """Judges the files a command writes against a profile's paths for one workspace."""

    def __init__(
        self, profile: Profile, workspace_root: Path, extra_protected: Sequence[str] = ()
    ) -> None:
        self.profile = profile
        self.workspace_root = workspace_root.resolve()
        self.extra_protected = extra_protected
        self._cache: list[tuple[str, Source | None, str]] | None = None
        self._roots: list[tuple[str, str]] | None = None

    def refresh(self) -> None:
        """Forget resolved paths (the file system may have changed since the last call)."""
        self._cache = self._roots = None

    def _resolved_protected(self) -> list[tuple[str, Source | None, str]]:
        # Resolved once per judged command (links resolved: a protected path can be a link).
        if self._cache is None:
            self._cache = [(p, s, self.resolve(p)) for p, s in self.protected()]
        return self._cache

    def _resolved_roots(self) -> list[tuple[str, str]]:
        if self._roots is None:
            self._roots = [(r, self.resolve(r)) for r in self.profile.document.files.write_roots]
        return self._roots

    def protected(self) -> list[tuple[str, Source | None]]:
        """Every protected path (as written) with the place it was set."""
        doc = self.profile.document
        out: list[tuple[str, Source | None]] = [
            (p, self.profile.source_of("files.protected", p)) for p in doc.files.protected
        ]
        out += [(p, None) for p in self.extra_protected]
        return out

    def resolve(self, raw: str, base: Path | None = None) -> str:
        """``raw`` made absolute against ``base`` (the workspace), ``~`` and links resolved."""
        path = os.path.expanduser(raw)
        joined = path if os.path.isabs(path) else os.path.join(base or self.workspace_root, path)
        return os.path.realpath(joined)

    def judge_path(
        self, absolute: str, shown: str, *, recursive: bool = False
    ) -> tuple[Verdict, Cause]:
        """A write to ``absolute``; ``recursive`` also covers what is inside it (rm -r, mv)."""
        doc = self.profile.document
        if absolute in _DEVICES or absolute.startswith("/dev/fd/"):
            return "allow", Cause("device", None, f"{shown} is a device")
        for pattern, source, target in self._resolved_protected():
            if absolute == target or absolute.startswith(target.rstrip("/") + "/"):
                return "deny", Cause(
                    f"files.protected {pattern}", source, f"{shown} is a protected path"
                )
            if recursive and target.startswith(absolute.rstrip("/") + "/"):
                return "deny", Cause(
                    f"files.protected {pattern}",
                    source,
                    f"{shown} contains the protected path {pattern}",
                )
        for root, base in self._resolved_roots():
            if absolute == base or absolute.startswith(base.rstrip("/") + "/"):
                return "allow", Cause(
                    f"files.write_roots {root}",
                    self.profile.source_of("files.write_roots", root),
                    f"{shown} is inside a write root",
                )
        verdict = doc.shell.outside_write_roots
        return verdict, Cause(
            f'shell.outside_write_roots = "{verdict}"',
            self.profile.source_of("shell.outside_write_roots"),
            f"{shown} is outside the write roots",
        )

    def judge_glob(self, raw: str, base: Path) -> tuple[Verdict, Cause]:
        """A command operand such as ``build/*.o``: what it can expand to, recursively."""
        folder, pattern = os.path.split(raw)
        if re.search(r"[*?\[]", folder):
            # Wildcards in folder names: judge the folder before the first one, recursively.
            top = os.path.dirname(re.split(r"[*?\[]", raw, maxsplit=1)[0]) or "."
            return self.judge_path(self.resolve(top, base), raw, recursive=True)
        directory = self.resolve(folder or ".", base)
        verdict, cause = self.judge_path(os.path.join(directory, "x"), raw)
        for protected, source, target in self._resolved_protected():
            if not target.startswith(directory.rstrip("/") + "/"):
                continue
            first = os.path.relpath(target, directory).split("/", 1)[0]
            hidden = first.startswith(".") and not pattern.startswith(".")
            if not hidden and fnmatchcase(first, pattern):
                return "deny", Cause(
                    f"files.protected {protected}",
                    source,
                    f"{raw} can expand to the protected path {protected}",
                )
        return verdict, cause

    def judge(self, analysis: ShellAnalysis) -> list[PartDecision]:
        """One part per file the command writes."""
        self.refresh()
        parts: list[PartDecision] = []
        bases = [self.workspace_root]
        unknown_cwd = False
        for target in analysis.cwd_targets:
            if target.value is None or target.value == "-":
                unknown_cwd = True
            else:
                bases.append(Path(self.resolve(target.value, self.workspace_root)))
        for redirect in analysis.writes:
            operand = redirect.op == "arg"  # a file a command like rm, cp or tee writes
            shown = (
                f"writes {redirect.target.text}"
                if operand
                else f"{redirect.op} {redirect.target.text}"
            )
            raw = redirect.target.value
            if operand and raw is not None and redirect.target.glob:
                verdict, cause = strictest_cause(self.judge_glob(raw, base) for base in bases)
                parts.append(PartDecision(shown, "write", verdict, cause))
                continue
            if raw is None or redirect.target.glob:
                parts.append(
                    PartDecision(
                        shown,
                        "unresolved",
                        "ask",
                        Cause(
                            "fail closed",
                            None,
                            "the file this redirection writes is only known at run time",
                        ),
                    )
                )
                continue
            if unknown_cwd and not os.path.isabs(os.path.expanduser(raw)):
                parts.append(
                    PartDecision(
                        shown,
                        "unresolved",
                        "ask",
                        Cause(
                            "fail closed",
                            None,
                            "the folder this redirection writes in is only known at run time",
                        ),
                    )
                )
                continue
            verdict, cause = strictest_cause(
                self.judge_path(self.resolve(raw, base), raw, recursive=operand) for base in bases
            )
            parts.append(PartDecision(shown, "write", verdict, cause))
        return parts
