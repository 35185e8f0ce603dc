"""Prompt-injection flags and provenance markers for untrusted text.

Tool outputs and fetched pages are data, not instructions. :func:`wrap_untrusted` marks them
for the model as ``<untrusted source="http:…">…</untrusted>``, escaping anything in the text
that could close or forge the marker. :class:`InjectionScanner` looks for instruction
overrides, role or system-prompt spoofing, hidden text (HTML comments with instructions,
zero-width and bidi characters, Unicode tag characters, CSS-hidden text) and tool-call
smuggling. Patterns are data (``injection_rules.toml``) and a profile can add or disable
them. A hit is reported, never stripped: the caller shows it to the user and the model,
records it, and raises the session's risk.
"""

from __future__ import annotations

import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import ConfigError
from tau_engine.safety.profiles import InjectionSection

RULES_PATH = Path(__file__).with_name("injection_rules.toml")
Category = Literal["override", "spoof", "hidden", "smuggling", "custom"]
EXCERPT_CHARS = 80
_HIDDEN_NAMES = {
    "\u200b": "ZWSP",
    "\u200c": "ZWNJ",
    "\u200d": "ZWJ",
    "\u2060": "WJ",
    "\ufeff": "BOM",
    "\u202e": "RLO",
    "\u202d": "LRO",
    "\u2066": "LRI",
    "\u2067": "RLI",
    "\u2068": "FSI",
    "\u2069": "PDI",
}


class InjectionRule(BaseModel):
    """One pattern from ``injection_rules.toml`` or a profile's ``extra_patterns``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-z-]+$")
    category: Category
    regex: str


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: list[InjectionRule]


@dataclass(frozen=True, slots=True)
class InjectionHit:
    """One suspicious span: the rule, its category, where, and a printable excerpt."""

    rule: str
    category: str
    start: int
    end: int
    excerpt: str

    def describe(self) -> str:
        return f"{self.category}: {self.rule} at {self.start}: {self.excerpt}"


def _options() -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    return options


def printable_excerpt(text: str) -> str:
    """``text`` with invisible characters named (``<ZWSP>``) so a person can see them."""
    out: list[str] = []
    for ch in text[:EXCERPT_CHARS]:
        if ch in _HIDDEN_NAMES:
            out.append(f"<{_HIDDEN_NAMES[ch]}>")
        elif 0xE0000 <= ord(ch) <= 0xE007F:
            out.append(
                f"<TAG {chr(ord(ch) - 0xE0000)!r}>" if 0x20 <= ord(ch) - 0xE0000 < 0x7F else "<TAG>"
            )
        elif unicodedata.category(ch) in ("Cf", "Cc") and ch not in "\n\t":
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(" " if ch in "\n\t" else ch)
    return "".join(out) + ("…" if len(text) > EXCERPT_CHARS else "")


class InjectionScanner:
    """Finds prompt-injection patterns in untrusted text."""

    def __init__(self, rules: Sequence[InjectionRule]) -> None:
        self.rules: list[tuple[InjectionRule, Any]] = []
        # One RE2 pass tells which rules match at all; only those are run for their spans.
        self._any: Any = re2.Set.SearchSet(_options())
        for rule in rules:
            try:
                self.rules.append((rule, re2.compile(rule.regex, _options())))
            except re2.error as exc:
                raise ConfigError(f"injection rule {rule.id}: invalid regex: {exc}") from exc
            self._any.Add(rule.regex)
        if self.rules:
            self._any.Compile()

    @classmethod
    def load(
        cls,
        *,
        extra_patterns: Sequence[str] = (),
        disable: Sequence[str] = (),
        path: Path = RULES_PATH,
    ) -> InjectionScanner:
        """The shipped rules minus ``disable`` plus a profile's ``extra_patterns``."""
        rules = [r for r in _load_rules(path) if r.id not in set(disable)]
        for number, pattern in enumerate(extra_patterns, start=1):
            rules.append(InjectionRule(id=f"custom-{number}", category="custom", regex=pattern))
        return cls(rules)

    @classmethod
    def for_profile(cls, injection: InjectionSection) -> InjectionScanner:
        """The shipped rules as a profile's ``[injection]`` table adjusts them (compiled once
        per process for each table: compiling the rule set takes tens of milliseconds)."""
        return _profile_scanner(tuple(injection.extra_patterns), tuple(injection.disable))

    def scan(self, text: str) -> list[InjectionHit]:
        """Every hit in ``text``, in order of position (one per rule and span)."""
        hits: list[InjectionHit] = []
        if not self.rules:
            return hits
        for index in sorted(self._any.Match(text) or ()):
            rule, pattern = self.rules[index]
            for match in pattern.finditer(text):
                start, end = match.span()
                if end <= start:
                    continue
                hits.append(
                    InjectionHit(
                        rule.id, rule.category, start, end, printable_excerpt(text[start:end])
                    )
                )
        hits.sort(key=lambda h: (h.start, h.rule))
        return hits


@lru_cache(maxsize=4)
def _load_rules(path: Path) -> tuple[InjectionRule, ...]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return tuple(_RuleFile.model_validate(data).rule)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot load injection rules: {exc}") from exc
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigError(f"{path}: {'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from exc


def _escape_markers(text: str) -> str:
    # Only the marker's own tag is neutralised, case-insensitively, so the content cannot
    # close the wrapper early or open a forged one; everything else stays byte for byte.
    out: list[str] = []
    lowered = text.lower()
    i = 0
    while True:
        j = lowered.find("untrusted", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        k = j - 1
        while k >= i and lowered[k] in " \t/":
            k -= 1
        if k >= 0 and lowered[k] == "<":
            out.append(text[i:k])
            out.append("&lt;")
            out.append(text[k + 1 : j + len("untrusted")])
        else:
            out.append(text[i : j + len("untrusted")])
        i = j + len("untrusted")


def _attribute(value: str) -> str:
    return (
        value.replace("&", "&amp;")
        .replace('"', "&quot;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\n", " ")
    )


def wrap_untrusted(content: str, source: str, hits: Sequence[InjectionHit] = ()) -> str:
    """Mark ``content`` as untrusted data from ``source`` for the model.

    With ``hits``, the wrapper says what was flagged, so the model is told as well."""
    flagged = ""
    if hits:
        kinds = ", ".join(sorted({h.rule for h in hits}))
        flagged = f' flagged="possible prompt injection: {_attribute(kinds)}"'
    return (
        f'<untrusted source="{_attribute(source)}"{flagged}>\n'
        f"{_escape_markers(content)}\n</untrusted>"
    )


@lru_cache(maxsize=8)
def _profile_scanner(extra_patterns: tuple[str, ...], disable: tuple[str, ...]) -> InjectionScanner:
    return InjectionScanner.load(extra_patterns=extra_patterns, disable=disable)


@lru_cache(maxsize=1)
def default_scanner() -> InjectionScanner:
    """The scanner over tau's shipped patterns."""
    return InjectionScanner.load()
