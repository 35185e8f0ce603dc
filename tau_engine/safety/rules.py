"""Permission rules: ``TOOL`` or ``TOOL(PATTERN)``, what they match, and how broad they are.

A rule's text is what users read and type: ``bash(git push *)``, ``write(src/**)``,
``http(https://api.github.com/**)``, or just ``http`` for every call of a tool.

Shell patterns are matched against the words of one command after unwrapping (see
:mod:`tau_engine.safety.shell_commands`): a ``*`` token stands for any words (zero or more),
other tokens are shell-style globs for one word (``[*]`` is a literal star). A word whose value
is only known at run time (``$X``, ``{}`` of ``find -exec``, what ``xargs`` appends, a glob)
may stand for anything: it can make a deny or ask rule match ("maybe"), never an allow rule,
unless a ``*`` token covers it. Path and URL patterns are globs where ``*`` stays within one
``/`` segment and ``**`` crosses them.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass
from enum import IntEnum
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Literal

from tau_engine.safety.shell_parse import Word
from tau_engine.safety.toml_lines import Source

Action = Literal["allow", "ask", "deny"]
Scope = Literal["profile", "user", "workspace", "session"]
_RULE_TEXT = re.compile(r"^\s*([A-Za-z0-9_.:-]+)\s*(?:\((.*)\))?\s*$", re.DOTALL)
# Only commands from these folders count as their bare name for an allow rule: ./ls is not ls.
SYSTEM_BIN_DIRS = frozenset(
    {"/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"}
)
# Commands whose first argument is a subcommand worth keeping in a suggested rule.
SUBCOMMAND_TOOLS = frozenset(
    {
        "git",
        "npm",
        "pnpm",
        "yarn",
        "cargo",
        "go",
        "docker",
        "pip",
        "pip3",
        "uv",
        "poetry",
        "kubectl",
        "make",
        "gh",
        "apt",
        "apt-get",
        "brew",
        "dotnet",
        "mvn",
        "gradle",
        "bundle",
        "rails",
        "npx",
    }
)
SHELL_TOOLS = frozenset({"bash"})


class Fit(IntEnum):
    """How a pattern fits a command: surely, only if run-time values turn out so, or not."""

    NO = 0
    MAYBE = 1
    YES = 2


class RuleSyntaxError(ValueError):
    """A rule's text is not ``TOOL`` or ``TOOL(PATTERN)``."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One permission rule and where it came from."""

    tool: str
    pattern: str | None
    action: Action
    source: Source
    scope: Scope = "profile"
    when: str | None = None
    by: str | None = None
    note: str | None = None

    @property
    def text(self) -> str:
        """The rule as users read and type it: ``bash(git push *)``."""
        return f"{self.tool}({self.pattern})" if self.pattern is not None else self.tool

    def __str__(self) -> str:
        return self.text


def parse_rule_text(text: str) -> tuple[str, str | None]:
    """Split ``TOOL(PATTERN)`` into its tool and pattern (``None`` for a bare tool)."""
    match = _RULE_TEXT.match(text)
    if not match or (match.group(2) is not None and not match.group(2).strip()):
        raise RuleSyntaxError(
            f"not a rule: {text!r} (write TOOL or TOOL(PATTERN), e.g. bash(git push *))"
        )
    pattern = match.group(2)
    if pattern is not None and match.group(1) in SHELL_TOOLS:
        shell_tokens(pattern)  # raises on unbalanced quotes
    return match.group(1), pattern.strip() if pattern is not None else None


@lru_cache(maxsize=1024)
def shell_tokens(pattern: str) -> tuple[str, ...]:
    """A shell pattern's tokens (quotes group words, as in the shell)."""
    try:
        tokens = tuple(shlex.split(pattern))
    except ValueError as exc:
        raise RuleSyntaxError(f"shell pattern {pattern!r}: {exc}") from exc
    if not tokens:
        raise RuleSyntaxError("empty shell pattern")
    return tokens


def _name_for(word: Word, *, for_allow: bool) -> str | None:
    value = word.value
    if value is None:
        return None
    if "/" not in value:
        return value
    folder, base = posixpath.split(value)
    if not for_allow or posixpath.normpath(folder) in SYSTEM_BIN_DIRS:
        return base
    return value


