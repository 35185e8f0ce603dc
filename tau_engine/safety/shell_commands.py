"""What a bash command line would run: wrappers unwrapped, nested commands found, unknowns named.

:func:`analyze_shell` turns a command line into the commands policy must judge
(:class:`CommandPart`) and the things it must fail closed on (:class:`Concern`):

* Known wrappers are unwrapped: ``env VAR=… cmd``, ``timeout 5 cmd``, ``nice``, ``nohup``,
  ``command``, ``exec``, ``builtin``, ``time``, ``setsid``, ``stdbuf``, ``sudo``/``doas`` and
  ``xargs`` (whose command receives arguments only known at run time). The wrapper's own words
  are kept, so a rule can still match ``sudo *``.
* ``find … -exec cmd {} ;`` yields ``cmd`` as a part; ``bash -c 'literal'`` is parsed and its
  commands judged (to a depth of three).
* Concerns: ``eval``, ``source``/``.``, ``trap``, ``alias``; ``bash -c`` with a computed script;
  a shell reading its script from stdin (``curl … | sh``); a command name computed at run time;
  process substitution; syntax errors; wrappers tau does not unwrap (``watch``, ``parallel``,
  ``flock``, ``su``, ``chroot``…); assignments to variables that change what later commands run
  (``PATH``, ``LD_PRELOAD``, ``BASH_ENV``, ``GIT_*``…).
  Also ``let``, ``mapfile -C`` and quoted array subscripts (``read 'a[$(id)]'``), which bash
  evaluates as commands, and more than 16 nested wrappers.
* Redirections that write a file, the files that ``rm``, ``mv``, ``cp``, ``tee``, ``touch``,
  ``chmod``… write (their operands), and every ``cd``/``pushd`` target are collected so callers
  can check them against write roots and protected paths.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tau_engine.safety.shell_parse import Redirect, ShellScript, Word, parse_shell
from tau_engine.safety.shell_vocabulary import (
    CALLBACK_OPTIONS,
    CWD_COMMANDS,
    FIND_EXEC,
    MAX_DEPTH,
    MAX_WRAPPERS,
    OPAQUE_COMMANDS,
    OPAQUE_WRAPPERS,
    SHELLS,
    SUBSCRIPT_EVALUATORS,
    TARGET_DIRECTORY,
    WRAPPERS,
    WRITE_OPERANDS,
    command_name,
    is_sensitive_env,
    skip_wrapper_options,
    trap_runs_nothing,
)


@dataclass(frozen=True, slots=True)
class CommandPart:
    """A command that would run, after unwrapping, with the wrappers that led to it.

    ``argv`` is what runs; ``wrappers`` holds each wrapper's own words (``sudo -u bob``);
    ``open_args`` is true when more arguments arrive at run time (``xargs``, ``find -exec``);
    ``text`` is the simple command as written."""

    argv: tuple[Word, ...]
    wrappers: tuple[tuple[Word, ...], ...] = ()
    open_args: bool = False
    text: str = ""

    @property
    def name(self) -> str:
        """The command's name as written (its first word's value, or its text)."""
        first = self.argv[0] if self.argv else None
        return (first.value or first.text) if first else ""

    def display(self) -> str:
        words = [w.value if w.value is not None else w.text for w in self.argv]
        return " ".join(words) + (" …" if self.open_args else "")


@dataclass(frozen=True, slots=True)
class Concern:
    """Something that makes the command line impossible to judge in full: always asked."""

    reason: str
    text: str


@dataclass
class ShellAnalysis:
    """The parts to judge, the concerns to fail closed on, and the files it writes."""

    source: str
    parts: list[CommandPart] = field(default_factory=list)
    concerns: list[Concern] = field(default_factory=list)
    writes: list[Redirect] = field(default_factory=list)
    cwd_targets: list[Word] = field(default_factory=list)
    # Files a command writes that are only named at run time (``touch $F``, ``xargs rm``):
    # the sandbox contains them; without it the policy fails closed on them.
    runtime_writes: list[str] = field(default_factory=list)


def _replace_placeholder(own: list[Word], rest: list[Word]) -> list[Word]:
    """xargs -I STR (or -i): words containing STR are only known at run time."""
    marker: str | None = None
    for index, word in enumerate(own):
        value = word.value or ""
        if value in ("-I", "--replace") and index + 1 < len(own):
            marker = own[index + 1].value
        elif value.startswith("-I") and len(value) > 2:
            marker = value[2:]
        elif value.startswith("--replace="):
            marker = value.split("=", 1)[1] or "{}"
        elif value.startswith("-i"):
            marker = value[2:] or "{}"
    if not marker:
        return rest
    return [Word(w.text, None) if w.value is not None and marker in w.value else w for w in rest]


class _Analyzer:
    def __init__(self, analysis: ShellAnalysis, depth: int) -> None:
        self.out = analysis
        self.depth = depth

    def script(self, script: ShellScript) -> None:
        for opaque in script.opaque:
            self.out.concerns.append(Concern(opaque.reason, opaque.text))
        for name, value in script.assignments:
            if is_sensitive_env(name):
                self.out.concerns.append(
                    Concern(
                        f"sets {name}, which changes what later commands run",
                        f"{name}={value.text}",
                    )
                )
        self.out.writes.extend(r for r in script.redirects if r.writes_file)
        for command in script.commands:
            if command.words:
                self.command(list(command.words), (), False, command.text)

    def concern(self, reason: str, text: str) -> None:
        self.out.concerns.append(Concern(reason, text))

    def command(
        self, words: list[Word], wrappers: tuple[tuple[Word, ...], ...], open_args: bool, text: str
    ) -> None:
        name = command_name(words[0])
        if len(wrappers) > MAX_WRAPPERS:
            self.concern(f"more than {MAX_WRAPPERS} wrappers around one command", text)
            return
        if name is None:
            self.concern("the command name is computed at run time", text)
            return
        if name in OPAQUE_COMMANDS and not (name == "trap" and trap_runs_nothing(words[1:])):
            self.concern(OPAQUE_COMMANDS[name], text)
            return
        if name in OPAQUE_WRAPPERS:
            self.concern(f"{name} runs other commands in a way tau does not unwrap", text)
            # The wrapper itself is still judged, so a rule for it applies too.
        if name in CWD_COMMANDS:
            target = next((w for w in words[1:] if not (w.value or "x").startswith("-")), None)
            self.out.cwd_targets.append(target or Word("~", "~"))
        if name in SHELLS:
            self.shell(name, words, wrappers, open_args, text)
            return
        if name in WRAPPERS:
            self.wrapper(name, words, wrappers, open_args, text)
            return
        self.out.parts.append(CommandPart(tuple(words), wrappers, open_args, text))
        if name == "find":
            self.find_exec(words, wrappers, text)
        elif name in SUBSCRIPT_EVALUATORS:
            self.subscripts(name, words, text)
        if name in WRITE_OPERANDS:
            self.write_operands(name, WRITE_OPERANDS[name], words)
            if open_args:
                self.out.runtime_writes.append(f"{' '.join(w.text for w in words)} …")

    def subscripts(self, name: str, words: list[Word], text: str) -> None:
        option = CALLBACK_OPTIONS.get(name)
        for word in words[1:]:
            value = word.value or ""
            if option and value.startswith(option):
                self.concern(f"{name} {option} runs a callback command", text)
            if "[" in value and ("$(" in value or "`" in value):
                self.concern(f"{name} evaluates an array subscript that runs a command", text)

    def write_operands(self, name: str, mode: str, words: list[Word]) -> None:
        operands: list[Word] = []
        targets: list[Word] = []
        rest = iter(words[1:])
        for word in rest:
            value = word.value
            if name in TARGET_DIRECTORY and value in ("-t", "--target-directory"):
                targets.extend(w for w in [next(rest, None)] if w is not None)
            elif (
                name in TARGET_DIRECTORY
                and value is not None
                and value.startswith(("--target-directory=", "-t"))
                and len(value) > 2
            ):
                targets.append(
                    Word(
                        word.text, value.split("=", 1)[-1] if "=" in value else value[2:], word.glob
                    )
                )
            elif value is not None and value.startswith("-") and value != "-":
                continue  # an option (tau does not track options that take values here)
            else:
                operands.append(word)
        if targets:
            operands = [*targets, *(operands if mode == "all" else [])]
        elif mode == "last":
            operands = operands[-1:] if len(operands) > 1 else []
        elif mode == "skip1":
            operands = operands[1:]
        elif mode == "second":
            operands = operands[1:2]
        for word in operands:
            # A target only known at run time is left to the sandbox (the policy fails closed
            # on it when bash is not sandboxed); a redirection to one always fails closed.
            if word.value is not None:
                self.out.writes.append(Redirect("arg", word))
            else:
                self.out.runtime_writes.append(f"{name} {word.text}")

    def wrapper(
        self,
        name: str,
        words: list[Word],
        wrappers: tuple[tuple[Word, ...], ...],
        open_args: bool,
        text: str,
    ) -> None:
        start = skip_wrapper_options(words, 1, name)
        own = words[:start]
        if name == "env":
            if any((w.value or "").startswith(("-S", "--split-string")) for w in own):
                self.concern("env -S splits a string into a command at run time", text)
                return
            while (
                start < len(words)
                and "=" in (words[start].value or "")
                and not (words[start].value or "=").startswith("=")
            ):
                var = (words[start].value or "").split("=", 1)[0]
                if is_sensitive_env(var):
                    self.concern(f"sets {var}, which changes what the command runs", text)
                start += 1
            own = words[:start]
        elif name == "timeout" and start < len(words):
            start += 1  # the duration
            own = words[:start]
        elif name == "command" and any(w.value in ("-v", "-V") for w in own):
            self.out.parts.append(CommandPart(tuple(words), wrappers, open_args, text))
            return  # command -v only looks a name up
        chain = (*wrappers, tuple(own))
        if name == "xargs":
            words = words[:start] + _replace_placeholder(own, words[start:])
        if start >= len(words):
            if name == "xargs":  # xargs with no command runs echo
                self.out.parts.append(CommandPart((Word("echo", "echo"),), chain, True, text))
            else:
                self.out.parts.append(CommandPart(tuple(words), wrappers, open_args, text))
            return
        self.command(words[start:], chain, open_args or name == "xargs", text)

    def shell(
        self,
        name: str,
        words: list[Word],
        wrappers: tuple[tuple[Word, ...], ...],
        open_args: bool,
        text: str,
    ) -> None:
        script_index = None
        i = 1
        while i < len(words):
            value = words[i].value
            if value is None or value == "--" or not value.startswith(("-", "+")):
                break
            if value in ("-o", "+o", "-O", "+O"):
                i += 2  # set -o NAME / shopt NAME
                continue
            if value.startswith("-") and not value.startswith("--") and "c" in value[1:]:
                script_index = i + 1
                break
            i += 1
        operands = [w for w in words[1:] if not (w.value or "x").startswith(("-", "+"))]
        if script_index is None:
            if not operands:
                self.concern(f"{name} reads its commands from stdin, which tau cannot see", text)
            self.out.parts.append(CommandPart(tuple(words), wrappers, open_args, text))
            return
        if script_index >= len(words) or words[script_index].value is None:
            self.concern(f"{name} -c runs a script computed at run time", text)
            return
        if self.depth >= MAX_DEPTH:
            self.concern(f"{name} -c nested more than {MAX_DEPTH} deep", text)
            return
        inner = analyze_shell(words[script_index].value or "", depth=self.depth + 1)
        chain = (*wrappers, tuple(words[: script_index + 1]))
        for part in inner.parts:
            self.out.parts.append(
                CommandPart(
                    part.argv, (*chain, *part.wrappers), part.open_args or open_args, part.text
                )
            )
        self.out.concerns.extend(inner.concerns)
        self.out.writes.extend(inner.writes)
        self.out.cwd_targets.extend(inner.cwd_targets)

    def find_exec(
        self, words: list[Word], wrappers: tuple[tuple[Word, ...], ...], text: str
    ) -> None:
        i = 1
        while i < len(words):
            if words[i].value in FIND_EXEC:
                end = i + 1
                while end < len(words) and words[end].value not in (";", "+"):
                    end += 1
                # {} becomes each found path: unknown until find runs.
                inner = [Word(w.text, None) if w.value == "{}" else w for w in words[i + 1 : end]]
                if inner:
                    chain = (*wrappers, tuple(words[: i + 1]))
                    self.command(list(inner), chain, True, text)
                i = end
            i += 1


def analyze_shell(source: str, *, depth: int = 0) -> ShellAnalysis:
    """Parse ``source`` and return everything policy must judge about it."""
    analysis = ShellAnalysis(source)
    _Analyzer(analysis, depth).script(parse_shell(source))
    return analysis
