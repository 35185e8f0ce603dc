"""What the SQLite and PostgreSQL backends share: the session store's logic written once
over a small database interface (``protocol.py``), in SQL both engines run, with the few
statements that differ (JSON, insertion order) taken from each backend's ``Dialect``.

Nothing here imports a database driver: each backend hands in its connections.
"""
