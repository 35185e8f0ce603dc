"""The workspace state store: sessions, messages, events and file checkpoints in ``.tau/``."""

from tau_engine.store.event_writer import EventWriter
from tau_engine.store.models import FileRestoreFailure, SessionInfo, UndoReport
from tau_engine.store.session_store import HEAD, NewMessage, SessionStore

__all__ = [
    "HEAD",
    "EventWriter",
    "FileRestoreFailure",
    "NewMessage",
    "SessionInfo",
    "SessionStore",
    "UndoReport",
]
