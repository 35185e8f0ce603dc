"""``tau status``, ``tau shell`` and ``tau watch`` on a shared PostgreSQL store, end to end:
the store is chosen as every command chooses it, the snapshot is the SQLite one's (the
conformance of issue 13 holds), and another process's sessions, locks and writes show."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tau_engine.resources.trust import TrustStore
from tau_engine.store.postgres.schema import SCHEMA_VERSION
from tau_tui.plain.markers import leaves
from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.cli.test_shell_watch_cli import Lines
from tests.jobs.test_store_selection import Listener
from tests.support.operator_seed import SESSION_IDS, seed_workspace

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (tau[postgres])")

PASSWORD = "hunter2-status-never-shown"
# What the store's location and its backend may change; every other marker is the same.
STORE_MARKERS = (
    "control_plane.store.",
    "control_plane.paths.database",
    "control_plane.generated_at",
)


def _markers(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    assert lines == sorted(lines) and all(line.startswith("control_plane.") for line in lines)
    return dict(line.split("=", 1) for line in lines)


def _with_password(url: str) -> str:
    return url.replace("tau@", f"tau:{PASSWORD}@", 1)


@pytest.fixture
def shared(tmp_path: Path, postgres_url: str) -> tuple[Path, str]:
    """A workspace whose operator fixture another process (``tau store migrate``) copied
    into the database; its SQLite file is moved away, so only the database holds it."""
    workspace = tmp_path / "ws"
    workspace.mkdir()
    seed_workspace(workspace, now=time.time())
    done = run_tau(["store", "migrate", "--to", postgres_url], cwd=workspace)
    assert done.returncode == 0, done.stderr
    (workspace / ".tau" / "tau.db").rename(tmp_path / "sqlite-copy.db")
    return workspace, postgres_url


def test_status_reads_the_database_another_process_wrote(shared: tuple[Path, str]) -> None:
    workspace, url = shared
    done = run_tau(["status", "--store", _with_password(url)], cwd=workspace)
    assert done.returncode == 1, done.stderr  # the fixture's stale lease and blocked mission
    assert PASSWORD not in done.stdout + done.stderr
    markers = _markers(done.stdout)
    assert markers["control_plane.store.backend"] == "postgresql"
    assert markers["control_plane.store.status"] == "ok"
    assert markers["control_plane.store.schema_version"] == str(SCHEMA_VERSION)
    assert markers["control_plane.store.schema_expected"] == str(SCHEMA_VERSION)
    assert markers["control_plane.paths.database"].startswith("PostgreSQL%20database%20")
    assert markers["control_plane.sessions.count"] == "3"
    assert markers["control_plane.jobs.by_state.running"] == "3"
    assert (markers["control_plane.jobs.stale"], markers["control_plane.jobs.stuck"]) == ("1", "1")
    assert markers["control_plane.missions.latest.outcome"] == "blocked"
    assert markers["control_plane.memory.entries"] == "3"
    # The same facts as the SQLite store they were copied from.
    (workspace / ".tau" / "tau.db").hardlink_to(workspace.parent / "sqlite-copy.db")
    local = _markers(run_tau(["status"], cwd=workspace).stdout)
    assert local["control_plane.store.backend"] == "sqlite"
    same = {k: v for k, v in markers.items() if not k.startswith(STORE_MARKERS)}
    assert same == {k: v for k, v in local.items() if not k.startswith(STORE_MARKERS)}


def test_conformance_on_postgresql(shared: tuple[Path, str]) -> None:
    """Issue 13's test: every JSON leaf has its marker, every marker comes from the JSON,
    and the shell shows the same counts, here with the store chosen by TAU_STORE_URL."""
    workspace, url = shared
    env = tau_env(TAU_STORE_URL=url)
    as_json = run_tau(["status", "--json"], cwd=workspace, env=env)
    as_markers = run_tau(["status"], cwd=workspace, env=env)
    data = json.loads(as_json.stdout)
    markers = _markers(as_markers.stdout)
    assert data["store"]["backend"] == "postgresql"
    assert {path for path, _ in leaves(data)} == set(markers)
    shell = run_tau(["shell", "--no-color", "--width", "200"], cwd=workspace, env=env)
    assert shell.returncode == 0, shell.stderr
    jobs = next(line for line in shell.stdout.splitlines() if line.startswith("== Jobs"))
    assert jobs.startswith(
        f"== Jobs {markers['control_plane.jobs.total']} · running "
        f"{markers['control_plane.jobs.by_state.running']} ·"
    )
    assert f"== Sessions {markers['control_plane.sessions.count']} ·" in shell.stdout
    assert f"== Missions {markers['control_plane.missions.count']} ·" in shell.stdout


def test_a_session_held_by_another_process_is_running(shared: tuple[Path, str]) -> None:
    workspace, url = shared
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tau_engine.store.postgres.session_lock import PostgresSessionLock; "
            f"lock = PostgresSessionLock.acquire({url!r}, 'db', {SESSION_IDS[-1]!r}); "
            "print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        markers = _markers(run_tau(["status", "--store", url], cwd=workspace).stdout)
        assert markers["control_plane.sessions.running"] == "1"
        assert markers["control_plane.sessions.latest.running"] == "true"
        assert markers["control_plane.sessions.recent.1.running"] == "false"
    finally:
        holder.communicate("\n", timeout=30)
    markers = _markers(run_tau(["status", "--store", url], cwd=workspace).stdout)
    assert markers["control_plane.sessions.running"] == "0"


def test_jobs_of_another_workspace_are_not_counted(shared: tuple[Path, str]) -> None:
    workspace, url = shared
    with psycopg.connect(url, autocommit=True) as other:
        for index in range(4):  # another repository's jobs: a stale one among them
            other.execute(
                "INSERT INTO jobs (id, kind, inputs, state, reason, owner, lease_expires_at, "
                "created_at, updated_at, workspace) VALUES (%s, 'prompt', '{}', 'running', "
                "'claimed', NULL, 1, 1, 1, 'git:0000000000000000000000000000000000000000')",
                (f"other-{index}",),
            )
    markers = _markers(run_tau(["status", "--store", url], cwd=workspace).stdout)
    assert markers["control_plane.jobs.total"] == "5"
    assert markers["control_plane.jobs.by_state.running"] == "3"
    assert markers["control_plane.jobs.stale"] == "1"


def test_an_untrusted_workspace_cannot_point_status_at_its_database(tmp_path: Path) -> None:
    """The attack: a cloned repository names its own database in ``.tau/config.toml`` (and
    ``.env``), hoping to feed the operator false state. Status keeps the local store, says
    what it ignored, and never connects; once trusted, the same setting is used."""
    seed_workspace(tmp_path, now=time.time())
    attacker = Listener()
    try:
        url = f"postgresql://thief:hunter2pw@127.0.0.1:{attacker.port}/stolen?connect_timeout=2"
        (tmp_path / ".tau" / "config.toml").write_text(f'[store]\nurl = "{url}"\n')
        (tmp_path / ".env").write_text(f"TAU_STORE_URL={url}\n")
        for command in (
            ["status"],
            ["shell", "--no-color"],
            ["watch", "--json", "--iterations", "1"],
        ):
            done = run_tau(command, cwd=tmp_path)
            assert "ignores store.url (.tau/config.toml), TAU_STORE_URL (.env)" in done.stderr
            assert "hunter2pw" not in done.stdout + done.stderr
        markers = _markers(run_tau(["status"], cwd=tmp_path).stdout)
        assert markers["control_plane.store.backend"] == "sqlite"
        assert markers["control_plane.sessions.count"] == "3"
        assert attacker.connections == 0
        TrustStore().decide(tmp_path, True)
        trusted = run_tau(["status"], cwd=tmp_path)
        assert attacker.connections >= 1  # the test would see a connection
        assert _markers(trusted.stdout)["control_plane.store.backend"] == "postgresql"
    finally:
        attacker.close()


def test_a_server_that_is_down_is_exit_1_with_one_reason(tmp_path: Path) -> None:
    port = Listener()
    port.close()  # a local port nobody listens on any more
    url = f"postgresql://tau:{PASSWORD}@127.0.0.1:{port.port}/tau?connect_timeout=2"
    done = run_tau(["status", "--store", url], cwd=tmp_path)
    assert done.returncode == 1 and done.stderr == ""
    markers = _markers(done.stdout)
    assert markers["control_plane.health"] == "error"
    assert markers["control_plane.attention.0"] == "store.error"
    assert markers["control_plane.store.error"].startswith(
        "cannot%20open%20PostgreSQL%20database%20'tau'%20on%20127.0.0.1"
    )
    assert PASSWORD not in done.stdout and not (tmp_path / ".tau").exists()


def test_watch_json_on_postgresql_sees_another_process_write(shared: tuple[Path, str]) -> None:
    workspace, url = shared
    watch = subprocess.Popen(
        [*TAU, "watch", "--json", "--store", url, "--interval-ms", "100"],
        cwd=workspace,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # unread: a pipe could fill and stall the watch
        text=True,
    )
    try:
        assert watch.stdout is not None
        lines = Lines(watch.stdout)
        added = [json.loads(lines.next()) for _ in range(10)]
        assert {e["type"] for e in added} == {"ADDED"}
        writer = (
            "import psycopg, sys; c = psycopg.connect(sys.argv[1], autocommit=True); "
            "c.execute(\"UPDATE jobs SET state = 'cancelled', reason = 'operator-cancel' "
            'WHERE id = %s", (sys.argv[2],))'
        )
        subprocess.run([sys.executable, "-c", writer, url, "0e" * 16], check=True)
        while True:
            event = json.loads(lines.next())
            if event["type"] == "MODIFIED" and event["id"] == "0e" * 16:
                break
        assert event["object"]["state"] == "cancelled"
    finally:
        watch.terminate()
        watch.communicate(timeout=30)


def test_watch_re_reads_postgresql_only_when_a_write_is_announced(
    shared: tuple[Path, str],
) -> None:
    """The watcher re-reads after another connection commits, not on every tick: a quiet
    database, however many ticks, is no change; a closed feed is (writes may be missed)."""
    from tau_engine.status.pg_watch import PgStoreWatcher

    workspace, url = shared
    watcher = PgStoreWatcher(workspace, url)
    try:
        assert watcher.changed()  # the first look reads everything
        assert not any(watcher.changed() for _ in range(5))
        with psycopg.connect(url, autocommit=True) as other:
            other.execute("UPDATE missions SET title = 'renamed' WHERE id = %s", ("ee" * 8,))
        deadline = time.monotonic() + 30
        while not watcher.changed():
            assert time.monotonic() < deadline, "the commit was never announced"
            time.sleep(0.05)
        assert not watcher.changed()
        (workspace / ".tau" / "logs" / "audit.jsonl").write_text("{}\n")  # a log moved
        assert watcher.changed() and not watcher.changed()
        objects = watcher.objects(time.time())
        assert objects[("mission", "ee" * 8)]["title"] == "renamed"
    finally:
        watcher.close()


def test_an_empty_database_is_fresh_and_another_schema_an_error(
    tmp_path: Path, postgres_url: str
) -> None:
    from tau_engine.status.pg_snapshot import read_pg_snapshot

    fresh = read_pg_snapshot(tmp_path, postgres_url)
    assert (fresh.store.status, fresh.health, fresh.store.backend) == ("absent", "ok", "postgresql")
    with psycopg.connect(postgres_url, autocommit=True) as other:
        other.execute("CREATE TABLE tau_schema (one boolean PRIMARY KEY, version integer)")
        other.execute("INSERT INTO tau_schema VALUES (true, 99)")
    newer = read_pg_snapshot(tmp_path, postgres_url)
    assert (newer.health, newer.store.schema_version) == ("error", 99)
    assert newer.store.error == f"schema version 99, this tau reads {SCHEMA_VERSION}"
    assert not (tmp_path / ".tau").exists()
