"""``open_store``: which backend a store URL names, and what each backend opens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store import open_store
from tau_engine.store.factory import backend_name
from tau_engine.store.job_models import LeaseOwner, NewJob


@pytest.mark.parametrize("url", [None, "", "  ", "sqlite", "SQLite", "sqlite:", "sqlite://"])
def test_no_url_or_a_bare_sqlite_url_is_the_workspace_database(url: str | None) -> None:
    assert backend_name(url) == "sqlite"


@pytest.mark.parametrize(
    "url", ["postgresql://tau@db/tau", "postgres://tau@db/tau", " PostgreSQL://x"]
)
def test_both_postgresql_schemes_name_postgresql(url: str) -> None:
    assert backend_name(url) == "postgresql"


def test_an_unknown_scheme_is_named_and_the_url_is_not_shown() -> None:
    with pytest.raises(UsageError, match="unknown store backend 'mysql'") as caught:
        backend_name("mysql://tau:hunter2@db.example/tau")
    assert "hunter2" not in str(caught.value)
    assert "db.example" not in str(caught.value)


def test_a_scheme_that_is_not_a_name_is_not_echoed() -> None:
    with pytest.raises(UsageError, match="unknown store backend in that URL") as caught:
        backend_name("pass word:hunter2@x")
    assert "hunter2" not in str(caught.value)


def test_a_sqlite_url_with_a_path_is_refused() -> None:
    # The store is always the workspace's own .tau/tau.db: a URL cannot point tau at
    # another file (a workspace setting naming /etc/... or another user's store).
    with pytest.raises(UsageError, match="its URL is just 'sqlite'"):
        backend_name("sqlite:///tmp/other.db")


def test_opening_the_backend_creates_nothing_until_a_part_is_opened(tmp_path: Path) -> None:
    backend = open_store(WorkspacePaths(tmp_path))
    assert backend.name == "sqlite"
    assert not (tmp_path / ".tau").exists()


async def test_every_part_of_the_default_backend_shares_the_workspace_database(
    tmp_path: Path,
) -> None:
    paths = WorkspacePaths(tmp_path)
    backend = open_store(paths)
    sessions = backend.open_sessions()
    missions = backend.open_missions()
    memory = backend.open_memory()
    jobs = backend.open_jobs()
    try:
        info = await sessions.create_session(model="offline/echo")
        assert (await sessions.get_session(info.id[:8])).id == info.id
        assert await missions.recent() == []
        assert await memory.newest_id() is None
        await jobs.submit(NewJob(id="a" * 32, kind="prompt", inputs={}, max_attempts=1))
        claim = await jobs.claim(
            LeaseOwner(worker="w", host="h", boot_id="b", pid=1, pid_start=1), 30
        )
        assert claim is not None
        backend.check_job_fence(claim.fence)
    finally:
        for part in (jobs, memory, missions, sessions):
            part.close()
    assert paths.db_path.is_file()
    assert sorted(p.name for p in paths.state_dir.glob("*.db")) == ["tau.db"]


def _run(code: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_importing_the_store_loads_no_backend() -> None:
    # Backends are imported when picked: a second backend's driver must cost the SQLite
    # path (and tau's start-up) nothing.
    out = _run(
        "import sys, tau_engine.store, tau_engine.store.factory; "
        "print(sorted(m for m in sys.modules if m.startswith("
        "('tau_engine.store.sqlite', 'tau_engine.store.postgres', 'psycopg'))))"
    )
    assert out == "[]"


def test_the_sqlite_path_never_loads_psycopg(tmp_path: Path) -> None:
    out = _run(
        "import sys; from tau_engine.engine import Engine; "
        "from tau_engine.jobs.service import JobService; "
        "from pathlib import Path; from tau_engine.paths import WorkspacePaths; "
        f"JobService.open(WorkspacePaths(Path({str(tmp_path)!r}))).close(); "
        "print(sorted(m for m in sys.modules if m.startswith('psycopg')))"
    )
    assert out == "[]"


def test_a_postgresql_url_without_psycopg_says_what_to_install(tmp_path: Path) -> None:
    out = _run(
        "import sys; sys.modules['psycopg'] = None\n"
        "from tau_engine.errors import UsageError\n"
        "from tau_engine.paths import WorkspacePaths\n"
        "from tau_engine.store import open_store\n"
        "try:\n"
        f"    open_store(WorkspacePaths({str(tmp_path)!r}), 'postgresql://h/db')\n"
        "except UsageError as exc:\n"
        "    print(exc)"
    )
    assert out == (
        "a PostgreSQL store needs psycopg: install tau with the 'postgres' extra "
        "(pip install 'tau[postgres]')"
    )
