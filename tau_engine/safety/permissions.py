"""Permission decisions that explain themselves.

:class:`PermissionPolicy` decides one tool call: ``allow``, ``ask`` or ``deny``, with a trace of
everything that went into it (the rule that decided and its file and line, the profile, the
approval mode, the sandbox state, every parsed command part). It is a pure function of its
inputs, meant to be called by a pre-call check in the tool pipeline.

How a decision is made:

1. Each part is judged on its own: for ``bash`` every command after unwrapping, every
   redirection that writes a file and every construct tau cannot resolve; for other tools each
   subject (a path, a URL), or the call as a whole.
2. Rules come in layers: session, workspace (its allow rules only when the workspace is
   trusted, see ``permission_store``), user, profile. A deny rule holds in every layer unless
   a layer at least as high allows exactly the same rule text; for ask and allow rules the
   first layer with a match decides, and within it the strictest match. A deny that matches
   only because of a run-time value asks instead.
3. A part no rule matches gets the default: the strictest of the approval mode and the
   profile's ``tools`` (and, for bash, ``shell.default``).
4. What tau cannot resolve asks in every profile and mode (fail closed); rules cannot allow it.
   Protected paths are refused; writes outside the write roots get ``shell.outside_write_roots``.
5. The strictest part decides the call. ``read-only`` refuses every tool that is not a read.
   After a prompt-injection flag, anything with side effects asks.
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tau_engine.safety.policy import ApprovalMode, ToolKind, ToolPolicy
from tau_engine.safety.profiles import Approval, Profile
from tau_engine.safety.rules import (
    SHELL_TOOLS,
    Fit,
    Rule,
    describe_breadth,
    match_subject,
    rule_fits_words,
    shell_tokens,
    suggest_shell_pattern,
)
from tau_engine.safety.shell_commands import CommandPart, analyze_shell
from tau_engine.safety.shell_parse import Word
from tau_engine.safety.toml_lines import Source
from tau_engine.safety.verdicts import (
    RANK,
    Cause,
    PartDecision,
    Verdict,
    strictest,
    strictest_cause,
)
from tau_engine.safety.write_targets import WriteTargets

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

__all__ = [
    "Cause",
    "Decision",
    "PartDecision",
    "PermissionPolicy",
    "ToolCall",
    "Verdict",
    "strictest",
    "strictest_cause",
]


@dataclass(frozen=True)
class Decision:
    """A verdict on one tool call with its full trace."""

    tool: str
    verdict: Verdict
    cause: Cause
    parts: tuple[PartDecision, ...]
    profile: str
    mode: str
    sandbox: str
    raised_risk: bool = False
    suggestion: Rule | None = None

    @property
    def breadth(self) -> str | None:
        """What the suggested "always allow" rule would cover."""
        return describe_breadth(self.suggestion) if self.suggestion else None

    def why(self) -> str:
        """The approval prompt's "why" line: what asks and where that is written (a cause
        with no file, such as the approval mode, already names itself)."""
        if self.cause.source is None:
            return self.cause.why
        return f"{self.cause.why} ({self.cause.cite()})"

    def always_allow(self) -> str | None:
        """The rule "always allow" would save, with its breadth, or ``None`` if none can."""
        if self.suggestion is None:
            return None
        return f"always allow saves {self.suggestion.text}: {self.breadth}"

    def refusal(self) -> str:
        """The one line a refusal shows (and the only thing the model is told)."""
        text = f"refused ({self.cause.cite()}): {self.cause.why}"
        if self.cause.allow_rule:
            text += f"; allow with: tau permissions allow '{self.cause.allow_rule}'"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The trace as plain data (``tau permissions check --json``)."""

        def cause(c: Cause) -> dict[str, Any]:
            return {
                "rule": c.label,
                "source": str(c.source) if c.source else None,
                "why": c.why,
                "allow_rule": c.allow_rule,
            }

        return {
            "tool": self.tool,
            "verdict": self.verdict,
            "cause": cause(self.cause),
            "profile": self.profile,
            "mode": self.mode,
            "sandbox": self.sandbox,
            "raised_risk": self.raised_risk,
            "suggestion": self.suggestion.text if self.suggestion else None,
            "breadth": self.breadth,
            "parts": [
                {
                    "part": p.part,
                    "kind": p.kind,
                    "verdict": p.verdict,
                    "cause": cause(p.cause),
                    "argv": list(p.argv),
                    "wrappers": list(p.wrappers),
                }
                for p in self.parts
            ],
        }


