"""A provider wrapper whose errors carry none of the user's secrets.

Some servers echo the rejected key in a 401 body, and the error message that
tau builds from it would then reach stderr, the JSON output, the session
store and a ``--record`` script. ``RedactingProvider`` sits right around the
routed provider, so every error that leaves it has been through the
``SecretRedactor``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from tau_engine.errors import ProviderError
from tau_engine.providers.base import Provider, ProviderEvent, ProviderRequest
from tau_engine.safety.redact import SecretRedactor


class RedactingProvider:
    """Streams from ``inner``; a ``ProviderError`` it raises is redacted in place."""

    def __init__(self, inner: Provider, redactor: SecretRedactor) -> None:
        self.inner = inner
        self.name = inner.name
        self.redactor = redactor

    async def stream(self, request: ProviderRequest) -> AsyncIterator[ProviderEvent]:
        try:
            async for event in self.inner.stream(request):
                yield event
        except ProviderError as exc:
            redact_error(exc, self.redactor)
            raise

    async def aclose(self) -> None:
        await self.inner.aclose()


def redact_error(exc: ProviderError, redactor: SecretRedactor) -> None:
    """Remove secrets from ``exc``'s message (and ``args``, which ``repr`` shows)."""
    if redactor:
        exc.message = redactor.redact(exc.message)
        exc.args = (exc.message,)