def match_words(
    tokens: tuple[str, ...],
    words: tuple[Word, ...],
    *,
    open_args: bool = False,
    for_allow: bool = False,
) -> Fit:
    """How the pattern ``tokens`` fits a command's ``words`` (see the module docstring)."""
    if words and tokens[0] != "*":
        # Most rules name another command: reject them before the general matcher.
        first = _name_for(words[0], for_allow=for_allow)
        if first is not None and not words[0].glob and not fnmatchcase(first, tokens[0]):
            return Fit.NO
    # Each element is a static string, or None for "unknown words (zero or more)".
    elements: list[str | None] = []
    for index, word in enumerate(words):
        value = _name_for(word, for_allow=for_allow) if index == 0 else word.value
        elements.append(None if value is None else value)
    globbed = [w.glob for w in words]
    if open_args:
        elements.append(None)
        globbed.append(False)
    if for_allow and any(w.value is None for w in words[:1]):
        return Fit.NO
    # Bottom-up over (token, word) positions, so thousands of words cannot exhaust the stack:
    # row[j] is how tokens[i:] fit elements[j:].
    size = len(elements)
    all_unknown = [False] * (size + 1)
    all_unknown[size] = True
    for j in range(size - 1, -1, -1):
        all_unknown[j] = all_unknown[j + 1] and elements[j] is None
    below = [Fit.MAYBE if all_unknown[j] else Fit.NO for j in range(size + 1)]
    below[size] = Fit.YES
    for i in range(len(tokens) - 1, -1, -1):
        token = tokens[i]
        row = [Fit.NO] * (size + 1)
        if token == "*":
            if i + 1 == len(tokens):
                row = [Fit.YES] * (size + 1)
            else:
                best = Fit.NO
                for j in range(size, -1, -1):
                    best = max(best, below[j])
                    row[j] = best
        else:
            for j in range(size - 1, -1, -1):
                element = elements[j]
                if element is None:
                    row[j] = min(Fit.MAYBE, max(row[j + 1], below[j], below[j + 1]))
                elif fnmatchcase(element, token) or (
                    element[:1] in ("/", "~") and fnmatchcase(_normal_path(element), token)
                ):
                    row[j] = below[j + 1]
                elif globbed[j] and _glob_may_fit(element, token):
                    # A glob word expands to file names, one of which might fit the token.
                    row[j] = min(Fit.MAYBE, below[j + 1])
        below = row
    return below[0]


def _normal_path(value: str) -> str:
    """``//``, ``/./`` and ``/x/..`` spelled plainly, so ``rm -rf //`` is ``rm -rf /``."""
    head, rest = ("~", value[1:]) if value.startswith("~") else ("", value)
    if head and rest and not rest.startswith("/"):
        return value  # ~user
    collapsed = re.sub(r"/+", "/", rest)
    normal = posixpath.normpath(collapsed) if collapsed else collapsed
    if head:
        normal = "" if normal in ("/", ".") else normal
        return head + normal if normal != "/" else head
    return normal


_SINGLE_CLASS = re.compile(r"\[(.)\]")


def _glob_may_fit(glob_word: str, token: str) -> bool:
    """Whether some file name the glob word expands to could fit the pattern token."""
    literal = _SINGLE_CLASS.sub(lambda m: m.group(1), token)
    if not any(c in _SINGLE_CLASS.sub("", token) for c in "*?["):
        return fnmatchcase(literal, glob_word)  # the token names one word: could it expand?
    head_word = re.split(r"[*?\[]", glob_word, maxsplit=1)[0]
    head_token = re.split(r"[*?\[]", token, maxsplit=1)[0]
    return head_word.startswith(head_token) or head_token.startswith(head_word)


@lru_cache(maxsize=1024)
def _path_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def match_subject(pattern: str, subject: str) -> bool:
    """Whether a path or URL glob matches ``subject`` (``*`` within a segment, ``**`` across)."""
    return _path_regex(pattern).fullmatch(subject) is not None


def rule_fits_words(
    rule: Rule, words: tuple[Word, ...], *, open_args: bool, for_allow: bool
) -> Fit:
    """How a shell rule fits one command's words (a bare-tool rule fits everything)."""
    if rule.pattern is None:
        return Fit.YES
    return match_words(shell_tokens(rule.pattern), words, open_args=open_args, for_allow=for_allow)


def describe_breadth(rule: Rule) -> str:
    """What an "always allow" rule would cover, in words: ``matches any `rm` invocation``."""
    if rule.pattern is None:
        return f"matches every {rule.tool} call"
    if rule.tool not in SHELL_TOOLS:
        if rule.pattern in ("**", "*"):
            return f"matches every {rule.tool} call"
        fixed = re.split(r"[*?]", rule.pattern, maxsplit=1)[0]
        if fixed == rule.pattern:
            return f"matches only {rule.pattern}"
        return (
            f"matches anything starting with {fixed}"
            if fixed
            else f"matches anything like {rule.pattern}"
        )
    tokens = shell_tokens(rule.pattern)
    literal: list[str] = []
    for token in tokens:
        if any(c in token for c in "*?["):
            break
        literal.append(token)
    if len(literal) == len(tokens):
        return f"matches exactly `{rule.pattern}`"
    if not literal:
        return "matches any command"
    prefix = " ".join(literal)
    if tokens[len(literal) :] == ("*",):
        if len(literal) == 1:
            return f"matches any `{prefix}` invocation"
        return f"matches `{prefix}` with any arguments"
    return f"matches `{prefix}` commands like `{rule.pattern}`"


def suggest_shell_pattern(words: tuple[Word, ...]) -> str:
    """The "always allow" pattern for a command: its name (and subcommand) then ``*``.

    A program named by a path outside the system folders keeps its path (``./gradlew *``):
    an allow rule for the bare name would not match it."""
    values = [w.value for w in words]
    first = values[0] or "" if values else ""
    folder, base = posixpath.split(first)
    name = base if not folder or posixpath.normpath(folder) in SYSTEM_BIN_DIRS else first
    keep = [name]
    if base in SUBCOMMAND_TOOLS and len(values) > 1 and values[1] and not values[1].startswith("-"):
        keep.append(values[1])
    return " ".join(shlex.quote(k) for k in keep) + " *"
