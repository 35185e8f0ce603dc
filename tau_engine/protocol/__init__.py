"""The contract every front end and process shares: the approval modes
(``approval.py``, standard library only: the CLI's parser reads it) and the
engine's read-only state (``state.py``)."""
