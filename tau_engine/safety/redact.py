"""Redaction of the user's secrets from text tau stores, prints or sends.

``SecretRedactor`` knows the exact values of the user's provider keys (by the
variable that held each) and replaces every occurrence with
``[REDACTED:<variable name>]``. tau runs tool results, error messages, route
notices, attached files and the system prompt through it before they reach a
provider request, the session store, the logs, a recording or an export.

This is the exact-match part of redaction: a key that a tool prints encoded
(base64, split across lines) is not recognised. It also catches a key cut in
two where tool output was truncated: a fragment of at least
``MIN_FRAGMENT`` characters at the edge of a line that is the start (or the
end) of a key is redacted too, since truncation always cuts at a line edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Shorter values are not treated as secrets: they would match ordinary words ("test"),
# and a key that short protects nothing anyway.
MIN_SECRET_CHARS = 8
# The shortest piece of a cut key that is still redacted.
MIN_FRAGMENT = 12


def redaction_marker(name: str) -> str:
    """What replaces the value of the variable ``name``."""
    return f"[REDACTED:{name}]"


@dataclass(frozen=True, slots=True)
class _Secret:
    value: str
    marker: str


class SecretRedactor:
    """Replaces known secret values in text. Immutable; cheap when there are none."""

    def __init__(self, secrets: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        """``secrets`` maps a variable name to its value; the first name of a value wins."""
        pairs = secrets.items() if isinstance(secrets, Mapping) else secrets
        seen: dict[str, str] = {}
        for name, value in pairs:
            value = value.strip()
            if len(value) >= MIN_SECRET_CHARS and value not in seen:
                seen[value] = name
        # Longest first, so a key that contains another key is replaced whole.
        self._secrets = tuple(
            _Secret(value, redaction_marker(name))
            for value, name in sorted(seen.items(), key=lambda item: -len(item[0]))
        )

    def __bool__(self) -> bool:
        return bool(self._secrets)

    @property
    def names(self) -> list[str]:
        """The variables whose values are redacted (for diagnostics; never the values)."""
        return [s.marker[len("[REDACTED:") : -1] for s in self._secrets]

    @property
    def values(self) -> list[str]:
        """The secret values (for hashing them into audit records; never print them)."""
        return [s.value for s in self._secrets]

    @property
    def pairs(self) -> list[tuple[str, str]]:
        """(variable, value) of every secret, to build a redactor that knows more."""
        return [(s.marker[len("[REDACTED:") : -1], s.value) for s in self._secrets]

    def present(self, text: str) -> list[tuple[str, str]]:
        """(variable, value) of each secret whose whole value occurs in ``text``."""
        if not self._secrets or not text:
            return []
        return [
            (s.marker[len("[REDACTED:") : -1], s.value) for s in self._secrets if s.value in text
        ]

    def redact(self, text: str) -> str:
        """``text`` with every known secret, and every cut piece of one, replaced."""
        if not self._secrets or not text:
            return text
        for secret in self._secrets:
            if secret.value in text:
                text = text.replace(secret.value, secret.marker)
        for secret in self._secrets:
            if len(secret.value) > MIN_FRAGMENT:
                text = _redact_cut_pieces(text, secret)
        return text

    def redact_optional(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text)

    def redact_data(self, value: object) -> object:
        """A copy of JSON-like data (dicts, lists, strings) with secrets redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {key: self.redact_data(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_data(item) for item in value]
        return value


def _redact_cut_pieces(text: str, secret: _Secret) -> str:
    """Redact a line that ends with the start of ``secret`` or starts with its end."""
    value = secret.value
    head, tail = value[:MIN_FRAGMENT], value[-MIN_FRAGMENT:]
    if head not in text and tail not in text:
        return text
    spans: list[tuple[int, int]] = []
    start = text.find(head)
    while start >= 0:
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if value.startswith(text[start:end]):
            spans.append((start, end))
        start = text.find(head, start + 1)
    stop = text.find(tail)
    while stop >= 0:
        end = stop + MIN_FRAGMENT
        begin = text.rfind("\n", 0, stop) + 1
        if value.endswith(text[begin:end]):
            spans.append((begin, end))
        stop = text.find(tail, stop + 1)
    merged: list[tuple[int, int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((begin, end))
    for begin, end in reversed(merged):
        text = text[:begin] + secret.marker + text[end:]
    return text
