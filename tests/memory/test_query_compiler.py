"""The query compiler never fails on text, and a real failure is never "0 results"."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tau_engine.errors import StoreError
from tau_engine.memory.service import MemoryService
from tau_engine.store.memory_query import (
    MAX_TERMS,
    CompiledQuery,
    QueryTerm,
    compile_query,
    to_fts5,
)

PUNCTUATION = [*"-.@#=&'\":()*^~%!?,;", "+", "/", "\\", "[", "]", "{", "}", "<", ">", "|", "$", "`"]
HOSTILE = [
    *PUNCTUATION,
    "",
    " ",
    "   \t\n  ",
    "\x00",
    "a\x00b",
    "\ud800",
    "tests\udfff",
    "\x1b[31mred\x1b[0m",
    '"',
    '""',
    '"""',
    '"unbalanced',
    'say"hi',
    "it's",
    "don't stop",
    "*",
    "**",
    "*foo",
    "foo*",
    "foo**",
    '"run te"*',
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(a b, 2)",
    "a AND",
    "OR b",
    "NOT a",
    "a OR OR b",
    "(a OR b) AND NOT c",
    "text:foo",
    "tags : ci",
    "{text tags}: x",
    "^start",
    "a + b",
    "-x",
    "--flag",
    "x -y",
    "C++",
    "node.js",
    "foo.bar()",
    "a=b&c=d",
    "user@example.com",
    "#123",
    "100%",
    "~/path",
    "$HOME",
    "`cmd`",
    "a;b",
    "a,b",
    "日本語のテスト",
    "Ünïcödé",
    # PostgreSQL's tsquery language: operators, weights, prefixes, quoting, escapes.
    ":*",
    "a:*",
    "a:*B",
    "x:AB",
    "&|!",
    "a & b | !c",
    "!!x",
    "a <-> b",
    "a <2> b",
    "'quoted'",
    "'it''s':*",
    "''",
    "'",
    "\\",
    "\\x\\",
    "a\\'b",
    "\\':*",
    "x' & 'y",
    "(!",
    "*:*:*",
    "'unbalanced:*",
    " ".join(f"w{i}:*&|!'\\" for i in range(200)),
    "q" * 20_000,
    ("tests* " * 3000).strip(),
    "ﬁle",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
    "🙂 emoji 🙂",
    "\u202ertl\u202c",
    "zero\u200bwidth",
    "x" * 5_000,
    "word " * 5_000,
    '"' * 1_001,
    "(" * 1_000,
    "a*" * 500,
    " ".join(f"w{i}" for i in range(200)),
]


def test_phrases_prefixes_and_doubled_quotes() -> None:
    query = compile_query('foo "bar  baz" qux* "run te"* say"hi')
    assert query.terms == (
        QueryTerm("foo"),
        QueryTerm("bar baz"),
        QueryTerm("qux", True),
        QueryTerm("run te", True),
        QueryTerm('say"hi'),
    )
    assert to_fts5(query) == '"foo" AND "bar baz" AND "qux"* AND "run te"* AND "say""hi"'
    assert to_fts5(compile_query("a b", "any")) == '"a" OR "b"'


def test_tokens_with_nothing_to_search_are_dropped_not_searched() -> None:
    query = compile_query("build - test ( ) :: @")
    assert [t.text for t in query.terms] == ["build", "test"]
    assert query.dropped == ("-", "(", ")", "::", "@")
    assert compile_query("  - * ").empty
    assert compile_query("").empty


def test_duplicates_and_limits() -> None:
    assert [t.text for t in compile_query("Tests tests TESTS tests*").terms] == ["Tests", "tests"]
    many = compile_query(" ".join(f"w{i}" for i in range(100)))
    assert len(many.terms) == MAX_TERMS and many.truncated
    long = compile_query("y" * 500)
    assert len(long.terms[0].text) == 128 and long.truncated


