"""The workspace state store: sessions, messages, events, file checkpoints, missions and
learned memory, background jobs, behind the protocols of ``api.py``.

``open_store`` (``factory.py``) picks the backend; ``models.py`` and ``memory_model.py``
hold the backend-neutral data every backend takes and hands back. The SQLite backend
lives in ``sqlite/`` and nothing outside the store imports it.
"""

from tau_engine.store.api import (
    EventAppender,
    EventLog,
    HeldLock,
    JobQueue,
    MemoryStore,
    MissionStore,
    OwnerAlive,
    SessionStore,
    StoreBackend,
)
from tau_engine.store.factory import open_store
from tau_engine.store.models import (
    HEAD,
    FileRestoreFailure,
    MissionRow,
    NewMessage,
    SessionInfo,
    UndoReport,
    new_session_id,
)

__all__ = [
    "HEAD",
    "EventAppender",
    "EventLog",
    "FileRestoreFailure",
    "HeldLock",
    "JobQueue",
    "MemoryStore",
    "MissionRow",
    "MissionStore",
    "NewMessage",
    "OwnerAlive",
    "SessionInfo",
    "SessionStore",
    "StoreBackend",
    "UndoReport",
    "new_session_id",
    "open_store",
]
