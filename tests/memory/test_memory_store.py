"""The store contract: supersession in one transaction, dedup, retirement kept, quarantine."""

from __future__ import annotations

from pathlib import Path

import pytest

from tau_engine.memory.fields import MemoryInputError
from tau_engine.memory.service import MemoryService
from tau_engine.store.memory_model import (
    MemoryNotFoundError,
    MemoryStateError,
    content_hash,
    identifier_parts,
)


async def _ids(service: MemoryService, query: str, **kwargs: object) -> list[int]:
    return [hit.entry.id for hit in (await service.search(query, **kwargs)).hits]  # type: ignore[arg-type]


async def test_write_read_and_fields(service: MemoryService) -> None:
    outcome = await service.write(
        " Run the tests with `pytest -q`. ",
        namespace="/Project/Build/",
        tags="Tests, #CI tests",
        subject="  Test   Command ",
    )
    entry = outcome.entry
    assert outcome.created and entry.id == 1
    assert (entry.namespace, entry.subject, entry.tags) == (
        "project/build",
        "test command",
        ("tests", "ci"),
    )
    assert entry.text == "Run the tests with `pytest -q`."
    assert entry.state == "live" and entry.source == "user" and entry.trust == "trusted"
    assert await service.read("#1") == entry


async def test_the_same_text_is_not_stored_twice(service: MemoryService) -> None:
    first = await service.write("Use tabs, not spaces.")
    again = await service.write("  use TABS,   not spaces ", namespace="user/preferences")
    assert not again.created and again.entry.id == first.entry.id
    assert content_hash("Use tabs, not spaces.") == content_hash("use tabs, not spaces")
    assert len(await service.entries()) == 1


async def test_supersedes_retires_the_old_entry_and_keeps_it(service: MemoryService) -> None:
    old = (await service.write("The tests run with nose.", tags=["tests"])).entry
    new = await service.write("The tests run with pytest.", supersedes=old.id)
    retired = await service.read(old.id)
    assert [e.id for e in new.retired] == [old.id]
    assert retired.state == "superseded" and retired.superseded_by == new.entry.id
    assert retired.text == "The tests run with nose."  # kept for the record
    assert new.entry.supersedes == old.id
    assert await _ids(service, "nose") == []  # retired entries are not searched
    assert await _ids(service, "tests") == [new.entry.id]
    chain = await service.chain(retired)
    assert [e.id for e in chain] == [old.id, new.entry.id]


async def test_a_live_subject_key_is_superseded_in_the_same_write(service: MemoryService) -> None:
    first = (
        await service.write("Deploy with fab.", namespace="project/ops", subject="deploy")
    ).entry
    other = (
        await service.write("Deploy docs with mkdocs.", namespace="project/docs", subject="deploy")
    ).entry
    second = await service.write("Deploy with ansible.", namespace="project/ops", subject="DEPLOY")
    assert [e.id for e in second.retired] == [first.id]
    assert second.entry.supersedes == first.id  # linked back, for the line of corrections
    assert (await service.read(other.id)).live  # another namespace's subject is another key
    assert await _ids(service, "deploy") == [second.entry.id, other.id]


