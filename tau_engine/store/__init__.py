"""The workspace state store: sessions, messages, events, file checkpoints, missions and
learned memory, background jobs, behind the protocols of ``api.py``.

``open_store`` (``factory.py``) picks the backend; ``models.py`` and ``memory_model.py``
hold the backend-neutral data every backend takes and hands back. The SQLite backend
lives in ``sqlite/`` and nothing outside the store imports it.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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

# The names load with their modules on first use (PEP 562): a submodule import such as
# ``tau_engine.store.postgres.connection`` runs this file first, and ``tau status`` on a
# PostgreSQL store must not pay for ``api.py``'s models (pydantic and the conversation
# types, a tenth of a second) to reach its connection helper.
_HOMES = {
    **dict.fromkeys(
        (
            "EventAppender",
            "EventLog",
            "HeldLock",
            "JobQueue",
            "MemoryStore",
            "MissionStore",
            "OwnerAlive",
            "SessionStore",
            "StoreBackend",
        ),
        "tau_engine.store.api",
    ),
    "open_store": "tau_engine.store.factory",
    **dict.fromkeys(
        (
            "HEAD",
            "FileRestoreFailure",
            "MissionRow",
            "NewMessage",
            "SessionInfo",
            "UndoReport",
            "new_session_id",
        ),
        "tau_engine.store.models",
    ),
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
