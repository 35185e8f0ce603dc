"""The one redaction funnel: every text tau stores, prints or sends goes through it.

:class:`RedactionFilter` composes the two kinds of detector in a fixed order:

1. the exact values of the user's own secrets (:class:`~tau_engine.safety.redact.SecretRedactor`:
   provider keys, and secret-looking variables of the environment and the workspace ``.env``),
   always replaced by ``[REDACTED:<variable>]``, whatever the profile says;
2. the vendor and high-entropy detectors (``secret_rules``), whose action the profile chooses:
   ``redact`` (the default) replaces each secret, ``block`` withholds a whole tool result,
   ``warn`` leaves the text alone and only reports what it found.

:meth:`RedactionFilter.filter` is for tool results (it applies ``block``); :meth:`redact`,
:meth:`redact_data` and :meth:`redact_fields` are for everything else that is persisted or
printed (events, messages, request bodies, recordings, exports): there ``block`` redacts, since a
notice or a request cannot be withheld. Every finding is reported to ``on_findings`` (the audit
log: kind and hash, never the value). Results for long texts are cached, so the history that is
sent again with every request is scanned once.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from tau_engine.safety.redact import SecretRedactor
from tau_engine.safety.secret_rules import (
    Finding,
    RedactionAction,
    SecretScanner,
    default_scanner,
    scan,
    secret_digest,
)

# Words of a variable name that say its value is a secret (API_KEY, GITHUB_TOKEN, DB_PASSWORD):
# those values are redacted everywhere. Names ending like a location are not (SSH_AUTH_SOCK).
SECRET_WORDS = frozenset(
    {
        "KEY",
        "APIKEY",
        "TOKEN",
        "SECRET",
        "SECRETS",
        "PASSWORD",
        "PASSWD",
        "PASS",
        "PASSPHRASE",
        "CREDENTIAL",
        "CREDENTIALS",
        "AUTH",
        "PRIVATE",
        "DSN",
        "COOKIE",
        "SIGNATURE",
        "PAT",
    }
)
SECRET_NAMES = frozenset({"DATABASE_URL"})
_NOT_SECRET_ENDINGS = ("_SOCK", "_PATH", "_DIR", "_FILE", "_HOME", "_ID_FILE")
_WORD = re.compile(r"[A-Za-z0-9]+")


def is_secret_name(name: str) -> bool:
    """Whether a variable called ``name`` holds a secret by its name."""
    upper = name.upper()
    if upper in SECRET_NAMES:
        return True
    if upper.endswith(_NOT_SECRET_ENDINGS):
        return False
    return any(word in SECRET_WORDS for word in _WORD.findall(upper))


# Results are cached by text (the history is sent again with every request, and streamed
# text repeats its short pieces), within a budget of characters kept.
CACHE_MAX_CHARS = 4_000_000
# Event fields that are never text from a tool, the model or a server.
_PLAIN_FIELDS = frozenset(
    {
        "type",
        "v",
        "seq",
        "ts",
        "session_id",
        "call_id",
        "name",
        "kind",
        "ok",
        "denied",
        "fatal",
        "turn",
        "duration_ms",
        "skipped",
        "stop_reason",
        "turns",
        "resumed",
        "model",
        "workspace",
    }
)

FindingsSink = Callable[[list[Finding], str], None]


def secret_values(environ: Mapping[str, str], *extra: Mapping[str, str]) -> list[tuple[str, str]]:
    """The (name, value) pairs of variables whose names say they hold a secret."""
    pairs: list[tuple[str, str]] = []
    for source in (environ, *extra):
        pairs += [(name, value) for name, value in source.items() if is_secret_name(name) and value]
    return pairs


@dataclass(frozen=True, slots=True)
class Redacted:
    """A text after the filter: what is left, what the detectors found (``findings``), the
    user's own secrets it held (``exact``) and whether it was withheld."""

    text: str
    findings: tuple[Finding, ...] = ()
    blocked: bool = False
    exact: tuple[Finding, ...] = ()