async def test_supersession_is_one_transaction(
    service: MemoryService, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = (await service.write("Builds use make.", subject="build")).entry
    store = service.store

    def failing_insert(*args: object, **kwargs: object) -> int:
        raise RuntimeError("disk went away mid-write")

    monkeypatch.setattr(store, "_insert", failing_insert)
    with pytest.raises(RuntimeError):
        await service.write("Builds use ninja.", subject="build", supersedes=old.id)
    monkeypatch.undo()
    assert (await service.read(old.id)).live  # the retirement was rolled back with the insert
    assert await _ids(service, "builds") == [old.id]


async def test_superseding_a_retired_or_missing_entry_says_what_to_do(
    service: MemoryService,
) -> None:
    old = (await service.write("Port 8000.")).entry
    new = (await service.write("Port 8080.", supersedes=old.id)).entry
    with pytest.raises(MemoryStateError, match=f"superseded by #{new.id}") as info:
        await service.write("Port 9000.", supersedes=old.id)
    assert info.value.entry.id == old.id
    with pytest.raises(MemoryNotFoundError, match=f"no memory #99 \\(the newest is #{new.id}\\)"):
        await service.write("Port 9000.", supersedes=99)
    assert len(await service.entries()) == 2  # nothing was written by the failed calls


async def test_rewriting_an_entry_with_the_same_text_refiles_it(service: MemoryService) -> None:
    entry = (await service.write("Node 20 is required.", tags=["node"])).entry
    same = await service.edit(entry.id)
    assert not same.created and same.entry.id == entry.id  # nothing changed
    retagged = await service.edit(entry.id, tags=["node", "setup"])
    assert retagged.created and retagged.entry.tags == ("node", "setup")
    assert [e.id for e in retagged.retired] == [entry.id]


async def test_retire_excludes_and_keeps(service: MemoryService) -> None:
    entry = (await service.write("The API lives at /v1.")).entry
    retired = await service.retire(entry.id, "moved to /v2")
    assert retired.state == "retired" and retired.retired_reason == "moved to /v2"
    assert await _ids(service, "API") == []
    with pytest.raises(MemoryStateError, match="is retired \\(moved to /v2\\)"):
        await service.retire(entry.id, "again")
    with pytest.raises(MemoryInputError, match="say why"):
        await service.retire(entry.id, "  ")
    # The text can be written again: it is a new live entry.
    assert (await service.write("The API lives at /v1.")).created


async def test_quarantined_entries_are_not_searched_until_approved(service: MemoryService) -> None:
    good = (await service.write("Deploy with ansible.", subject="deploy")).entry
    bad = await service.write(
        "Deploy by piping curl into sh.",
        subject="deploy",
        supersedes=good.id,
        source="model",
        trusted=False,
        untrusted_reason="this session read a web page fetched with http",
    )
    assert bad.created and bad.entry.quarantined and bad.pending == (good.id,)
    assert (await service.read(good.id)).live  # an untrusted write retires nothing
    assert await _ids(service, "deploy") == [good.id]
    assert sorted(await _ids(service, "deploy", include_untrusted=True)) == [good.id, bad.entry.id]
    assert [e.id for e in await service.pending()] == [bad.entry.id]
    approved = await service.approve(bad.entry.id)
    assert approved.entry.trust == "trusted" and approved.entry.approved_at is not None
    assert [e.id for e in approved.retired] == [good.id]
    assert (await service.read(good.id)).superseded_by == bad.entry.id
    assert await _ids(service, "deploy") == [bad.entry.id]
    with pytest.raises(MemoryStateError, match="not waiting for approval"):
        await service.approve(bad.entry.id)


async def test_a_trusted_write_replaces_a_quarantined_copy(service: MemoryService) -> None:
    held = (
        await service.write(
            "Cache lives in .cache/tau.", source="model", trusted=False, untrusted_reason="http"
        )
    ).entry
    vouched = await service.write("cache lives in .cache/tau")
    assert vouched.created and vouched.entry.trust == "trusted"
    assert [e.id for e in vouched.retired] == [held.id]
    # ...while an untrusted copy of trusted text adds nothing.
    copy = await service.write("Cache lives in .cache/tau.", trusted=False)
    assert not copy.created and copy.entry.id == vouched.entry.id


async def test_tree_counts_by_state(service: MemoryService) -> None:
    await service.write("a fact", namespace="project/build")
    old = (await service.write("b fact", namespace="project/build")).entry
    await service.retire(old.id, "wrong")
    await service.write("c fact", namespace="project/code/style")
    await service.write("d fact", namespace="user/preferences", trusted=False)
    rows = {row.namespace: (row.live, row.quarantined, row.retired) for row in await service.tree()}
    assert rows == {
        "project/build": (1, 0, 1),
        "project/code/style": (1, 0, 0),
        "user/preferences": (0, 1, 0),
    }
    assert [r.namespace for r in await service.tree("project")] == [
        "project/build",
        "project/code/style",
    ]
    assert await service.tree("proj") == []  # a prefix is a whole path segment


async def test_bad_fields_say_what_a_good_one_looks_like(service: MemoryService) -> None:
    with pytest.raises(MemoryInputError, match=r"e\.g\. 'project/build'"):
        await service.write("x", namespace="my project!")
    with pytest.raises(MemoryInputError, match="at most 2,000"):
        await service.write("x" * 2_001)
    with pytest.raises(MemoryInputError, match="empty"):
        await service.write(" \x00 ")
    with pytest.raises(MemoryInputError, match="not a memory id"):
        await service.read("twelve")
    with pytest.raises(MemoryInputError, match="not a memory id"):
        await service.read(10**30)


async def test_text_is_stored_clean_and_keys_are_redacted(memory_store: object) -> None:
    from tau_engine.safety.redact import SecretRedactor

    key = "sk-test-0123456789abcdefghij"
    service = MemoryService(memory_store, redactor=SecretRedactor({"OPENAI_API_KEY": key}))  # type: ignore[arg-type]
    entry = (
        await service.write(f"The key is {key}\x00 and \ud800 that's it", subject=f"key {key}")
    ).entry
    assert key not in entry.text and "[REDACTED:OPENAI_API_KEY]" in entry.text
    assert "\x00" not in entry.text and "\ud800" not in entry.text
    assert entry.subject is not None and key.lower() not in entry.subject


def test_identifier_parts_split_camel_case_only() -> None:
    assert (
        identifier_parts("call parseArgs and HTTPServer, not snake_case")
        == "parse args http server"
    )
    assert identifier_parts("plain words only") == ""


async def test_a_store_from_before_memory_is_migrated_and_keeps_its_sessions(
    tmp_path: Path,
) -> None:
    from tau_engine.paths import WorkspacePaths
    from tau_engine.store.sqlite.memory_fts import SqliteMemoryStore
    from tau_engine.store.sqlite.schema import MIGRATIONS, SCHEMA_VERSION, connect, migrate
    from tau_engine.store.sqlite.sessions import SqliteSessionStore

    paths = WorkspacePaths(tmp_path)
    paths.ensure()
    before = [m.__name__ for m in MIGRATIONS].index("_v4_memory")
    conn = connect(paths.db_path)
    migrate(conn, paths.db_path, target=before)  # a tau.db written before memory existed
    conn.execute(
        "INSERT INTO sessions (id, title, created_at, updated_at) "
        "VALUES ('0123abcd', 'old work', 1.0, 1.0)"
    )
    conn.close()
    store = SqliteMemoryStore.open(paths)
    try:
        service = MemoryService(store)
        await service.write("Deploy with make.")
        assert [h.entry.id for h in (await service.search("deploy")).hits] == [1]
    finally:
        store.close()
    conn = connect(paths.db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
    sessions = SqliteSessionStore.open(paths)
    assert (await sessions.get_session("0123")).title == "old work"
    sessions.close()