def test_control_characters_and_lone_surrogates_are_removed() -> None:
    query = compile_query("a\x00b \ud800c")
    assert [t.text for t in query.terms] == ["a", "b", "c"]
    to_fts5(query).encode("utf-8")  # storable: no lone surrogate left


@pytest.mark.parametrize("text", HOSTILE)
def test_compiling_hostile_text_never_raises(text: str) -> None:
    for mode in ("all", "any"):
        query = compile_query(text, mode)  # type: ignore[arg-type]
        assert isinstance(query, CompiledQuery)
        rendered = to_fts5(query)
        rendered.encode("utf-8")
        assert rendered.count('"') % 2 == 0


async def test_every_hostile_query_runs_against_the_store(service: MemoryService) -> None:
    await service.write(
        "C++ and node.js: install node with nvm, then npm ci.",
        namespace="project/setup",
        tags=["node", "c++"],
    )
    await service.write(
        "Run the tests with `pytest -q -x`; CI runs `make check`.",
        namespace="project/build",
        tags=["tests", "ci"],
    )
    await service.write("日本語のテスト is the Japanese fixture; Ünïcödé names are fine.")
    for text in HOSTILE:
        for mode in ("all", "any"):
            result = await service.search(text, match=mode)  # type: ignore[arg-type]
            assert isinstance(result.hits, list)
            assert result.query.empty == (not result.query.terms)


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("-nvm", True),
        ("(nvm)", True),
        ("nvm:", True),
        ("node.js", True),
        ('"node.js"', True),
        ("C++", True),
        ("npm*", True),
        ("np*", True),
        ("NEAR nvm", False),
        ("pytest -q", True),
        ("tests AND", False),
        ("`make check`", True),
        ("make check;", True),
        ("~nvm", True),
        ("^nvm", True),
        ("ci tags", False),
        ("Ünïcödé", True),
        ("unicode", True),
        ("日本語のテスト", True),
        ("xyzzy", False),
    ],
)
async def test_user_syntax_finds_the_words_in_it(
    service: MemoryService, query: str, found: bool
) -> None:
    await service.write(
        "C++ and node.js: install node with nvm, then npm ci.",
        namespace="project/setup",
        tags=["node", "c++"],
    )
    await service.write(
        "Run the tests with `pytest -q -x`; CI runs `make check`.",
        namespace="project/build",
        tags=["tests", "ci"],
    )
    await service.write("日本語のテスト is the Japanese fixture; Ünïcödé names are fine.")
    result = await service.search(query)
    assert bool(result.hits) is found, (query, result.query.describe())


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("a!b", True),
        ("c|d", True),
        ("e:*", True),
        ("'g'", True),
        ("\\h", True),
        ("i&", True),
        ("<->", False),
        ("j:AB", True),
        ("it's", True),
        ("it*", True),
        ("zz:*", False),
    ],
)
async def test_full_text_operators_in_text_are_words_on_every_backend(
    service: MemoryService, query: str, found: bool
) -> None:
    # Text holding tsquery and FTS5 syntax is stored and found by its words.
    await service.write("Operators a!b c|d <-> e:*f 'g' \\h i&j j:AB it's here.")
    result = await service.search(query)
    assert bool(result.hits) is found, (query, result.query.describe())


async def test_a_broken_index_is_an_error_not_zero_results(
    service: MemoryService, memory_root: Path, backend: str, store_url: str
) -> None:
    await service.write("Run the tests with pytest.")
    assert (await service.search("pytest")).hits
    if backend == "sqlite":
        conn = sqlite3.connect(memory_root / ".tau" / "tau.db")
        conn.execute("DROP TABLE memory_fts")
        conn.commit()
        conn.close()
    else:  # PostgreSQL's index is the entries' generated tsvector column
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute("ALTER TABLE memory_entries DROP COLUMN search")
    with pytest.raises(StoreError, match=r"memory_fts|search"):
        await service.search("pytest")
