"""The store backends the store suites run against.

Every test that takes the ``store_backend`` fixture (``tests/conftest.py``), or a fixture
built on it (the session store of ``tests/engine/test_store.py``, the memory store of
``tests/memory``), runs once per entry of ``STORE_URLS``, through ``open_store`` as tau
itself opens a store. The job queue tests (``tests/jobs``) run once per entry of
``JOB_QUEUE_BACKENDS``: PostgreSQL holds the job queue so far, on a throwaway server
(``postgres_server`` in ``tests/conftest.py``; skipped, with the reason, where there are
no server binaries). Tests that look inside one backend's own files open its classes
directly instead.
"""

from __future__ import annotations

STORE_URLS: dict[str, str] = {"sqlite": "sqlite"}
"""Backends whose URL is fixed: name -> the URL ``open_store`` is given."""

STORE_BACKENDS = ["sqlite", "postgresql"]
"""Backends holding sessions and events, missions and memory: ``store_url`` runs a test
once per entry (PostgreSQL in a fresh database on a throwaway server)."""

JOB_QUEUE_BACKENDS = ["sqlite", "postgresql"]
"""Backends holding the job queue; PostgreSQL gets a fresh database per test."""
