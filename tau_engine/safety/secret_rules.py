"""Secret detectors as data: vendor token formats and high-entropy assignments.

The rules live in ``secret_rules.toml`` (formats after gitleaks' MIT-licensed rule file). A
:class:`SecretScanner` runs them with RE2, a linear-time regex engine, so no tool output can
make a scan take exponential time, and only after a cheap keyword prefilter. It reports
:class:`Finding` spans; :func:`redact` replaces only the secret
(``AWS_ACCESS_KEY_ID=[REDACTED:aws-access-key]``) and leaves the text around it.

Detectors compose: anything with a ``find(text) -> list[Finding]`` method is a
:class:`SecretDetector` (the exact-value redactor of the user's own keys is another), and
:func:`scan` merges their findings, longest match first on overlaps. A finding carries the
secret's kind and a short hash, never its value, so it can go to the audit log as is. A
redaction marker is never flagged again.
"""

from __future__ import annotations

import hashlib
import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol

import re2
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tau_engine.errors import ConfigError

RULES_PATH = Path(__file__).with_name("secret_rules.toml")
# Any redaction marker, ours ([REDACTED:aws-access-key]) or the exact-value redactor's
# ([REDACTED:OPENAI_API_KEY]): text inside one is never flagged again.
MARKER = re.compile(r"\[REDACTED:[0-9A-Za-z_.-]+\]")
RedactionAction = Literal["redact", "block", "warn"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_HEX_HASH = re.compile(
    r"(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}|"
    r"[0-9a-f]{128})",
    re.I,
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z_.-]*")
_PATHLIKE = re.compile(r"(?:\.{0,2}/|~/|[A-Za-z]:\\)")
_PLACEHOLDER = re.compile(
    r"(?i)example|xxxx|redacted|changeme|change_me|placeholder|dummy|your[_-]|<[^>]*>|\$\{|"
    r"\{\{|\*\*\*\*|\.\.\.|…|insert[_-]?|replace[_-]?me|todo|fixme|sample|notreal|not[_-]a[_-]"
)
_SEQUENCES = (
    "abcdefghijklmnopqrstuvwxyz",
    "0123456789",
    "zyxwvutsrqponmlkjihgfedcba",
    "9876543210",
    "qwertyuiop",
    "asdfghjkl",
)


class SecretRule(BaseModel):
    """One detector from ``secret_rules.toml``."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9a-z-]+$")
    description: str = ""
    regex: str
    keywords: list[str] = Field(default_factory=list)
    secret_group: int = Field(default=1, ge=0)
    entropy: float = Field(default=0.0, ge=0)
    allow: list[str] = Field(default_factory=list)
    assignment: bool = False


class _RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: list[SecretRule]


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret found in a text: its kind, its span and a short hash of its value."""

    kind: str
    start: int
    end: int
    digest: str

    def audit(self) -> dict[str, str]:
        """What may be recorded about it: the kind and the hash, never the value."""
        return {"kind": self.kind, "hash": self.digest}


class SecretDetector(Protocol):
    """Anything that finds secrets in a text."""

    def find(self, text: str) -> list[Finding]: ...


def secret_digest(value: str) -> str:
    """A short, stable hash of a secret for audit records (64 bits of SHA-256)."""
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value``."""
    if not value:
        return 0.0
    counts = Counter(value)
    size = len(value)
    return -sum(n / size * math.log2(n / size) for n in counts.values())


def is_placeholder(value: str) -> bool:
    """True for values that stand in for a secret: ``…EXAMPLE``, ``xxxx``, ``<token>``…"""
    return bool(_PLACEHOLDER.search(value)) or MARKER.search(value) is not None


def _is_sequence(value: str) -> bool:
    """Mostly one repeated character or a run such as ``abcdef…``/``123456…``."""
    lowered = value.lower()
    if len(set(lowered)) <= 2:
        return True
    longest = 0
    for seq in _SEQUENCES:
        for i in range(len(lowered)):
            j = i + longest + 1
            while j <= len(lowered) and lowered[i:j] in seq:
                longest = j - i
                j += 1
    return longest >= 6 and longest * 2 > len(lowered)


def looks_generated(value: str) -> bool:
    """The false-positive filters of the high-entropy rule: is ``value`` plausibly a secret?"""
    if _UUID.fullmatch(value) or _HEX_HASH.fullmatch(value):
        return False  # ids and digests are everywhere in tool output
    if _IDENTIFIER.fullmatch(value) and not (
        any(c.isupper() for c in value)
        and any(c.islower() for c in value)
        and len(value) >= 20
        and "_" not in value
        and "." not in value
    ):
        return False  # snake_case names, dotted paths, CONSTANT_NAMES
    if _PATHLIKE.match(value) or (value.count("/") >= 2 and not any(c.isdigit() for c in value)):
        return False
    if not any(c.isdigit() for c in value) and not (
        any(c.isupper() for c in value) and any(c.islower() for c in value)
    ):
        return False
    return not _is_sequence(value)


class _CompiledRule:
    __slots__ = ("allow", "keywords", "pattern", "rule")

    def __init__(self, rule: SecretRule) -> None:
        self.rule = rule
        self.keywords = tuple(k.lower() for k in rule.keywords)
        options = re2.Options()
        options.log_errors = False  # a bad user rule is reported once, as a ConfigError
        try:
            self.pattern: Any = re2.compile(rule.regex.encode("utf-8"), options)
            self.allow = tuple(re2.compile(a, options) for a in rule.allow)
        except re2.error as exc:
            raise ConfigError(f"secret rule {rule.id}: invalid regex: {exc}") from exc


class SecretScanner:
    """Runs the secret rules over a text: keyword prefilter, RE2, filters."""

    def __init__(self, rules: Sequence[SecretRule]) -> None:
        self.rules = [_CompiledRule(r) for r in rules]
        # The keyword prefilter: one RE2 pass over the text finds every keyword present
        # (a `keyword in text` per keyword was 60 scans of the whole text).
        self._keywords = sorted({k for r in self.rules for k in r.keywords})
        options = re2.Options()
        options.case_sensitive = False
        options.log_errors = False
        self._keyword_set: Any = re2.Set.SearchSet(options)
        for keyword in self._keywords:
            self._keyword_set.Add(re2.escape(keyword))
        self._keyword_set.Compile()
        # A rule without keywords can match any text: then every text is scanned.
        self._always = not self._keywords or any(not r.keywords for r in self.rules)

    def _present(self, text: str) -> set[str]:
        return {self._keywords[i] for i in self._keyword_set.Match(text) or ()}

    def may_find(self, text: str) -> bool:
        """Whether any rule could match ``text``: one RE2 pass for the keywords (a rule with
        none always could). Lets callers skip the scan of the many short texts with none."""
        if self._always:
            return True
        return bool(self._keyword_set.Match(text))

    @classmethod
    def from_file(cls, path: Path) -> SecretScanner:
        """Load rules from a TOML file (``[[rule]]`` tables); errors name the file and rule."""
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
            return cls(_RuleFile.model_validate(data).rule)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot load secret rules: {exc}") from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{path}: {where}: {err['msg']}") from exc

    def find(self, text: str) -> list[Finding]:
        """Every secret in ``text`` (overlaps resolved: longest first)."""
        present = self._present(text) if self._keywords else set()
        # RE2 runs over UTF-8 bytes: asking it for spans in a str costs a scan from the start
        # of the text per span. Byte spans are mapped to characters once, in order.
        data = text.encode("utf-8", "surrogatepass")
        spans: list[tuple[_CompiledRule, int, int]] = []
        for compiled in self.rules:
            if compiled.keywords and present.isdisjoint(compiled.keywords):
                continue
            for match in compiled.pattern.finditer(data):
                start, end = _secret_span(match, compiled.rule.secret_group)
                if start >= 0:
                    spans.append((compiled, start, end))
        if not spans:
            return []
        to_char = _char_offsets(
            data, {o for _, s, e in spans for o in (s, e)}, ascii_only=len(data) == len(text)
        )
        markers = [m.span() for m in MARKER.finditer(text)] if "[REDACTED:" in text else []
        found: list[Finding] = []
        for compiled, byte_start, byte_end in spans:
            rule = compiled.rule
            start, end = to_char[byte_start], to_char[byte_end]
            value = text[start:end]
            if any(a.search(value) for a in compiled.allow) or is_placeholder(value):
                continue
            if rule.entropy and shannon_entropy(value) < rule.entropy:
                continue
            if rule.assignment and not looks_generated(value):
                continue
            if any(s < end and start < e for s, e in markers):
                continue
            found.append(Finding(rule.id, start, end, secret_digest(value)))
        return merge_findings(found)


def _secret_span(match: Any, group: int) -> tuple[int, int]:
    """The span of ``group``, or of the first group from it on that took part in the match."""
    count = match.re.groups
    if group == 0 or count == 0:
        return match.span(0)  # type: ignore[no-any-return]
    for index in range(group, count + 1):
        start, end = match.span(index)
        if start >= 0:
            return start, end
    return -1, -1


def _char_offsets(data: bytes, offsets: set[int], *, ascii_only: bool) -> dict[int, int]:
    """Character offsets of some UTF-8 byte offsets, decoding the text once, in order."""
    if ascii_only:
        return {o: o for o in offsets}
    out: dict[int, int] = {}
    last_byte = last_char = 0
    for offset in sorted(offsets):
        last_char += len(data[last_byte:offset].decode("utf-8", "surrogatepass"))
        last_byte = offset
        out[offset] = last_char
    return out


def merge_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings sorted by position with overlaps removed (the earliest, then longest, wins)."""
    ordered = sorted(findings, key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[Finding] = []
    for finding in ordered:
        if kept and finding.start < kept[-1].end:
            continue
        kept.append(finding)
    return kept


def redact(text: str, findings: Sequence[Finding]) -> str:
    """``text`` with each finding's span replaced by ``[REDACTED:<kind>]``."""
    out: list[str] = []
    last = 0
    for finding in merge_findings(findings):
        out.append(text[last : finding.start])
        out.append(f"[REDACTED:{finding.kind}]")
        last = finding.end
    out.append(text[last:])
    return "".join(out)


@dataclass(frozen=True, slots=True)
class ScanResult:
    """A text after the redaction filter, and what was found in it."""

    text: str
    findings: tuple[Finding, ...]
    blocked: bool = False


def scan(
    text: str, detectors: Sequence[SecretDetector], action: RedactionAction = "redact"
) -> ScanResult:
    """Run every detector over ``text`` and apply the profile's action.

    ``redact`` replaces each secret; ``block`` withholds the whole text; ``warn`` leaves the
    text as it is (the findings still go to the audit log and the user)."""
    findings = merge_findings(f for d in detectors for f in d.find(text))
    if not findings or action == "warn":
        return ScanResult(text, tuple(findings))
    if action == "block":
        kinds = ", ".join(sorted({f.kind for f in findings}))
        return ScanResult(
            f"[withheld: this text contained {len(findings)} secret(s): {kinds}]",
            tuple(findings),
            blocked=True,
        )
    return ScanResult(redact(text, findings), tuple(findings))


@lru_cache(maxsize=1)
def default_scanner() -> SecretScanner:
    """The scanner over tau's shipped rules (loaded once)."""
    return SecretScanner.from_file(RULES_PATH)
