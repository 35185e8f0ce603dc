"""The operator snapshot: what it reads from a seeded workspace, and that it stays light,
read-only and safe on damaged or hostile input."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tau_engine.status.snapshot import SCHEMA_VERSION, read_snapshot
from tests.support.operator_seed import (
    BLOCKED_MISSION,
    NOW,
    RUNNING_JOB,
    SESSION_IDS,
    STALE_JOB,
    STUCK_JOB,
    add_job,
    open_store,
    seed_workspace,
)


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    seed_workspace(tmp_path)
    return tmp_path


def test_counts_and_latest_items_of_a_seeded_workspace(seeded: Path) -> None:
    snap = read_snapshot(seeded, now=NOW)
    assert snap.store.status == "ok" and snap.store.schema_version == SCHEMA_VERSION
    assert snap.sessions.count == 3 and snap.sessions.latest is not None
    assert snap.sessions.latest.id == SESSION_IDS[-1]
    assert snap.jobs.by_state["running"] == 3 and snap.jobs.by_state["queued"] == 1
    assert snap.jobs.by_state["succeeded"] == 1 and snap.jobs.total == 5
    assert (snap.jobs.stale, snap.jobs.stuck) == (1, 1)
    views = {job.id: job for job in snap.jobs.recent}
    assert views[RUNNING_JOB].operator_state == "running"
    assert views[STALE_JOB].operator_state == "stale-lease"
    assert views[STALE_JOB].next_command == "tau jobs recover"
    assert views[STUCK_JOB].next_command == f"tau jobs cancel {STUCK_JOB[:8]}"
    latest = snap.missions.latest
    assert latest is not None and latest.id == BLOCKED_MISSION
    assert latest.outcome == "blocked" and latest.unblock_command is not None
    assert snap.missions.blocked == 1 and snap.missions.count == 2
    assert snap.memory.entries == 3 and snap.memory.namespaces == {"project": 2, "user": 1}
    assert snap.audit.counts["deny"] == 1 and snap.audit.counts["injection"] == 1
    assert "allow" not in snap.audit.counts
    assert list(snap.providers) == ["openai/gpt-y", "anthropic/claude-x"]
    assert snap.attention == (
        "jobs.stale",
        "jobs.stuck",
        "mission.blocked",
        "providers.breaker_open",
    )
    gpt = snap.providers["openai/gpt-y"]
    assert (gpt.breaker, gpt.breaker_reason, gpt.status) == ("open", "rate_limit 429", "rate_limit")
    assert snap.providers["anthropic/claude-x"].breaker == "closed"
    assert snap.health == "attention"


def test_the_job_states_agree_with_tau_jobs_operator_view(seeded: Path) -> None:
    """The light classification and the full operator view (tau jobs show) agree."""
    from tau_engine.jobs.liveness import owner_alive, same_machine
    from tau_engine.jobs.operator import operator_view
    from tau_engine.store.job_rows import JOB_COLUMNS, job_from_row

    snap = read_snapshot(seeded, now=NOW)
    conn = sqlite3.connect(seeded / ".tau" / "tau.db")
    for job in snap.jobs.recent:
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job.id,)).fetchone()
        full = operator_view(
            job_from_row(row),
            [],
            now=NOW,
            is_alive=owner_alive,
            same_machine=same_machine,
            replay_safe=False,
        )
        if job.state in ("queued", "running", "succeeded"):
            assert (job.operator_state, job.next_command) == (full.state, full.next_command)
    conn.close()


def test_constants_copied_to_stay_light_match_their_sources() -> None:
    from tau_engine.jobs.operator import STUCK_AFTER_S
    from tau_engine.safety.audit import AUDIT_KINDS
    from tau_engine.status import held_locks, job_view, log_tail
    from tau_engine.store import session_lock
    from tau_engine.store.sqlite.schema import SCHEMA_VERSION as STORE_VERSION

    assert SCHEMA_VERSION == STORE_VERSION
    assert job_view.STUCK_AFTER_S == STUCK_AFTER_S
    assert log_tail.AUDIT_KINDS == AUDIT_KINDS
    for name in ["ab" * 16, "not hex/../x"]:
        assert held_locks.lock_file_name(name) == session_lock.lock_file_name(name)


def test_a_fresh_workspace_is_healthy_and_creates_nothing(tmp_path: Path) -> None:
    snap = read_snapshot(tmp_path)
    assert snap.store.status == "absent" and snap.healthy
    assert snap.sessions.count == 0 and snap.jobs.total == 0
    assert not (tmp_path / ".tau").exists()


def test_reading_writes_nothing_and_holds_no_lock(seeded: Path) -> None:
    db = seeded / ".tau" / "tau.db"
    before = db.read_bytes()
    writer = sqlite3.connect(db, timeout=0)
    read_snapshot(seeded, now=NOW)
    # A writer gets its lock at once: the reader left nothing open.
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("ROLLBACK")
    writer.close()
    assert db.read_bytes() == before


def test_a_reader_inside_a_writers_transaction_sees_the_last_commit(seeded: Path) -> None:
    writer = open_store(seeded)
    writer.execute("BEGIN IMMEDIATE")
    add_job(writer, "ff" * 16, state="queued", created_at=NOW)
    snap = read_snapshot(seeded, now=NOW)  # the writer still holds its lock
    assert snap.jobs.by_state["queued"] == 1
    writer.execute("COMMIT")
    writer.close()
    assert read_snapshot(seeded, now=NOW).jobs.by_state["queued"] == 2


def test_another_schema_version_is_an_error_not_a_guess(seeded: Path) -> None:
    conn = sqlite3.connect(seeded / ".tau" / "tau.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    snap = read_snapshot(seeded)
    assert snap.health == "error" and snap.store.schema_version == 99
    assert "schema version 99" in (snap.store.error or "")
    assert snap.attention == ("store.error", "providers.breaker_open")


def test_a_damaged_store_is_an_error_line(tmp_path: Path) -> None:
    (tmp_path / ".tau").mkdir()
    (tmp_path / ".tau" / "tau.db").write_bytes(b"not a database at all" * 100)
    snap = read_snapshot(tmp_path)
    assert snap.health == "error" and snap.store.error


def test_hostile_rows_and_logs_are_read_as_data(seeded: Path) -> None:
    conn = open_store(seeded)
    conn.execute('UPDATE jobs SET owner = \'{"pid": "1; rm"}\' WHERE id = ?', (RUNNING_JOB,))
    conn.execute("UPDATE missions SET state = 'not json' WHERE id = ?", (BLOCKED_MISSION,))
    conn.close()
    with open(seeded / ".tau" / "logs" / "audit.jsonl", "a") as log:
        log.write('{"kind": "deny", "tool": ["x"], "rule": 5}\n[1, 2]\n\x00\xff torn')
    snap = read_snapshot(seeded, now=NOW)
    views = {job.id: job for job in snap.jobs.recent}
    # An owner that does not parse is no owner: its lease alone decides.
    assert views[RUNNING_JOB].operator_state == "running"
    assert any("not readable" in note for note in snap.notes)
    assert snap.audit.counts["deny"] == 2 and snap.audit.recent[0].tool is None


def test_the_snapshot_is_plain_json(seeded: Path) -> None:
    data = read_snapshot(seeded, now=NOW).to_json()
    assert json.loads(json.dumps(data)) == json.loads(json.dumps(data, default=str))


def test_reading_a_snapshot_loads_no_pydantic_and_no_store(seeded: Path) -> None:
    code = (
        "import sys; from pathlib import Path; "
        "from tau_engine.status.snapshot import read_snapshot; "
        f"read_snapshot(Path({str(seeded)!r})); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'pydantic' "
        "or m.startswith('tau_engine.store') or m in ('httpx', 'asyncio')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_workspace_is_found_as_tau_finds_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tau_engine.errors import WorkspaceError
    from tau_engine.paths import WorkspacePaths
    from tau_engine.status.snapshot import locate_workspace

    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "sub" / ".tau").mkdir(parents=True)
    (tmp_path / "repo" / "sub" / "deep").mkdir()
    for start in ["repo", "repo/sub/deep", "repo/sub", "."]:
        monkeypatch.chdir(tmp_path / start)
        assert locate_workspace() == WorkspacePaths.locate().root
        assert locate_workspace("..") == WorkspacePaths.locate("..").root
    with pytest.raises(WorkspaceError):
        locate_workspace(str(tmp_path / "missing"))


def test_a_record_behaves_as_a_frozen_dataclass() -> None:
    from tau_engine.status.model import Memory, ProviderCall

    one = Memory(entries=1, retired=0, namespaces={"a": 1})
    assert one == Memory(1, 0, {"a": 1}) and one != Memory(2, 0, {})
    assert "entries=1" in repr(one)
    with pytest.raises(AttributeError):
        one.entries = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        Memory(entries=1, retired=0)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        ProviderCall("p", "m", "ok", None, 1.0, "extra")  # type: ignore[call-arg]


def test_the_jobs_list_has_its_own_limit(seeded: Path) -> None:
    snap = read_snapshot(seeded, limit=1, job_limit=3, now=NOW)
    assert len(snap.sessions.recent) == 1 and len(snap.missions.recent) == 1
    assert len(snap.jobs.recent) == 3
    assert len(read_snapshot(seeded, limit=2, now=NOW).jobs.recent) == 2


WORKSPACE_SAFETY = [None, "permissive", "strict"]


@pytest.mark.parametrize("trusted", [False, True])
@pytest.mark.parametrize("workspace_safety", WORKSPACE_SAFETY)
@pytest.mark.parametrize("user_safety", [None, "strict"])
@pytest.mark.parametrize("profile", [None, "work"])
@pytest.mark.parametrize("env_safety", [None, "hardened"])
def test_the_safety_shown_is_the_one_a_run_would_use(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    trusted: bool,
    workspace_safety: str | None,
    user_safety: str | None,
    profile: str | None,
    env_safety: str | None,
) -> None:
    """The light reading agrees with the settings layers over every combination."""
    from tau_engine.config import load_settings
    from tau_engine.config.profiles import Profile, ProfileStore
    from tau_engine.config.settings import DEFAULT_SAFETY
    from tau_engine.paths import WorkspacePaths
    from tau_engine.resources.trust import TrustStore
    from tau_engine.status.safety_view import read_safety_view

    config = tmp_path / "config"
    config.mkdir()
    monkeypatch.setenv("TAU_CONFIG_DIR", str(config))
    root = tmp_path / "ws"
    (root / ".tau").mkdir(parents=True)
    user_lines = [f'safety = "{user_safety}"'] if user_safety else []
    if profile:
        ProfileStore().save(
            profile,
            Profile(
                provider="offline", model="offline/echo", key_source="none", safety="permissive"
            ),
        )
        user_lines.append(f'profile = "{profile}"')
    (config / "config.toml").write_text("\n".join(user_lines) + "\n")
    if workspace_safety:
        (root / ".tau" / "config.toml").write_text(f'safety = "{workspace_safety}"\n')
    if trusted:
        TrustStore().decide(root, True)
    environ = {"TAU_CONFIG_DIR": str(config)}
    if env_safety:
        environ["TAU_SAFETY"] = env_safety
    expected = load_settings(WorkspacePaths(root), environ=environ, trusted=trusted)
    view = read_safety_view(root, environ)
    assert view.safety == (expected.safety or DEFAULT_SAFETY)
    assert view.profile == expected.profile


def test_safety_constants_copied_to_stay_light_match_their_sources() -> None:
    from tau_engine.config.settings import DEFAULT_SAFETY, SAFETY_ORDER
    from tau_engine.resources.trust import TRUST_FILE_NAME
    from tau_engine.status import safety_view

    assert safety_view.SAFETY_ORDER == SAFETY_ORDER
    assert safety_view.DEFAULT_SAFETY == DEFAULT_SAFETY
    assert safety_view.TRUST_FILE_NAME == TRUST_FILE_NAME


@pytest.mark.parametrize("xdg", [None, "", "/srv/conf"])
def test_the_config_dir_is_the_one_tau_uses(
    monkeypatch: pytest.MonkeyPatch, xdg: str | None
) -> None:
    from tau_engine.paths import user_config_dir
    from tau_engine.status.safety_view import config_dir_for as _config_dir

    monkeypatch.delenv("TAU_CONFIG_DIR", raising=False)
    if xdg is None:
        monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert Path(_config_dir(os.environ)) == user_config_dir()
