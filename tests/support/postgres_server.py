"""A throwaway PostgreSQL server for the store tests: initdb into a temp folder, start on a
free local port with its unix socket in that folder, drop it all at the end.

Nothing here reaches another server: the URL it hands out names the socket in its own
folder. ``find_binaries`` says why there is no server (no binaries, no psycopg) so the
tests that need one skip with that reason instead of failing.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PG_BIN_DIRS = (
    [Path(os.environ["TAU_TEST_PG_BIN"])]
    if os.environ.get("TAU_TEST_PG_BIN")
    else [Path(f"/usr/lib/postgresql/{v}/bin") for v in (17, 16, 15, 14)]
)
"""Where the server binaries are looked for (``TAU_TEST_PG_BIN`` overrides)."""
START_TIMEOUT_S = 60.0
SUPERUSER = "tau"


def find_binaries() -> tuple[Path | None, str]:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or why there is none."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return None, "psycopg is not installed (pip install -e '.[postgres]')"
    for folder in PG_BIN_DIRS:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder, ""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl") and shutil.which("postgres"):
        return Path(on_path).parent, ""
    shown = ", ".join(str(p) for p in PG_BIN_DIRS)
    return None, f"no PostgreSQL server binaries (initdb, pg_ctl, postgres) in {shown} or on PATH"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _run_as() -> pwd.struct_passwd | None:
    """initdb refuses to run as root: as root, run the server as ``postgres`` (or nobody)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root with neither a 'postgres' nor a 'nobody' user")


@dataclass
class PostgresServer:
    """One running server; ``database()`` makes a fresh empty database on it."""

    bin_dir: Path
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tau-pg-")))
    port: int = field(default_factory=_free_port)
    _proc_user: pwd.struct_passwd | None = field(default_factory=_run_as)

    @property
    def data_dir(self) -> Path:
        return self.folder / "data"

    def _command(self, *argv: str) -> list[str]:
        user = self._proc_user
        if user is None:
            return list(argv)
        return [
            "setpriv",
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--clear-groups",
            "--",
            *argv,
        ]

    def start(self) -> PostgresServer:
        user = self._proc_user
        if user is not None:
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        subprocess.run(
            self._command(
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            env=env,
            cwd=self.folder,
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        subprocess.run(
            self._command(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-o",
                options,
                "-l",
                str(self.folder / "server.log"),
                "-w",
                "-t",
                str(int(START_TIMEOUT_S)),
                "start",
            ),
            check=True,
            capture_output=True,
            env=env,
            cwd=self.folder,
        )
        return self

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{dbname}?host={self.folder}&port={self.port}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = f"tau_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        import psycopg

        name = url.split("/", 3)[3].split("?", 1)[0]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        if self.data_dir.is_dir():
            subprocess.run(
                self._command(
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ),
                capture_output=True,
                cwd=self.folder,
            )
        deadline = time.monotonic() + 10
        while (self.data_dir / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.folder, ignore_errors=True)