class RedactionFilter:
    """Exact values first, then the detectors; the profile's action for tool results."""

    def __init__(
        self,
        exact: SecretRedactor | None = None,
        *,
        scanner: SecretScanner | None = None,
        action: RedactionAction = "redact",
        on_findings: FindingsSink | None = None,
    ) -> None:
        self.exact = exact or SecretRedactor()
        self._scanner = scanner
        self.action: RedactionAction = action
        self.on_findings = on_findings
        self._cache: OrderedDict[str, str] = OrderedDict()
        self._cached_chars = 0
        self._digests = {value: secret_digest(value) for value in self.exact.values}

    @property
    def scanner(self) -> SecretScanner:
        if self._scanner is None:
            self._scanner = default_scanner()
        return self._scanner

    def _exact(self, text: str) -> tuple[str, list[Finding]]:
        if not self.exact:
            return text, []
        found = [
            Finding(name, 0, 0, self._digests[value]) for name, value in self.exact.present(text)
        ]
        return self.exact.redact(text), found

    def filter(self, text: str, *, where: str = "tool result") -> Redacted:
        """A tool result through the filter, with the profile's action (block withholds it)."""
        if not text:
            return Redacted(text)
        text, exact = self._exact(text)
        result = scan(text, [self.scanner], self.action)
        if (exact or result.findings) and self.on_findings is not None:
            self.on_findings([*exact, *result.findings], where)
        return Redacted(result.text, result.findings, result.blocked, tuple(exact))

    def redact(self, text: str, *, where: str = "output") -> str:
        """``text`` for storing, printing or sending: secrets replaced (``warn`` keeps what
        only the detectors found)."""
        if not text:
            return text
        hit = self._cache.get(text)
        if hit is not None:
            self._cache.move_to_end(text)
            return hit
        out, exact = self._exact(text)
        findings: list[Finding] = list(exact)
        if self.action != "warn" and self.scanner.may_find(out):
            result = scan(out, [self.scanner], "redact")
            out = result.text
            findings += result.findings
        if findings and self.on_findings is not None:
            self.on_findings(findings, where)
        self._remember(text, out)
        return out

    def _remember(self, text: str, out: str) -> None:
        size = len(text) + len(out)
        if size > CACHE_MAX_CHARS // 4:
            return
        self._cache[text] = out
        self._cached_chars += size
        while self._cached_chars > CACHE_MAX_CHARS:
            old, old_out = self._cache.popitem(last=False)
            self._cached_chars -= len(old) + len(old_out)

    def redact_optional(self, text: str | None, *, where: str = "output") -> str | None:
        return None if text is None else self.redact(text, where=where)

    def redact_data(self, value: Any, *, where: str = "output") -> Any:
        """A copy of JSON-like data (dicts, lists, strings) with secrets redacted; other
        values (and data with nothing to redact) are returned as they are."""
        if isinstance(value, str):
            return self.redact(value, where=where)
        if isinstance(value, dict):
            items = {key: self.redact_data(item, where=where) for key, item in value.items()}
            same = all(items[key] is item for key, item in value.items())
            return value if same else items
        if isinstance(value, list):
            redacted = [self.redact_data(item, where=where) for item in value]
            return value if all(a is b for a, b in zip(redacted, value, strict=True)) else redacted
        return value

    def redact_fields(self, fields: dict[str, Any], *, where: str = "event") -> None:
        """Redact, in place, the text fields of an object's ``__dict__`` (an engine event)."""
        for key, value in fields.items():
            if key in _PLAIN_FIELDS:
                continue
            if isinstance(value, str):
                redacted: Any = self.redact(value, where=where)
            elif isinstance(value, dict | list):
                redacted = self.redact_data(value, where=where)
            elif isinstance(value, BaseModel):
                # An event's typed part (a notice's data): its own fields, in place.
                self.redact_fields(value.__dict__, where=where)
                continue
            else:
                continue
            if redacted is not value:
                fields[key] = redacted

    def with_secrets(self, pairs: Iterable[tuple[str, str]]) -> RedactionFilter:
        """The same filter knowing more exact values (added after the first ones)."""
        merged = SecretRedactor([*self.exact.pairs, *pairs])
        return RedactionFilter(
            merged, scanner=self._scanner, action=self.action, on_findings=self.on_findings
        )
