"""Which model an opened engine starts with: a resumed session keeps its own.

A session resumed without ``--model`` continues with the model it used. When that
model cannot be used any more (its key is missing, ``offline/replay`` has no script),
the engine falls back to the default model and says so, or, when a quiet switch would
pass for success (headless runs), refuses with the reason.
"""

from __future__ import annotations

from tau_engine.errors import UsageError
from tau_engine.model_selector import ModelSelector
from tau_engine.store import SessionInfo


def select_first_model(
    models: ModelSelector,
    explicit: str | None,
    session: SessionInfo | None,
    *,
    require_session_model: bool,
) -> list[str]:
    """Select the model to start with (``explicit``, else the session's, else the
    default); what the user should be told about it, in order.

    Raises ``UsageError`` when ``explicit`` cannot be used, or the session's model
    cannot be used and ``require_session_model`` is set."""
    session_model = session.model if session else None
    if explicit or session is None or not session_model:
        return list(models.select(explicit).warnings)
    try:
        return list(models.select(session_model).warnings)
    except UsageError as exc:
        where = f"session {session.id[:8]} uses {session_model}"
        if require_session_model:
            raise UsageError(
                f"{where}, which cannot be used: {exc}; pass "
                "--model to continue it with another model"
            ) from exc
        fallback = models.select(None, announce_offline=False)
        return [
            *fallback.warnings,
            f"{where}, which cannot be used: {exc}. "
            f"Continuing with {fallback.model_id}; /model switches",
        ]
