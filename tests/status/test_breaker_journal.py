"""The breaker journal under crashes, concurrent writers and hostile content: a torn line
spoils only itself, two processes appending and compacting lose no route's last state,
and whatever a workspace puts in the file is read as data, never drawn on a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tau_engine.providers.breaker import BreakerChange
from tau_engine.providers.breaker_journal import BreakerJournal
from tau_engine.status.log_tail import read_breakers
from tau_engine.status.snapshot import read_snapshot
from tests.cli.tau_process import run_tau

NOW = 2_000_000_000.0


def change(route: str, state: str = "open", since: float = NOW) -> BreakerChange:
    until = since + 30 if state == "open" else None
    return BreakerChange(route, state, since, until, "server 503", 3)  # type: ignore[arg-type]


def test_a_line_torn_by_a_killed_writer_spoils_only_itself(tmp_path: Path) -> None:
    journal = BreakerJournal(tmp_path / "breaker.jsonl")
    journal.record(change("a/one"))
    with open(journal.path, "ab") as handle:
        handle.write(b'{"route":"a/two","state":"op')  # killed mid-write
    journal.record(change("a/three"))
    got = read_breakers(journal.path, now=NOW)
    assert set(got) == {"a/one", "a/three"} and got["a/three"].state == "open"


_WRITER = """
import sys
from pathlib import Path
from tau_engine.providers.breaker import BreakerChange
from tau_engine.providers.breaker_journal import BreakerJournal

journal = BreakerJournal(Path(sys.argv[1]), max_bytes=2048)
who = sys.argv[2]
for index in range(300):
    state = "closed" if index == 299 else ("open", "half_open")[index % 2]
    journal.record(BreakerChange(f"{who}/r{index % 5}", state, 1.0 + index, None, None, index))
assert journal.skipped == 0
"""


def test_processes_appending_and_compacting_keep_every_routes_last_state(
    tmp_path: Path,
) -> None:
    path = tmp_path / "breaker.jsonl"
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), who])
        for who in ("p", "q", "r", "s")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0, 0]
    got = read_breakers(path, now=NOW)
    # Each writer's last change of each route: r4 closed last (index 299), the others
    # at their last index (295..298), none lost to a compaction or an interleaving.
    for who in ("p", "q", "r", "s"):
        assert got[f"{who}/r4"].state == "closed"
        for route in range(4):
            assert got[f"{who}/r{route}"].since == 1.0 + 295 + route
    assert path.stat().st_size <= 2048 + 200
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


def test_a_planted_link_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "victim"
    target.write_text("keep me\n")
    logs = tmp_path / ".tau" / "logs"
    logs.mkdir(parents=True)
    (logs / "breaker.jsonl").symlink_to(target)
    journal = BreakerJournal.for_workspace(tmp_path)
    journal.record(change("a/b"))
    assert target.read_text() == "keep me\n" and journal.skipped == 1


HOSTILE = [
    "not json at all",
    "[1, 2, 3]",
    '"a string"',
    json.dumps({"route": "x/nan", "state": "open", "since": float("nan"), "until": NOW + 9}),
    json.dumps({"route": "x/inf", "state": "open", "since": 1.0, "until": float("inf")}),
    json.dumps({"route": "x/bool", "state": "open", "since": True, "until": NOW + 9}),
    json.dumps({"route": "x/state", "state": "melting", "since": 1.0}),
    json.dumps({"route": "x/" + "y" * 5000, "state": "open", "since": 1.0, "until": NOW + 9}),
    json.dumps({"route": ["x"], "state": "open", "since": 1.0}),
    json.dumps({"route": "x/reason", "state": "closed", "since": 1.0, "reason": {"a": 1}}),
    json.dumps({"route": "x/until", "state": "open", "since": 1.0, "until": "later"}),
    json.dumps(
        {
            "route": "evil\x1b[2J\x1b]0;owned\x07/\u202emodel\nnext=line",
            "state": "open",
            "since": NOW - 1,
            "until": NOW + 60,
            "reason": "\x1b[31mred\x1b[0m = a b",
        }
    ),
]


def test_hostile_journal_lines_are_data_not_errors_or_escapes(tmp_path: Path) -> None:
    logs = tmp_path / ".tau" / "logs"
    logs.mkdir(parents=True)
    (logs / "breaker.jsonl").write_bytes("\n".join(HOSTILE).encode() + b"\n\xff\xfe\x00binary\n")
    snap = read_snapshot(tmp_path, now=NOW)
    assert len(snap.providers) == 1  # only the well-typed (if unpleasant) line
    (evil,) = snap.providers.values()
    assert evil.breaker == "open" and snap.attention == ("providers.breaker_open",)
    json.dumps(snap.to_json(), allow_nan=False)  # no NaN or Infinity reaches --json

    status = run_tau(["status", "-w", str(tmp_path)], cwd=tmp_path)
    assert status.returncode == 1 and status.stderr == ""
    for line in status.stdout.splitlines():
        assert line.isascii() and line.isprintable() and " " not in line and line.count("=") == 1
    plain = run_tau(["shell", "--no-color", "--width", "80", "-w", str(tmp_path)], tmp_path)
    assert plain.returncode == 0 and plain.stderr == ""
    assert (
        "\x1b" not in plain.stdout and "\u202e" not in plain.stdout and "\x07" not in plain.stdout
    )
    assert "breakers open 1" in plain.stdout


def test_a_journal_grown_huge_is_compacted_from_its_tail(tmp_path: Path) -> None:
    path = tmp_path / "breaker.jsonl"
    filler = json.dumps({"route": "old/one", "state": "open", "since": 1.0}) + "\n"
    path.write_text(filler * 200_000)  # about 11 MB a workspace could plant
    journal = BreakerJournal(path, max_bytes=4096)
    journal.record(change("a/new"))
    assert journal.skipped == 0 and path.stat().st_size < 4096
    assert set(read_breakers(path, now=NOW)) == {"old/one", "a/new"}