@dataclass(frozen=True, slots=True)
class ToolCall:
    """What a decision needs to know about a call: the tool, its kind and its subjects.

    ``command`` is the bash command line; ``subjects`` are workspace-relative paths for file
    tools or the URL for http; ``method`` is the http method."""

    tool: str
    kind: ToolKind
    command: str | None = None
    subjects: tuple[str, ...] = ()
    method: str | None = None

    @property
    def side_effects(self) -> bool:
        if self.kind == "network":
            return (self.method or "GET").upper() not in _SAFE_METHODS
        return self.kind in ("edit", "exec")


@dataclass
class PermissionPolicy:
    """Decides tool calls from a profile, an approval mode and layers of saved rules."""

    profile: Profile
    mode: ApprovalMode
    workspace_root: Path
    user_rules: list[Rule] = field(default_factory=list)
    workspace_rules: list[Rule] = field(default_factory=list)
    session_rules: list[Rule] = field(default_factory=list)
    extra_protected: Sequence[str] = ()
    sandbox: str = "none"
    # Whether bash runs in the sandbox: files a command writes that are only known at run
    # time are contained by it; without it they ask.
    sandboxed: bool = False

    def __post_init__(self) -> None:
        self.workspace_root = self.workspace_root.resolve()
        doc = self.profile.document
        profile_rules: list[Rule] = []
        for action in ("deny", "ask", "allow"):
            for pattern in getattr(doc.shell, action):
                profile_rules.append(
                    Rule(
                        "bash", pattern, action, self.profile.source_of(f"shell.{action}", pattern)
                    )
                )
        self._layers = (self.session_rules, self.workspace_rules, self.user_rules, profile_rules)
        self.writes = WriteTargets(self.profile, self.workspace_root, self.extra_protected)
        self._indexes: dict[
            tuple[int, int, str], tuple[dict[str, list[tuple[int, Rule]]], list[tuple[int, Rule]]]
        ] = {}

    def allow_for_session(self, rule: Rule) -> None:
        """Remember an "allow for this session" answer as a session rule."""
        self.session_rules.append(rule)
        self.rules_changed()

    def forget_session(self) -> None:
        """Drop every session rule (a new session starts with none)."""
        self.session_rules.clear()
        self.rules_changed()

    def rules_changed(self) -> None:
        """Forget the rule index after a layer's rules were replaced in place."""
        self._indexes.clear()

    # -- defaults ---------------------------------------------------------------------

    def _default(self, call: ToolCall) -> tuple[Verdict, Cause]:
        doc = self.profile.document
        mode_verdict: Verdict = ToolPolicy(mode=self.mode).verdict(call.tool, call.kind)
        best: tuple[Verdict, Cause] = (
            mode_verdict,
            Cause(
                f"approval mode {self.mode.value}",
                None,
                f"approval mode '{self.mode.value}' gives {call.kind} tools like {call.tool} "
                f"'{mode_verdict}'",
            ),
        )
        settings: list[tuple[str, Approval]] = [
            (
                f"tools.{call.tool}"
                if call.tool in (doc.tools.model_extra or {})
                else "tools.default",
                doc.tools.approval(call.tool),
            )
        ]
        if call.tool in SHELL_TOOLS:
            settings.append(("shell.default", doc.shell.default))
        for key, approval in settings:
            if approval == "mode" or RANK[approval] <= RANK[best[0]]:
                continue
            best = (
                approval,
                Cause(
                    f'{key} = "{approval}"',
                    self.profile.source_of(key),
                    f"profile {self.profile.name} sets {key} to {approval}",
                    allow_rule=call.tool if approval == "deny" else None,
                ),
            )
        return best

    # -- rules ------------------------------------------------------------------------

    def _judge_part(
        self,
        tool: str,
        words: tuple[Word, ...] | None,
        subject: str | None,
        default: tuple[Verdict, Cause],
        *,
        open_args: bool = False,
    ) -> tuple[Verdict, Cause]:
        """Judge one command's words (or one subject) against the rule layers.

        Deny rules hold across layers, unless a rule of at least the same precedence allows
        exactly the same text (what ``tau permissions allow '<rule>'`` saves): allowing
        ``bash(rm *)`` does not unlock ``rm -rf /``. Ask and allow rules are first-match by
        layer, then strictest within the layer."""
        allowed_texts: set[str] = set()
        denial: tuple[Verdict, Cause] | None = None
        layers = [self._candidates(position, tool, words) for position in range(4)]
        for layer in layers:
            for rule in layer:
                if rule.action != "deny" or rule.text in allowed_texts:
                    continue
                fit = self._fit(rule, words, subject, open_args)
                if fit is Fit.NO:
                    continue
                verdict: Verdict = "deny" if fit is Fit.YES else "ask"
                why = (
                    f"{rule.scope} rule {rule.text} refuses this"
                    if fit is Fit.YES
                    else f"{rule.scope} rule {rule.text} refuses this if run-time values "
                    "turn out to match"
                )
                if denial is None or RANK[verdict] > RANK[denial[0]]:
                    denial = (verdict, Cause(rule.text, rule.source, why, rule.text))
            allowed_texts.update(r.text for r in layer if r.action == "allow")
        if denial is not None and denial[0] == "deny":
            return denial
        found: tuple[Verdict, Cause] | None = None
        for layer in layers:
            for rule in layer:
                if rule.action == "deny":
                    continue
                fit = self._fit(rule, words, subject, open_args, for_allow=rule.action == "allow")
                if fit is Fit.NO or (rule.action == "allow" and fit is not Fit.YES):
                    continue
                verb = "allows" if rule.action == "allow" else "asks before"
                cause = Cause(
                    rule.text,
                    rule.source,
                    f"{rule.scope} rule {rule.text} {verb} this",
                    allow_rule=rule.text if rule.action == "ask" else None,
                )
                if found is None or RANK[rule.action] > RANK[found[0]]:
                    found = (rule.action, cause)
            if found is not None:
                break
        result = found or default
        if denial is not None and RANK[denial[0]] > RANK[result[0]]:
            return denial
        return result

    def _candidates(self, position: int, tool: str, words: tuple[Word, ...] | None) -> list[Rule]:
        """The rules of one layer that can apply: for a command, those naming it (or any).

        Indexed by a shell pattern's first word, so a decision looks at a handful of rules
        instead of every rule of every layer; order within the layer is kept."""
        layer = self._layers[position]
        key = (position, len(layer), tool)
        index = self._indexes.get(key)
        if index is None:
            by_name: dict[str, list[tuple[int, Rule]]] = {}
            wild: list[tuple[int, Rule]] = []
            for number, rule in enumerate(layer):
                if rule.tool != tool:
                    continue
                first = (
                    shell_tokens(rule.pattern)[0]
                    if rule.pattern is not None and tool in SHELL_TOOLS
                    else None
                )
                if first is None or any(c in first for c in "*?["):
                    wild.append((number, rule))
                else:
                    by_name.setdefault(first, []).append((number, rule))
            index = self._indexes[key] = (by_name, wild)
        by_name, wild = index
        first_word = words[0] if words else None
        if first_word is None or first_word.value is None or first_word.glob:
            picked = wild + [r for rules in by_name.values() for r in rules]
        else:
            names = {first_word.value, posixpath.basename(first_word.value)}
            picked = wild + [r for name in names for r in by_name.get(name, [])]
        return [rule for _, rule in sorted(picked, key=lambda pair: pair[0])]

    @staticmethod
    def _fit(
        rule: Rule,
        words: tuple[Word, ...] | None,
        subject: str | None,
        open_args: bool,
        *,
        for_allow: bool = False,
    ) -> Fit:
        if rule.pattern is None:
            return Fit.YES
        if words is not None:
            return rule_fits_words(rule, words, open_args=open_args, for_allow=for_allow)
        if subject is not None and match_subject(rule.pattern, subject):
            return Fit.YES
        return Fit.NO

    def _judge_command(
        self, tool: str, part: CommandPart, default: tuple[Verdict, Cause]
    ) -> tuple[Verdict, Cause, tuple[Word, ...]]:
        """A command and each wrapper around it (``sudo``, ``timeout``…), strictest wins.

        A wrapper matched by no rule adds nothing; the command takes the default. Returns the
        words that decided (the command's or a wrapper's), for the suggested rule."""
        verdict, cause = self._judge_part(tool, part.argv, None, default, open_args=part.open_args)
        deciding = part.argv
        none: tuple[Verdict, Cause] = ("allow", Cause("no rule", None, "no rule matches"))
        for wrapper in part.wrappers:
            w_verdict, w_cause = self._judge_part(tool, wrapper, None, none, open_args=True)
            if RANK[w_verdict] > RANK[verdict]:
                verdict, cause, deciding = w_verdict, w_cause, wrapper
        return verdict, cause, deciding

    # -- the decision -----------------------------------------------------------------

    def decide(self, call: ToolCall, *, raised_risk: bool = False) -> Decision:
        """Decide one call; never raises for odd input (it asks instead)."""
        default = self._default(call)
        parts: list[PartDecision] = []
        suggestion: Rule | None = None
        if call.tool in SHELL_TOOLS and call.command is not None:
            parts, suggestion = self._shell_parts(call, default)
        elif call.subjects:
            self.writes.refresh()
            for subject in call.subjects:
                verdict, cause = self._judge_part(call.tool, None, subject, default)
                if call.kind == "edit":
                    protected = self.writes.judge_path(self.writes.resolve(subject), subject)
                    if protected[0] == "deny":
                        verdict, cause = protected
                parts.append(PartDecision(subject, "subject", verdict, cause))
        else:
            verdict, cause = self._judge_part(call.tool, None, None, default)
            parts.append(PartDecision(call.tool, "call", verdict, cause))
        if not parts:
            parts.append(PartDecision(call.tool, "call", *default))
        verdict = strictest(*(p.verdict for p in parts))
        responsible = next(p for p in parts if p.verdict == verdict).cause
        if self.mode is ApprovalMode.READ_ONLY and call.kind != "read":
            verdict, responsible = (
                "deny",
                Cause(
                    "approval mode read-only",
                    None,
                    f"approval mode 'read-only' refuses {call.kind} tools like {call.tool}",
                ),
            )
        if raised_risk and call.side_effects and verdict == "allow":
            verdict, responsible = (
                "ask",
                Cause(
                    "injection flag",
                    None,
                    "a tool result in this session looked like a prompt "
                    "injection; calls with side effects ask until the flag is cleared",
                ),
            )
        if suggestion is None and call.tool not in SHELL_TOOLS:
            pattern = call.subjects[0] if len(call.subjects) == 1 else None
            suggestion = Rule(call.tool, pattern, "allow", Source("suggested"))
        return Decision(
            tool=call.tool,
            verdict=verdict,
            cause=responsible,
            parts=tuple(parts),
            profile=self.profile.name,
            mode=self.mode.value,
            sandbox=self.sandbox,
            raised_risk=raised_risk,
            suggestion=suggestion if verdict == "ask" else None,
        )

    def _shell_parts(
        self, call: ToolCall, default: tuple[Verdict, Cause]
    ) -> tuple[list[PartDecision], Rule | None]:
        analysis = analyze_shell(call.command or "")
        parts: list[PartDecision] = []
        suggestion: Rule | None = None
        worst = -1
        for part in analysis.parts:
            verdict, cause, deciding = self._judge_command(call.tool, part, default)
            wrappers = tuple(" ".join(w.value or w.text for w in ws) for ws in part.wrappers)
            argv = tuple(w.value if w.value is not None else w.text for w in part.argv)
            parts.append(PartDecision(part.display(), "command", verdict, cause, argv, wrappers))
            if verdict != "allow" and RANK[verdict] > worst and deciding[0].value:
                worst = RANK[verdict]
                suggestion = Rule(
                    call.tool, suggest_shell_pattern(deciding), "allow", Source("suggested")
                )
        for concern in analysis.concerns:
            parts.append(
                PartDecision(
                    concern.text,
                    "unresolved",
                    "ask",
                    Cause("fail closed", None, f"tau cannot judge this part: {concern.reason}"),
                )
            )
        parts.extend(self.writes.judge(analysis))
        if not self.sandboxed:
            parts += [
                PartDecision(
                    f"writes {text}",
                    "unresolved",
                    "ask",
                    Cause(
                        "fail closed",
                        None,
                        "the files it writes are only known at run time and bash is not sandboxed",
                    ),
                )
                for text in analysis.runtime_writes
            ]
        if any(p.kind == "unresolved" and p.verdict == "ask" for p in parts):
            suggestion = None  # no rule can allow what tau cannot see
        return parts, suggestion
