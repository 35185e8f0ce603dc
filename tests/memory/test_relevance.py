"""Relevance on a small fixed corpus: for each query, the right entry ranks first."""

from __future__ import annotations

import pytest

from tau_engine.memory.retrieval import query_from_prompt
from tau_engine.memory.service import MemoryService

CORPUS: list[tuple[str, str, list[str]]] = [
    (
        "project/build",
        "Run the test suite with `pytest -q -x`; the slow tests are marked "
        "`@pytest.mark.slow` and skipped unless `--runslow` is given.",
        ["tests"],
    ),
    (
        "project/build",
        "Build the wheel with `python -m build`; the version comes from `tau_engine/__init__.py`.",
        ["packaging"],
    ),
    (
        "project/build",
        "CI runs on GitHub Actions: `.github/workflows/ci.yml` runs ruff, mypy "
        "and the tests on Python 3.11 and 3.12.",
        ["ci"],
    ),
    (
        "project/code",
        "The agent loop lives in `tau_engine/agent/loop.py`; one turn is exactly "
        "one provider request.",
        ["architecture"],
    ),
    (
        "project/code",
        "Provider errors are `ProviderError` with a `kind` such as rate_limit or "
        "context_length; the router retries the retryable ones.",
        ["errors"],
    ),
    (
        "project/code",
        "The SQLite store uses WAL mode and BEGIN IMMEDIATE for writes, so two "
        "processes never deadlock.",
        ["database"],
    ),
    (
        "project/code",
        "parseArgs in the CLI keeps argparse's error format and exits with code 2.",
        ["cli"],
    ),
    (
        "project/code",
        "Configuration precedence: flags, environment, workspace config.toml, "
        "user config.toml, defaults.",
        ["config"],
    ),
    (
        "project/ops",
        "Deploy to staging with `make deploy ENV=staging`; production needs a release tag.",
        ["deploy"],
    ),
    ("project/ops", "The staging database is reset every Monday at 06:00 UTC.", ["database"]),
    ("user/preferences", "The user prefers small commits with imperative messages.", ["git"]),
    ("user/preferences", "Answer in British English; no emoji in code comments.", ["style"]),
    ("user/preferences", "The user's editor is Neovim with the ruff language server.", ["editor"]),
    ("project/code", "Textual widgets post messages upward and hold no business logic.", ["tui"]),
    (
        "project/code",
        "Snapshot tests live in `snapshots/` and are updated with `pytest --snapshot-update`.",
        ["tests", "tui"],
    ),
    (
        "project/setup",
        "Install with `pip install -e '.[dev]'` inside a venv; Python 3.11 or newer.",
        ["setup"],
    ),
    (
        "project/setup",
        "Café names with diacritics are normalised: résumé matches resume.",
        ["unicode"],
    ),
    (
        "project/code",
        "HTTPServer subclasses in tests bind to port 0 so the OS picks a free port.",
        ["tests", "network"],
    ),
]

QUERIES: list[tuple[str, int]] = [
    ("pytest", 1),
    ("slow tests", 1),
    ("wheel", 2),
    ("build wheel version", 2),
    ("github actions", 3),
    ("ci", 3),
    ("agent loop", 4),
    ("provider request", 4),
    ("rate_limit", 5),
    ("retries", 5),
    ("WAL", 6),
    ("deadlock", 6),
    ("args", 7),
    ("exit code", 7),
    ("precedence", 8),
    ("deploy staging", 9),
    ("release tag", 9),
    ("staging database reset", 10),
    ("commits", 11),
    ("emoji", 12),
    ("neovim", 13),
    ("business logic", 14),
    ("snapshot", 15),
    ("snapshot-update", 15),
    ("install venv", 16),
    ("resume", 17),
    ("résumé", 17),
    ("server port", 18),
    ("deplo*", 9),
    ('"free port"', 18),
]

PROMPTS: list[tuple[str, int]] = [
    ("what's the command to run the test suite?", 1),
    ("can you deploy this to staging for me", 9),
    ("Why does the provider keep retrying on rate limits?", 5),
    ("please write the commit message", 11),
    ("set up a fresh venv and install the project", 16),
    ("where is the agent loop?", 4),
]


@pytest.fixture
async def corpus(service: MemoryService) -> MemoryService:
    for namespace, text, tags in CORPUS:
        await service.write(text, namespace=namespace, tags=tags)
    return service


@pytest.mark.parametrize(("query", "expected"), QUERIES)
async def test_the_right_entry_ranks_first(
    corpus: MemoryService, query: str, expected: int
) -> None:
    hits = (await corpus.search(query)).hits
    assert hits, f"no hit for {query!r}"
    assert hits[0].entry.id == expected, [(h.entry.id, round(h.score, 3)) for h in hits]


@pytest.mark.parametrize(("prompt", "expected"), PROMPTS)
async def test_a_prompt_finds_its_entry_first(
    corpus: MemoryService, prompt: str, expected: int
) -> None:
    hits = (await corpus.search(query_from_prompt(prompt), match="any")).hits
    assert hits and hits[0].entry.id == expected, [(h.entry.id, round(h.score, 3)) for h in hits]


async def test_an_ambiguous_prompt_offers_both_candidates(corpus: MemoryService) -> None:
    # "run" and "tests" are in the test-command entry (#1) and the CI entry (#3); BM25's
    # length normalisation puts the shorter CI entry first. Retrieval offers both.
    hits = (await corpus.search(query_from_prompt("How do I run the tests?"), match="any")).hits
    assert {hit.entry.id for hit in hits[:2]} == {1, 3}


async def test_text_is_weighted_above_tags(service: MemoryService) -> None:
    in_tags = (await service.write("Lint before every push.", tags=["flake"])).entry
    in_text = (await service.write("Flake rules live in setup.cfg.", tags=["lint"])).entry
    ranked = [hit.entry.id for hit in (await service.search("flake")).hits]
    assert ranked == [in_text.id, in_tags.id]


async def test_snippets_mark_the_matched_words(corpus: MemoryService) -> None:
    hit = (await corpus.search("staging database")).hits[0]
    assert "**staging** **database**" in hit.snippet
    assert set(hit.matched) >= {"staging", "database"}


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("system_prompt", True),
        ("prompt.py", True),
        ("tau_engine/agent", True),
        ("parse*", True),
        ("args", True),
        ("server", True),
        ("http", True),
        ("build_system_prompt", True),
        ("ystem", False),
    ],
)
async def test_identifiers_are_found_by_their_words(
    service: MemoryService, query: str, found: bool
) -> None:
    await service.write("build_system_prompt lives in tau_engine/agent/prompt.py")
    await service.write("parseArgs wraps argparse; HTTPServer binds port 0")
    assert bool((await service.search(query)).hits) is found


async def test_equal_scores_put_the_newer_entry_first(service: MemoryService) -> None:
    older = (await service.write("alpha beta gamma")).entry
    newer = (await service.write("alpha delta gamma")).entry
    assert [h.entry.id for h in (await service.search("alpha gamma")).hits] == [newer.id, older.id]
