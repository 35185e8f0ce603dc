"""The store backends the store suites run against.

Every test that takes the ``store_backend`` fixture (``tests/conftest.py``), or a fixture
built on it (the session store of ``tests/engine/test_store.py``, the memory store of
``tests/memory``), runs once per entry here, through ``open_store`` as tau itself opens
a store. A PostgreSQL backend joins by adding its URL (read from the environment of the
machine that has a server, and skipped where there is none); tests that look inside
SQLite's files open ``SqliteSessionStore`` and friends directly instead.
"""

from __future__ import annotations

STORE_URLS: dict[str, str] = {"sqlite": "sqlite"}
"""Backend name -> the store URL ``open_store`` is given for it."""
