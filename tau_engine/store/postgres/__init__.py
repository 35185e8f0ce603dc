"""The PostgreSQL store backend: for now the job queue (``jobs.py``), with the same
semantics as SQLite's (``store/api.py``'s ``JobQueue``), so workers on several machines
can share one queue.

Only ``store.factory`` imports this package (an import-linter contract), and only when
a store URL names PostgreSQL: psycopg is imported here and nowhere else, so the SQLite
path and tau's start-up never load it.
"""
