"""The SQLite store backend: every interface of ``store/api.py`` over the workspace's
``.tau/tau.db`` (WAL mode, versioned migrations in ``schema.py``).

Only ``store.factory`` imports this package (an import-linter contract): the rest of
tau sees the protocols.
"""
