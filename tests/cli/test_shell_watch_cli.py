"""``tau shell --no-color`` and ``tau watch`` end to end, with another process writing."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from tau_engine.status.snapshot import read_snapshot
from tau_tui.plain.panels import build_panels, cell_width
from tests.cli.tau_process import TAU, run_tau, tau_env
from tests.support.operator_seed import add_job, add_session, open_store, seed_workspace


class Lines:
    """A child's stdout read line by line with a deadline: a watch that stops printing fails
    the test instead of hanging it."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self._lines.put(line)
        self._lines.put("")

    def next(self, timeout: float = 60) -> str:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no line within {timeout} s") from None


def test_shell_no_color_prints_every_panel_within_the_width(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    for width in (100, 60, 40):
        done = run_tau(["shell", "--no-color", "--width", str(width)], cwd=tmp_path)
        assert done.returncode == 0 and done.stderr == ""
        lines = done.stdout.splitlines()
        assert max(cell_width(line) for line in lines) <= width
        titles = [line for line in lines if line.startswith("== ")]
        assert [t.split()[1] for t in titles] == [
            "Sessions",
            "Jobs",
            "Missions",
            "Memory",
            "Providers",
            "Audit",
        ]
    assert "tau jobs recover" in done.stdout or width < 100


def test_shell_counts_are_the_status_counts(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    markers = dict(
        line.split("=", 1) for line in run_tau(["status"], cwd=tmp_path).stdout.splitlines()
    )
    shell = run_tau(["shell", "--no-color", "--width", "200"], cwd=tmp_path).stdout
    jobs = next(line for line in shell.splitlines() if line.startswith("== Jobs"))
    assert jobs.startswith(
        f"== Jobs {markers['control_plane.jobs.total']} · running "
        f"{markers['control_plane.jobs.by_state.running']} ·"
    )
    assert (
        f"stale {markers['control_plane.jobs.stale']} · stuck "
        f"{markers['control_plane.jobs.stuck']}" in jobs
    )
    assert f"== Sessions {markers['control_plane.sessions.count']} ·" in shell
    assert f"== Missions {markers['control_plane.missions.count']} ·" in shell


def test_hostile_titles_cannot_draw_on_the_terminal(tmp_path: Path) -> None:
    conn = open_store(tmp_path)
    add_session(
        conn,
        "d4" * 16,
        updated_at=time.time(),
        title="\x1b[2J\x1b]0;pwned\x07\u202eevil\nsecond line",
    )
    conn.close()
    out = run_tau(["shell", "--no-color", "--width", "120"], cwd=tmp_path).stdout
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "?second line" in out  # the newline is shown, not obeyed


def test_width_below_the_minimum_is_bad_usage(tmp_path: Path) -> None:
    done = run_tau(["shell", "--no-color", "--width", "10"], cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.startswith("tau: error: --width")
    done = run_tau(["watch", "--no-color", "--interval-ms", "0"], cwd=tmp_path)
    assert done.returncode == 2 and "interval" in done.stderr


def test_watch_prints_n_frames_and_sees_another_process_write(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    watch = subprocess.Popen(
        [
            *TAU,
            "watch",
            "--no-color",
            "--iterations",
            "3",
            "--interval-ms",
            "100",
            "--width",
            "100",
        ],
        cwd=tmp_path,
        env=tau_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None and watch.stderr is not None
    lines = Lines(watch.stdout)
    out = [lines.next()]
    while not out[-1].startswith("== Sessions"):
        out.append(lines.next())
    conn = open_store(tmp_path)  # another process's writes, while the watch runs
    add_session(conn, "e5" * 16, updated_at=time.time(), title="appended session")
    add_job(conn, "f6" * 16, state="queued", created_at=time.time())
    conn.close()
    while out[-1] != "":
        out.append(lines.next())
    assert watch.wait(timeout=60) == 0 and watch.stderr.read() == ""
    frames = "".join(out).split("--- watch frame ")
    assert [f.split(" ---")[0] for f in frames[1:]] == ["1/3", "2/3", "3/3"]
    assert "== Sessions 3 ·" in frames[1] and "appended session" not in frames[1]
    assert "== Sessions 4 ·" in frames[3] and "appended session" in frames[3]


def test_watch_json_streams_added_then_modified_and_deleted(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    watch = subprocess.Popen(
        [*TAU, "watch", "--json", "--interval-ms", "50"],
        cwd=tmp_path,
        env=tau_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None
    lines = Lines(watch.stdout)
    try:
        events = [json.loads(lines.next()) for _ in range(10)]
        assert {e["type"] for e in events} == {"ADDED"}
        assert sorted(e["kind"] for e in events) == ["job"] * 5 + ["mission"] * 2 + ["session"] * 3
        conn = open_store(tmp_path)
        add_job(conn, "f6" * 16, state="queued", created_at=time.time())
        conn.execute(
            "UPDATE jobs SET state = 'cancelled', reason = 'operator-cancel' WHERE id = ?",
            ("0e" * 16,),
        )
        conn.execute("DELETE FROM sessions WHERE id = ?", ("a1" * 16,))
        conn.close()
        changes = [json.loads(lines.next()) for _ in range(3)]
    finally:
        watch.terminate()
        watch.communicate(timeout=30)
    seen = {(e["type"], e["kind"], e["id"]) for e in changes}
    assert seen == {
        ("ADDED", "job", "f6" * 16),
        ("MODIFIED", "job", "0e" * 16),
        ("DELETED", "session", "a1" * 16),
    }
    modified = next(e for e in changes if e["type"] == "MODIFIED")
    assert modified["object"]["state"] == "cancelled"


def test_plain_panels_are_built_from_the_same_snapshot(tmp_path: Path) -> None:
    seed_workspace(tmp_path, now=time.time())
    data = read_snapshot(tmp_path, limit=20).to_json()
    panels = {panel.name: panel for panel in build_panels(data)}
    assert len(panels["sessions"].rows) == data["sessions"]["count"]
    assert {row.key for row in panels["jobs"].rows} == {
        f"job:{j['id']}" for j in data["jobs"]["recent"]
    }
