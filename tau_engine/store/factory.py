"""``open_store``: the one place that picks a store backend for a workspace.

The engine, missions, memory, jobs and the CLI call it and use what it returns through
the protocols of ``store/api.py``; only this module imports a backend (``store/sqlite/``,
``store/postgres/``). Backends are imported when picked, so importing this module loads
no database driver: psycopg is loaded only for a ``postgresql://`` URL.
"""

from __future__ import annotations

from tau_engine.errors import UsageError
from tau_engine.paths import WorkspacePaths
from tau_engine.store.api import StoreBackend

DEFAULT_BACKEND = "sqlite"
BACKENDS = ("sqlite", "postgresql")
"""The backends this tau has, by URL scheme."""
ALIASES = {"postgres": "postgresql"}
"""Other schemes that name a backend (libpq takes both)."""


def backend_name(url: str | None) -> str:
    """The backend a store URL names: its scheme (``sqlite`` when there is no URL).

    A SQLite store is always the workspace's ``.tau/tau.db``, so ``sqlite``, ``sqlite:``
    and ``sqlite://`` are its only URLs. Errors name the scheme, never the URL: a
    database URL may carry a password.
    """
    if url is None or not url.strip():
        return DEFAULT_BACKEND
    scheme, _colon, rest = url.strip().partition(":")
    scheme = ALIASES.get(scheme.lower(), scheme.lower())
    if scheme not in BACKENDS:
        shown = f"'{scheme}'" if scheme.replace("+", "").isalnum() else "in that URL"
        raise UsageError(
            f"unknown store backend {shown}: this tau keeps its state in {' or '.join(BACKENDS)}"
        )
    if scheme == "sqlite" and rest not in ("", "//"):
        raise UsageError(
            "a sqlite store is the workspace's .tau/tau.db; its URL is just 'sqlite' (no path)"
        )
    return scheme


def open_store(paths: WorkspacePaths, url: str | None = None) -> StoreBackend:
    """The backend holding ``paths``' state (SQLite in ``.tau/tau.db`` unless ``url`` names
    another). Cheap: nothing is opened until one of its ``open_*`` methods is called.
    ``UsageError`` for a URL no backend of this tau understands, or whose driver is not
    installed."""
    name = backend_name(url)
    if name == "sqlite":
        from tau_engine.store.sqlite.backend import SqliteBackend

        return SqliteBackend(paths)
    if name == "postgresql":
        assert url is not None
        try:
            from tau_engine.store.postgres.backend import PostgresBackend
        except ImportError as exc:
            if exc.name is None or not exc.name.startswith("psycopg"):
                raise
            raise UsageError(
                "a PostgreSQL store needs psycopg: install tau with the "
                "'postgres' extra (pip install 'tau[postgres]')"
            ) from None
        return PostgresBackend(paths, url.strip())
    raise AssertionError(name)  # every name in BACKENDS has its branch above
