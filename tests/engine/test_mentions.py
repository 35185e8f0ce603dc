"""``@path`` mentions: listing workspace files and attaching mentioned ones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tau_engine.mentions import (
    MAX_ATTACHMENT_BYTES,
    Attachments,
    attach_mentions,
    list_workspace_files,
    mentioned_paths,
)


def test_mentions_are_parsed_in_order_without_duplicates() -> None:
    text = "see @a.py and @src/b.py, then @a.py again; mail@example.com is not one"
    assert mentioned_paths(text) == ["a.py", "src/b.py"]


def test_attach_reads_files_inside_the_workspace_only(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "src" / "b.py").write_text("print('b')\n")
    (root / "img.bin").write_bytes(b"\x00\x01binary")
    (tmp_path / "secret.txt").write_text("secret")
    os.symlink(tmp_path / "secret.txt", root / "link.txt")
    found = attach_mentions("look at @src/b.py @img.bin @../secret.txt @link.txt @missing.py", root)
    assert found.attached == ["src/b.py"]
    assert "<attached_file path=\"src/b.py\">\nprint('b')" in found.prompt
    assert found.prompt.count("<attached_file") == 1 and "\nsecret" not in found.prompt
    assert attach_mentions("no mentions here", root) == Attachments("no mentions here")


def test_each_mention_not_attached_whole_says_why(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "src").mkdir(parents=True)
    (root / "ok.txt").write_text("fine\n")
    (root / "img.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (root / "big.log").write_text("x" * (MAX_ATTACHMENT_BYTES + 250_000))
    (tmp_path / "secret.txt").write_text("secret")
    found = attach_mentions("@ok.txt @missing.py @src @img.png @big.log @../secret.txt", root)
    assert found.attached == ["ok.txt", "big.log"]
    assert found.notes == [
        "@missing.py: no such file in the workspace; sent as typed",
        "@src: a folder; not attached (mention the files in it)",
        "@img.png: a binary file; not attached (the model sees its path)",
        "@big.log: cut at 100 KB of 350 KB; the model sees the start",
        "@../secret.txt: outside the workspace; not attached",
    ]
    assert found.prompt.count("x") >= MAX_ATTACHMENT_BYTES
    assert "[... cut at 100 KB]" in found.prompt


async def test_the_engine_announces_mention_notes_to_every_front_end(workspace: Path) -> None:
    from tau_engine.events import BaseEvent
    from tests.engine.test_engine import open_engine

    (workspace / "src").mkdir()
    engine = await open_engine(workspace)
    events: list[BaseEvent] = []
    engine.bus.subscribe(events.append)
    try:
        await engine.run("look at @src and @nope.py")
        notices = [e for e in events if e.type == "notice"]
        assert [(n.kind, n.message) for n in notices] == [  # type: ignore[attr-defined]
            ("mention", "@src: a folder; not attached (mention the files in it)"),
            ("mention", "@nope.py: no such file in the workspace; sent as typed"),
        ]
        # Stored with the session, so a later reader of the event log sees them too.
        assert engine.session is not None
        stored = await engine.store.events(engine.session.id)
        assert sum(e.type == "notice" for e in stored) == 2
    finally:
        await engine.close()


def test_list_workspace_files_uses_git_and_skips_junk(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "node_modules").mkdir(parents=True)
    (root / "node_modules" / "x.js").write_text("x")
    (root / "a.py").write_text("a")
    assert list_workspace_files(root) == ["a.py"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("node_modules/\n")
    assert list_workspace_files(root) == [".gitignore", "a.py"]
