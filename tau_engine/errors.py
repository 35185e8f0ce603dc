"""The engine's own exceptions.

Every failure a user can cause or meet is one of these, with a message that
reads well on one line; the CLI maps them to exit codes (``UsageError`` -> 2,
the rest -> 1) and never shows a traceback unless ``--debug`` is given.
"""

from __future__ import annotations


class TauError(Exception):
    """Base of every error tau reports to the user as one line."""

    exit_code: int = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(TauError):
    """Bad command-line usage or bad input (exit code 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A configuration file or value is malformed; names the file and key."""


class WorkspaceError(UsageError):
    """A path escapes the workspace, or the workspace cannot be used."""


class SessionNotFoundError(UsageError):
    """No session matches the given id or prefix (or the prefix is ambiguous)."""


class SessionLockedError(UsageError):
    """Another live process holds the session's lock (exit code 2)."""

    def __init__(self, session_id: str, pid: int | None) -> None:
        holder = f"pid {pid}" if pid is not None else "pid unknown"
        super().__init__(
            f"session {session_id[:8]} is in use by another tau process ({holder}); wait "
            f"for it to finish, or fork it: tau sessions fork {session_id[:8]}"
        )
        self.session_id = session_id
        self.pid = pid


class StoreError(TauError):
    """The state store (``.tau/tau.db``) cannot be read or written."""


class SessionLockLostError(StoreError):
    """This process no longer holds the lock of the session it writes: the database
    connection holding it closed (a server restart, a terminated backend, a network cut),
    so another process may have taken the session. Nothing more is written to it."""

    def __init__(self, session_id: str) -> None:
        super().__init__(
            f"lost the lock on session {session_id[:8]} (the database connection holding "
            f"it closed); nothing more was written to it; continue it again with "
            f"tau --resume {session_id[:8]}"
        )
        self.session_id = session_id


class StoreDamagedError(StoreError):
    """SQLite reports the store malformed: tau stops writing to it (see its message)."""


class ToolError(TauError):
    """A tool could not do what it was asked; the message goes back to the model."""


class PatchError(ToolError):
    """A unified diff does not apply; nothing was changed."""


class ProviderError(TauError):
    """A model provider failed.

    ``kind`` is a short machine-readable class of the failure (``auth``,
    ``rate_limit``, ``overloaded``, ``server``, ``bad_request``,
    ``context_length``, ``quota``, ``timeout``, ``connection``, ``stream``,
    ``content_filter``, ``bad_response``: a 2xx body that is no answer).
    ``retryable`` says whether the same request may
    succeed later; ``retry_after`` is the delay the provider asked for, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str = "server",
        status: int | None = None,
        provider: str = "",
        retryable: bool = False,
        retry_after: float | None = None,
        partial_output: bool = False,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.provider = provider
        self.retryable = retryable
        self.retry_after = retry_after
        # True when some of the answer had streamed before the failure.
        self.partial_output = partial_output

    def __str__(self) -> str:
        where = f"{self.provider} " if self.provider else ""
        code = f"{self.status} " if self.status is not None else ""
        return f"{where}{code}{self.kind}: {self.message}".strip()


class MissingKeyError(UsageError):
    """A provider needs an API key that is not configured."""


class UnknownProviderError(UsageError):
    """A model id names a provider tau does not know."""


class BudgetExceededError(TauError):
    """A run hit ``--max-cost`` or ``--max-tokens``; the session stays resumable."""


class JobNotFoundError(UsageError):
    """No job matches the given id or prefix (or the prefix is ambiguous)."""


class LeaseLostError(StoreError):
    """A worker's fencing token is stale: another worker (or recovery) now owns the job.

    The worker that meets it has lost the job and must stop without writing anything more.
    """


class QueueBusyError(StoreError):
    """The job queue's database was busy for one try; the caller may retry with backoff."""
