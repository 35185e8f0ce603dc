"""The operator snapshot: one typed, read-only view of a workspace for ``tau status``,
``tau shell`` and ``tau watch`` (``snapshot.read_snapshot``, types in ``model``)."""
