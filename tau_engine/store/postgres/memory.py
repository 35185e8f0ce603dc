"""``PostgresMemoryStore``: learned memory in PostgreSQL, searched with its full-text
search (``tsvector``, ``ts_rank``).

Writes are ``SqlMemoryStore``'s, shared with SQLite. Each entry's ``search`` column (a
generated ``tsvector``, ``data_schema.py``) weighs the text A, the tags B, the namespace
C and the parts of camelCase identifiers D; ``ts_rank`` with the weights of SQLite's
BM25 columns (4 : 2 : 1 : 1) orders the hits, ties to the newer entry.

The compiled query (``memory_query.py``) is rendered as a ``tsquery`` built from
functions, never by splicing text into the ``tsquery`` language: each term's text goes,
as a bound parameter, through ``phraseto_tsquery``, which reads any text as words; a
prefix term's last word, which holds only letters and digits once the separators are
gone, is quoted and given ``:*``. So no text a user or a model types can make the
search fail, as on SQLite.
"""

from __future__ import annotations

import re
from typing import Any

from tau_engine.store.memory_model import MemoryHit
from tau_engine.store.memory_query import CompiledQuery, QueryTerm
from tau_engine.store.postgres.data_schema import SEPARATORS, TEXT_SEARCH_CONFIG, words
from tau_engine.store.postgres.database import PgDatabase
from tau_engine.store.sql.memory_records import E_COLUMNS, entry_from_row, like_prefix
from tau_engine.store.sql.memory_store import SqlMemoryStore

RANK_WEIGHTS = "{0.25, 0.25, 0.5, 1.0}"
"""``ts_rank``'s weights of classes D, C, B, A: SQLite's BM25 weights 1, 1, 2, 4 scaled."""
SNIPPET_WORDS = 24
_HIT_START, _HIT_END = "\x01", "\x02"
_SEPARATORS = re.compile(SEPARATORS)
_CFG = f"'{TEXT_SEARCH_CONFIG}'"
_SNIPPET = f"'StartSel=**, StopSel=**, MaxWords={SNIPPET_WORDS}, MinWords=8, ShortWord=1'"
_MARK = "'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', HighlightAll=true'"


def _term_sql(term: QueryTerm) -> tuple[str, list[str]]:
    """One term as a ``tsquery`` expression and its parameters."""
    found = _SEPARATORS.sub(" ", term.text).split()
    if not term.prefix or not found:
        return f"phraseto_tsquery({_CFG}, %s)", [" ".join(found) or term.text]
    last = f"to_tsquery({_CFG}, %s)"
    quoted = "'" + found[-1].replace("'", "").replace("\\", "") + "':*"
    if len(found) == 1:
        return last, [quoted]
    return f"tsquery_phrase(phraseto_tsquery({_CFG}, %s), {last})", [" ".join(found[:-1]), quoted]


def to_tsquery_sql(query: CompiledQuery) -> tuple[str, list[str]]:
    """The compiled query as one ``tsquery`` expression (terms ANDed with ``&&`` or ORed
    with ``||``) and its parameters. Empty for an empty query (not run)."""
    parts: list[str] = []
    params: list[str] = []
    for term in query.terms:
        sql, values = _term_sql(term)
        parts.append(sql)
        params += values
    joiner = " && " if query.mode == "all" else " || "
    return joiner.join(f"({part})" for part in parts), params


def _matched(*highlighted: str | None) -> tuple[str, ...]:
    """The distinct words ``ts_headline`` marked as matching, in the order they appear."""
    found: list[str] = []
    for text in highlighted:
        for piece in (text or "").split(_HIT_START)[1:]:
            word = piece.split(_HIT_END, 1)[0].strip().lower()
            if word and word not in found:
                found.append(word)
    return tuple(found)


class PostgresMemoryStore(SqlMemoryStore):
    """Memory in PostgreSQL. Open with ``PostgresMemoryStore.open``."""

    @classmethod
    def open(cls, url: str, where: str) -> PostgresMemoryStore:
        """Connect and migrate (blocking). ``where`` names the database in messages."""
        return cls(PgDatabase.open(url, where, "memory store"))

    def search_sync(
        self,
        query: CompiledQuery,
        *,
        limit: int,
        include_untrusted: bool = False,
        namespace: str | None = None,
    ) -> list[MemoryHit]:
        """``search`` on the calling thread."""
        if query.empty:
            return []
        tsquery, params = to_tsquery_sql(query)
        where = ["e.retired_at IS NULL", "e.search @@ q.query"]
        filters: list[Any] = []
        if not include_untrusted:
            where.append("e.trust = 'trusted'")
        if namespace:
            where.append("(e.namespace = %s OR e.namespace LIKE %s ESCAPE '\\')")
            filters += [namespace, like_prefix(namespace)]
        # The headlines are made for the rows returned only (the inner LIMIT).
        sql = (
            f"SELECT hit.*, ts_headline({_CFG}, hit.text, hit.query, {_SNIPPET}), "
            f"ts_headline({_CFG}, {words('hit.text')}, hit.query, {_MARK}), "
            f"ts_headline({_CFG}, {words('hit.tags')}, hit.query, {_MARK}), "
            f"ts_headline({_CFG}, hit.identifier_parts, hit.query, {_MARK}) "
            f"FROM (SELECT {E_COLUMNS}, "
            f"ts_rank('{RANK_WEIGHTS}', e.search, q.query) AS score, "
            "e.identifier_parts, q.query "
            f"FROM memory_entries e, (SELECT {tsquery} AS query) q "
            f"WHERE {' AND '.join(where)} ORDER BY score DESC, e.id DESC LIMIT %s) hit "
            "ORDER BY hit.score DESC, hit.id DESC"
        )
        with self._db.read() as conn:
            rows = conn.raw.execute(sql, (*params, *filters, limit)).fetchall()
        return [
            MemoryHit(
                entry=entry_from_row(row[:18]),
                score=float(row[18]),
                snippet=row[21],
                matched=_matched(row[22], row[23], row[24]),
            )
            for row in rows
        ]
