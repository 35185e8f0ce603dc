"""Which store the operator commands read, and the one snapshot reader for either.

``tau status``, ``tau shell`` and ``tau watch`` choose their store as every other command
does (``tau_tui/store_option.selected_store_url``: ``--store``, then ``TAU_STORE_URL``,
then a trusted workspace's ``.env``/``.tau/config.toml``, then ``[store] url`` in the
user's config; a withheld workspace setting said in the trust notice). Resolving that
loads the settings (pydantic), a cost ``tau status`` must not pay on every poll when no
store is configured at all, so ``may_name_a_store`` first asks, cheaply and
conservatively, whether any of those places could name one: only then is the full
choice made. A false "may" costs time, never a wrong store.
"""

from __future__ import annotations

import os

from tau_engine.regular_file import read_regular_tail
from tau_engine.status.safety_view import config_dir_for

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path
    from typing import Any

    from tau_engine.status.model import StatusSnapshot
    from tau_engine.status.objects import StoreWatcher
    from tau_engine.status.pg_watch import PgStoreWatcher

STORE_URL_ENV = "TAU_STORE_URL"
"""As ``tau_engine.config.store_setting.STORE_URL_ENV`` (a test keeps them equal)."""


def _mentions(path: str, word: bytes) -> bool:
    read = read_regular_tail(path)
    return read is not None and word in read[0]


def may_name_a_store(
    root: str | os.PathLike[str], flag: str | None, environ: Mapping[str, str] | None = None
) -> bool:
    """Whether a store other than the workspace's SQLite file might be chosen: a
    ``--store`` flag, ``TAU_STORE_URL``, or a config file (the user's, a profile's, the
    workspace's) or workspace ``.env`` that mentions a store at all."""
    env = os.environ if environ is None else environ
    if flag or env.get(STORE_URL_ENV, "").strip():
        return True
    config_dir = config_dir_for(env)
    if _mentions(os.path.join(config_dir, "config.toml"), b"store"):
        return True
    if _mentions(os.path.join(root, ".tau", "config.toml"), b"store"):
        return True
    if _mentions(os.path.join(root, ".env"), STORE_URL_ENV.encode()):
        return True
    profiles = os.path.join(config_dir, "profiles")
    try:
        names = os.listdir(profiles)
    except OSError:
        return False
    return any(_mentions(os.path.join(profiles, name), b"store") for name in names)


def is_postgresql(url: str | None) -> bool:
    """Whether ``url`` names a PostgreSQL store (``store.factory.backend_name``'s rule;
    a URL it refuses is refused there, so this is called after it)."""
    if url is None:
        return False
    scheme = url.strip().partition(":")[0].lower()
    return scheme in ("postgresql", "postgres")


def read_store_snapshot(root: str | os.PathLike[str], url: str | None, **kw: Any) -> StatusSnapshot:
    """The snapshot of ``root`` from the store ``url`` names (None: its SQLite file)."""
    if is_postgresql(url):
        assert url is not None
        try:
            from tau_engine.status.pg_snapshot import read_pg_snapshot
        except ImportError:
            # Without psycopg: the store factory says so in its words (a UsageError).
            from pathlib import Path

            from tau_engine.paths import WorkspacePaths
            from tau_engine.store.factory import open_store

            open_store(WorkspacePaths(Path(root)), url)
            raise
        return read_pg_snapshot(os.fspath(root), url, **kw)
    from tau_engine.status.snapshot import read_snapshot

    return read_snapshot(root, **kw)


def store_watcher(root: Path, url: str | None) -> StoreWatcher | PgStoreWatcher:
    """The watcher of ``root``'s store: its SQLite file, or the PostgreSQL ``url``."""
    if is_postgresql(url):
        assert url is not None
        from tau_engine.status.pg_watch import PgStoreWatcher

        return PgStoreWatcher(root, url)
    from tau_engine.status.objects import StoreWatcher

    return StoreWatcher(root)
