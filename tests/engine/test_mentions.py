"""``@path`` mentions: listing workspace files and attaching mentioned ones."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tau_engine.mentions import attach_mentions, list_workspace_files, mentioned_paths


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
    prompt, attached = attach_mentions(
        "look at @src/b.py @img.bin @../secret.txt @link.txt @missing.py", root)
    assert attached == ["src/b.py"]
    assert '<attached_file path="src/b.py">\nprint(\'b\')' in prompt
    assert prompt.count("<attached_file") == 1 and "\nsecret" not in prompt
    assert attach_mentions("no mentions here", root) == ("no mentions here", [])


def test_list_workspace_files_uses_git_and_skips_junk(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "node_modules").mkdir(parents=True)
    (root / "node_modules" / "x.js").write_text("x")
    (root / "a.py").write_text("a")
    assert list_workspace_files(root) == ["a.py"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / ".gitignore").write_text("node_modules/\n")
    assert list_workspace_files(root) == [".gitignore", "a.py"]
