"""Change detection for ``tau watch`` and its kubectl-style diff."""

from __future__ import annotations

import time
from pathlib import Path

from tau_engine.status.objects import StoreWatcher, diff_objects, read_objects
from tests.support.operator_seed import NOW, add_job, open_store, seed_workspace


def test_the_watcher_sees_other_connections_commits_and_log_writes_only(tmp_path: Path) -> None:
    watcher = StoreWatcher(tmp_path)
    assert watcher.changed()  # the first look
    assert not watcher.changed()  # no store yet, nothing moved
    seed_workspace(tmp_path, now=NOW)
    assert watcher.changed()
    conn = watcher.connection()
    assert conn is not None
    read_objects(conn, NOW)  # its own reads are no change
    assert not watcher.changed()
    writer = open_store(tmp_path)
    add_job(writer, "f6" * 16, state="queued", created_at=NOW)
    writer.close()
    assert watcher.changed() and not watcher.changed()
    audit = tmp_path / ".tau" / "logs" / "audit.jsonl"
    audit.write_text(audit.read_text() + '{"kind": "deny"}\n')
    stamp = time.time() + 5
    import os

    os.utime(audit, (stamp, stamp))
    assert watcher.changed()
    watcher.close()


def test_diff_objects_is_added_modified_deleted() -> None:
    before = {("job", "a"): {"state": "queued"}, ("job", "b"): {"state": "running"}}
    after = {("job", "a"): {"state": "running"}, ("session", "c"): {"title": "t"}}
    assert diff_objects(before, after) == [
        {"type": "MODIFIED", "kind": "job", "id": "a", "object": {"state": "running"}},
        {"type": "ADDED", "kind": "session", "id": "c", "object": {"title": "t"}},
        {"type": "DELETED", "kind": "job", "id": "b", "object": {"state": "running"}},
    ]
    assert diff_objects(after, after) == []
