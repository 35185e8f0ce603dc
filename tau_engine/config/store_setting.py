"""``[store]``: where tau keeps a workspace's state, and how a store URL is shown.

``url`` names the store: unset (or ``sqlite``) is the workspace's own ``.tau/tau.db``;
``postgresql://…`` a shared PostgreSQL database. It decides where every session, job and
secret-bearing transcript is written, so it is a ``credentials`` setting: taken from a
workspace's ``.tau/config.toml`` only when the user trusts the workspace (like
``base_url``). The URL may carry a password, so nothing shows it whole: ``masked_url``
is what a notice, an error or a listing prints.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

STORE_URL_ENV = "TAU_STORE_URL"
"""The environment variable naming the store (below ``--store``, above config files)."""

_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^@/?#]*)@")
_PASSWORD_PARAM = re.compile(r"(?i)(?P<key>\bpassword\s*=\s*)(?:'[^']*'|[^\s&]*)")


class StoreSettings(BaseModel):
    """Options of the state store, under ``[store]``."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(
        None,
        description="Where tau keeps sessions, jobs and the rest: 'sqlite' (the "
        "workspace's .tau/tau.db, the default) or a postgresql:// URL",
        json_schema_extra={"trust": "credentials"},
    )


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (in the user part and in a
    ``password=`` parameter), for anything a person or a log may read."""
    text = url.strip()
    match = _USERINFO.match(text)
    if match and ":" in match.group("user"):
        user = match.group("user").split(":", 1)[0]
        text = f"{match.group('head')}{user}:***@{text[match.end() :]}"
    return _PASSWORD_PARAM.sub(lambda m: f"{m.group('key')}***", text)
