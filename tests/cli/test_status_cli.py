"""``tau status`` end to end in a temp workspace: markers, ``--json``, exit codes, escaping
of hostile values, a damaged store, and a session held open by another process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tau_tui.plain.markers import escape_value, leaves
from tests.cli.tau_process import run_tau, tau_env
from tests.support.operator_seed import SESSION_IDS, add_session, open_store, seed_workspace

MARKER = re.compile(r"control_plane\.[\x21-\x7e]+=[\x21-\x7e]*")


def _markers(stdout: str) -> dict[str, str]:
    lines = stdout.splitlines()
    assert lines == sorted(lines)
    for line in lines:
        assert MARKER.fullmatch(line), line
    return dict(line.split("=", 1) for line in lines)


def test_markers_of_a_seeded_workspace_and_exit_1_with_the_reasons(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    done = run_tau(["status"], cwd=tmp_path)
    assert done.returncode == 1 and done.stderr == ""
    markers = _markers(done.stdout)
    assert markers["control_plane.health"] == "attention"
    assert markers["control_plane.schema_version"] == "2"
    assert (
        markers["control_plane.store.schema_version"]
        == markers["control_plane.store.schema_expected"]
    )
    assert markers["control_plane.sessions.count"] == "3"
    assert markers["control_plane.jobs.by_state.running"] == "3"
    assert (markers["control_plane.jobs.stale"], markers["control_plane.jobs.stuck"]) == ("1", "1")
    assert markers["control_plane.missions.latest.outcome"] == "blocked"
    assert markers["control_plane.sessions.recent.2.cost_usd"] == "none"
    reasons = {v for k, v in markers.items() if k.startswith("control_plane.attention.")}
    assert reasons == {"jobs.stale", "jobs.stuck", "mission.blocked", "providers.breaker_open"}
    assert markers["control_plane.providers.openai/gpt-y.breaker"] == "open"
    assert markers["control_plane.providers.openai/gpt-y.breaker_reason"] == "rate_limit%20429"
    assert markers["control_plane.providers.anthropic/claude-x.breaker"] == "closed"


def test_a_healthy_workspace_exits_0(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    add_session(conn, SESSION_IDS[0], updated_at=time.time())
    conn.close()
    done = run_tau(["status"], cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    markers = _markers(done.stdout)
    assert markers["control_plane.health"] == "ok"
    assert markers["control_plane.attention"] == "[]"
    assert markers["control_plane.missions.latest"] == "none"
    # A fresh folder, without any store, is healthy too and stays untouched.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    assert run_tau(["-w", str(fresh), "status"], cwd=tmp_path).returncode == 0
    assert not (fresh / ".tau").exists()


def test_json_is_the_snapshot_and_has_the_same_fields_as_the_markers(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    as_json = run_tau(["status", "--json", "-w", str(tmp_path)], cwd=tmp_path)
    as_markers = run_tau(["status", "-w", str(tmp_path)], cwd=tmp_path)
    assert as_json.returncode == as_markers.returncode == 1
    data = json.loads(as_json.stdout)
    assert len(as_json.stdout.splitlines()) == 1
    markers = _markers(as_markers.stdout)
    assert {path for path, _ in leaves(data)} == set(markers)
    stable = {
        path: escape_value(value)
        for path, value in leaves(data)
        if not path.endswith(("generated_at", "disk_free_bytes"))
    }
    assert {path: markers[path] for path in stable} == stable


def test_hostile_values_stay_on_one_grep_safe_line(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    add_session(
        conn,
        "d4" * 16,
        updated_at=time.time(),
        title="x\ncontrol_plane.health=ok =%\x1b[31m naïve",
        model="none",
    )
    conn.execute(
        "INSERT INTO memory_entries (namespace, text, source, trust, created_at, "
        "updated_at, content_hash) VALUES ('a.b c', 't', 'user', 'trusted', 0, 0, 'h')"
    )
    conn.close()
    done = run_tau(["status"], cwd=tmp_path)
    markers = _markers(done.stdout)
    assert [k for k in markers if k == "control_plane.health"] == ["control_plane.health"]
    title = markers["control_plane.sessions.latest.title"]
    assert title == "x%0Acontrol_plane.health%3Dok%20%3D%25%1B[31m%20na%C3%AFve"
    assert markers["control_plane.sessions.latest.model"] == "%6Eone"
    assert markers["control_plane.memory.namespaces.a%2Eb%20c"] == "1"


def test_a_damaged_store_is_exit_1_with_the_reason_and_no_traceback(tmp_path: Path) -> None:
    (tmp_path / ".tau").mkdir()
    (tmp_path / ".tau" / "tau.db").write_bytes(b"garbage " * 1000)
    done = run_tau(["status"], cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    markers = _markers(done.stdout)
    assert markers["control_plane.health"] == "error"
    assert markers["control_plane.attention.0"] == "store.error"
    assert markers["control_plane.store.error"] != "none"


def test_bad_usage_is_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["status", "--bogus"], ["status", "-w"], ["status", "-w", str(tmp_path / "x")]):
        done = run_tau(args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stdout == "" and len(done.stderr.splitlines()) == 1
        assert done.stderr.startswith("tau: error:")


def test_a_session_held_by_another_process_is_running(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from tau_engine.store.session_lock import SessionLock; "
            f"lock = SessionLock.acquire(Path({str(tmp_path / '.tau' / 'locks')!r}), "
            f"{SESSION_IDS[-1]!r}); print('held', flush=True); sys.stdin.readline()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        markers = _markers(run_tau(["status"], cwd=tmp_path).stdout)
        assert markers["control_plane.sessions.running"] == "1"
        assert markers["control_plane.sessions.latest.running"] == "true"
        assert markers["control_plane.sessions.recent.1.running"] == "false"
    finally:
        holder.communicate("\n", timeout=30)
    markers = _markers(run_tau(["status"], cwd=tmp_path).stdout)
    assert markers["control_plane.sessions.running"] == "0"


def test_the_safety_profile_a_run_would_use_is_a_marker(tmp_path: Path) -> None:
    plain = _markers(run_tau(["status"], cwd=tmp_path).stdout)
    assert (plain["control_plane.safety"], plain["control_plane.profile"]) == ("balanced", "none")
    strict = _markers(
        run_tau(["status"], cwd=tmp_path, env={**tau_env(), "TAU_SAFETY": "strict"}).stdout
    )
    assert strict["control_plane.safety"] == "strict"
    # A cloned repository's own config may only make it stricter while untrusted.
    (tmp_path / ".tau").mkdir(exist_ok=True)
    (tmp_path / ".tau" / "config.toml").write_text('safety = "permissive"\n')
    loosened = _markers(run_tau(["status"], cwd=tmp_path).stdout)
    assert loosened["control_plane.safety"] == "balanced"


_IMPORTS = """
import atexit, sys
LIGHT = ("tomllib", "pathlib", "typing", "dataclasses", "argparse", "pydantic", "datetime")
loaded = lambda: sorted(m for m in sys.modules if m.split(".")[0] in LIGHT)
atexit.register(lambda: sys.stderr.write(f"loaded={loaded()}\\n"))
sys.argv = ["tau", "status", "-w", sys.argv[1]]
from tau_tui.cli import main
sys.exit(main())
"""


def test_status_with_a_user_config_loads_no_tomllib_or_pathlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Config files in the plain subset are read without tomllib (and paths without
    pathlib): a third of tau status's start-up, which scripts pay on every poll."""
    from tau_engine.config.profiles import Profile, ProfileStore
    from tau_engine.resources.trust import TrustStore

    workspace, config = tmp_path / "ws", tmp_path / "config"
    workspace.mkdir()
    seed_workspace(workspace, now=time.time())
    env = tau_env(TAU_CONFIG_DIR=str(config))
    config.mkdir()
    (config / "config.toml").write_text(
        'model = "offline/echo"\nprofile = "work"\nmax_retries = 2\n\n'
        '[providers.anthropic]\napi_key_env = "ANTHROPIC_API_KEY"\ntimeout_s = 60.0\n\n'
        '[fallbacks]\n"anthropic/claude-sonnet-4-5" = ["openrouter/anthropic/claude-sonnet-4.5"]\n'
    )
    (workspace / ".tau" / "config.toml").write_text('safety = "hardened"\n')
    monkeypatch.setenv("TAU_CONFIG_DIR", str(config))
    ProfileStore().save(
        "work", Profile(provider="offline", model="offline/echo", key_source="none")
    )
    TrustStore().decide(workspace, True)
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, str(workspace)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "control_plane.profile=work" in done.stdout.splitlines()
    assert "control_plane.safety=hardened" in done.stdout.splitlines()
    # datetime comes with sqlite3 (the trust file's date is read with it, not tomllib's).
    assert done.stderr.strip() == "loaded=['datetime']"
