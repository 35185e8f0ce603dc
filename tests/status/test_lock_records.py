"""Running sessions from holder records, checked with the kernel (status/lock_records.py).

``NO_TABLE`` names a file that does not exist as the kernel's lock table: an answer given
with it came from the records, since the table fallback would answer None.
"""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tau_engine.status import lock_records
from tau_engine.status.held_locks import held_lock_names
from tau_engine.store import lock_holder
from tau_engine.store.session_lock import SessionLock, StoreLock, lock_file_name

SESSION = "ab" * 16
OTHER = "cd" * 16
NO_TABLE = "/nonexistent/proc-locks"


@pytest.fixture
def locks(tmp_path: Path) -> Path:
    return tmp_path / ".tau" / "locks"


def _holder(locks: Path, session_id: str) -> subprocess.Popen[str]:
    """Another process holding ``session_id``'s lock until its stdin closes."""
    code = (
        "import sys; from pathlib import Path; "
        "from tau_engine.store.session_lock import SessionLock; "
        f"lock = SessionLock.acquire(Path({str(locks)!r}), {session_id!r}); "
        "print('held', flush=True); sys.stdin.readline(); lock.release()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "held\n"
    return proc


@pytest.fixture
def held_elsewhere(locks: Path) -> Iterator[subprocess.Popen[str]]:
    proc = _holder(locks, SESSION)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.communicate("\n", timeout=30)


def test_a_lock_held_by_another_process_is_found_without_the_kernel_table(
    locks: Path, held_elsewhere: subprocess.Popen[str]
) -> None:
    SessionLock.acquire(locks, OTHER).release()  # a released session beside it
    assert held_lock_names(locks, NO_TABLE) == {lock_file_name(SESSION)}
    held_elsewhere.communicate("\n", timeout=30)
    assert held_lock_names(locks, NO_TABLE) == set()
    assert list((locks / "holders").iterdir()) == []  # released: its record went first


def test_a_killed_holders_record_claims_nothing(
    locks: Path, held_elsewhere: subprocess.Popen[str]
) -> None:
    held_elsewhere.send_signal(signal.SIGKILL)
    held_elsewhere.wait(timeout=30)
    assert (locks / "holders" / f"{SESSION}.holder").exists()  # left behind by kill -9
    assert held_lock_names(locks, NO_TABLE) == set()


def test_a_record_naming_a_descriptor_that_locks_another_file_claims_nothing(
    locks: Path, tmp_path: Path
) -> None:
    """A planted record pointing at a live process (this one) whose descriptor holds an
    exclusive flock, but on some other file: the inode check refuses it."""
    SessionLock.acquire(locks, SESSION).release()
    other = os.open(tmp_path / "elsewhere.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        namespace = os.readlink("/proc/self/ns/pid")
        (locks / "holders" / f"{SESSION}.holder").write_text(f"{os.getpid()} {other} {namespace}")
        assert held_lock_names(locks, NO_TABLE) == set()
    finally:
        os.close(other)


@pytest.mark.parametrize("planted", ["fifo", "symlink", "garbage", "huge"])
def test_planted_records_are_never_waited_on_or_followed(
    locks: Path, tmp_path: Path, planted: str
) -> None:
    SessionLock.acquire(locks, SESSION).release()
    record = locks / "holders" / f"{SESSION}.holder"
    if planted == "fifo":
        os.mkfifo(record)
    elif planted == "symlink":
        target = tmp_path / "target"
        target.write_text(f"{os.getpid()} 0 {os.readlink('/proc/self/ns/pid')}")
        record.symlink_to(target)
    elif planted == "garbage":
        record.write_bytes(b"\x00\xff 12 x\n")
    else:
        record.write_bytes(b"1" * 10_000_000)
    result: list[set[str] | None] = []
    reader = threading.Thread(target=lambda: result.append(held_lock_names(locks, NO_TABLE)))
    reader.start()
    reader.join(timeout=30)
    assert not reader.is_alive(), "the reader waited on a planted file"
    assert result == [set()]


def test_a_record_from_another_pid_namespace_is_left_to_the_kernel_table(
    locks: Path, tmp_path: Path
) -> None:
    with SessionLock.acquire(locks, SESSION) as lock:
        record = locks / "holders" / f"{SESSION}.holder"
        record.write_text(f"{os.getpid()} 3 pid:[1]\n")  # a pid that means another process
        assert held_lock_names(locks, NO_TABLE) is None  # the table is asked, and is absent
        inode = os.stat(lock.path).st_ino
        table = tmp_path / "locks-table"
        table.write_text(f"1: FLOCK  ADVISORY  WRITE 999 fe:00:{inode} 0 EOF\n")
        assert held_lock_names(locks, table) == {lock_file_name(SESSION)}


def test_locks_from_a_tau_without_records_are_read_from_the_kernel_table(
    locks: Path, tmp_path: Path
) -> None:
    locks.mkdir(parents=True)
    fd = os.open(locks / lock_file_name(SESSION), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as tau did before it wrote holder records
        assert held_lock_names(locks, NO_TABLE) is None
        assert held_lock_names(locks) == {lock_file_name(SESSION)}
    finally:
        os.close(fd)


def test_no_lock_folder_means_nothing_is_running(locks: Path) -> None:
    assert held_lock_names(locks, NO_TABLE) == set()
    locks.mkdir(parents=True)
    (locks / "store.lock").touch()
    assert held_lock_names(locks, NO_TABLE) == set()


def test_holding_the_store_alone_removes_killed_holders_records(
    locks: Path, held_elsewhere: subprocess.Popen[str]
) -> None:
    held_elsewhere.send_signal(signal.SIGKILL)
    held_elsewhere.wait(timeout=30)
    StoreLock.exclusive(locks).release()
    assert list((locks / "holders").iterdir()) == []


def test_the_reader_and_the_writer_agree_on_where_records_live() -> None:
    assert lock_records.HOLDERS_DIR == lock_holder.HOLDERS_DIR
    assert lock_records.SUFFIX == lock_holder.SUFFIX
