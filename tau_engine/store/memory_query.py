"""The query compiler: any text a user or a model types becomes a safe full-text query.

FTS5's query language treats ``-``, ``:``, ``(``, ``"``, ``*``, ``^``, ``AND``, ``NEAR``
and more as syntax, so passing user text to ``MATCH`` raises on half the queries people
type, and a memory tool that reports that as "0 results" teaches the model that
memory is empty. The compiler never raises on text:

* every token becomes a quoted phrase (embedded ``"`` doubled); a span in balanced
  double quotes stays one phrase (``"run tests" pytest``);
* a trailing ``*`` keeps prefix search (``pyt*``, ``"run te"*``);
* tokens with no letter or digit (``-``, ``@``, ``::``) are dropped: they would be empty
  phrases, which match nothing and would make an AND of terms match nothing;
* control characters and lone surrogates are removed (``NUL`` ends an FTS5 string);
* terms are ANDed; ``mode="any"`` (the explicit advanced mode, and per-turn retrieval)
  ORs them;
* at most ``MAX_TERMS`` distinct terms of at most ``MAX_TERM_CHARS`` characters, from the
  first ``MAX_QUERY_CHARS`` characters, so a pasted log cannot make a query slow.

The result is backend-neutral (``CompiledQuery``); ``to_fts5`` renders it for SQLite, and a
PostgreSQL backend renders the same terms as a ``tsquery``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

MatchMode = Literal["all", "any"]
MATCH_MODES: tuple[MatchMode, ...] = ("all", "any")
MAX_TERMS = 32
MAX_TERM_CHARS = 128
MAX_QUERY_CHARS = 10_000


@dataclass(frozen=True, slots=True)
class QueryTerm:
    """One phrase of a query, as typed (cleaned), and whether it is a prefix."""

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class CompiledQuery:
    """The terms of a query and how they combine. ``empty`` when nothing is searchable."""

    terms: tuple[QueryTerm, ...]
    mode: MatchMode = "all"
    dropped: tuple[str, ...] = ()  # tokens with nothing to search for
    truncated: bool = False  # terms or characters past the limits were left out

    @property
    def empty(self) -> bool:
        return not self.terms

    def describe(self) -> str:
        """The query as the store reads it, for ``why`` and error messages."""
        joiner = " AND " if self.mode == "all" else " OR "
        return joiner.join(f'"{t.text}"' + ("*" if t.prefix else "") for t in self.terms)


def _clean(text: str) -> str:
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:  # a lone surrogate cannot be encoded as UTF-8
            continue
        if code < 0x20 or 0x7F <= code < 0xA0:
            out.append(" ")
            continue
        out.append(ch)
    return "".join(out)


def _searchable(text: str) -> bool:
    # FTS5's unicode61 tokenizer keeps letters, numbers and private-use characters;
    # everything else separates tokens.
    return any(ch.isalnum() for ch in text)


def _tokens(text: str) -> list[tuple[str, bool]]:
    """Split into (token, was quoted) pairs: balanced double quotes make one token."""
    tokens: list[tuple[str, bool]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == '"':
            close = text.find('"', i + 1)
            if close > i:
                end = close + 1
                while end < n and text[end] == "*":
                    end += 1
                stars = "*" if end > close + 1 else ""
                tokens.append((text[i + 1 : close] + stars, True))
                i = end
                continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append((text[i:j], False))
        i = j
    return tokens


def compile_query(text: str, mode: MatchMode = "all") -> CompiledQuery:
    """The query for ``text``. Never raises: text with nothing searchable gives an empty
    query, which the caller reports as such (not as "no matches")."""
    if mode not in MATCH_MODES:
        raise ValueError(f"unknown match mode {mode!r}")  # a programming error, not text
    truncated = len(text) > MAX_QUERY_CHARS
    cleaned = _clean(text[:MAX_QUERY_CHARS])
    terms: list[QueryTerm] = []
    dropped: list[str] = []
    seen: set[tuple[str, bool]] = set()
    for raw, quoted in _tokens(cleaned):
        body = raw.rstrip("*")
        prefix = len(body) < len(raw)
        if quoted:
            body = " ".join(body.split())
        if not _searchable(body):
            dropped.append(raw)
            continue
        if len(body) > MAX_TERM_CHARS:
            body, prefix, truncated = body[:MAX_TERM_CHARS], False, True
        key = (body.casefold(), prefix)
        if key in seen:
            continue
        if len(terms) >= MAX_TERMS:
            truncated = True
            break
        seen.add(key)
        terms.append(QueryTerm(body, prefix))
    return CompiledQuery(tuple(terms), mode, tuple(dropped), truncated)


def to_fts5(query: CompiledQuery) -> str:
    """The FTS5 ``MATCH`` expression: quoted phrases (``"`` doubled), ``*`` for prefixes,
    joined by AND or OR. Empty for an empty query (the caller must not run it)."""
    joiner = " AND " if query.mode == "all" else " OR "
    return joiner.join(
        '"' + term.text.replace('"', '""') + '"' + ("*" if term.prefix else "")
        for term in query.terms
    )
