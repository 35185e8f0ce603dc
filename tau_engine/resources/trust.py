"""Project trust: whether a workspace's own files may widen what tau does.

A workspace is untrusted input. Until the user trusts it, tau ignores the
settings in its files that decide where API keys are sent or which secret is
read, or that raise the approval mode or a budget (see ``config.py`` and
``providers/dotenv.py``), and says so in one notice.

The decision is the user's, per workspace, kept in the user config dir
(``trusted-workspaces.toml``, keyed by the workspace's resolved path) so
nothing in the workspace can grant it. The app asks once, listing what would
load and from where; headless runs never assume it (``--trust`` grants it for
one run); ``tau trust [--revoke] [DIR]`` records it.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tau_engine.config import Settings, Withheld, load_settings, read_toml
from tau_engine.config.store_setting import STORE_URL_ENV, masked_url
from tau_engine.errors import ConfigError
from tau_engine.paths import WorkspacePaths, atomic_write_text, user_config_dir
from tau_engine.providers.dotenv import DOTENV_NAME, workspace_dotenv

TRUST_FILE_NAME = "trusted-workspaces.toml"
_HEADER = "# Workspaces whose own settings files tau may load (tau trust / tau trust --revoke).\n"


class _Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    trusted: bool
    decided: _dt.datetime | None = None


class _TrustFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workspaces: dict[str, _Decision] = {}


class TrustStore:
    """The user's trust decisions, one per workspace root. Writes are atomic."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else user_config_dir() / TRUST_FILE_NAME

    def _load(self) -> _TrustFile:
        data = read_toml(self.path)
        try:
            return _TrustFile.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{self.path}: {key}: {err['msg']}") from exc

    def decisions(self) -> dict[str, bool]:
        """Every recorded decision: workspace path -> trusted."""
        return {path: entry.trusted for path, entry in self._load().workspaces.items()}

    def decision(self, root: Path) -> bool | None:
        """True (trusted), False (the user said no) or None (never asked)."""
        entry = self._load().workspaces.get(_key(root))
        return None if entry is None else entry.trusted

    def decide(self, root: Path, trusted: bool) -> None:
        """Record the user's decision for the workspace at ``root``."""
        import tomli_w

        data = self._load()
        data.workspaces[_key(root)] = _Decision(
            trusted=trusted, decided=_dt.datetime.now(_dt.UTC).replace(microsecond=0)
        )
        body = {
            "workspaces": {
                path: entry.model_dump(exclude_none=True)
                for path, entry in sorted(data.workspaces.items())
            }
        }
        atomic_write_text(self.path, _HEADER + tomli_w.dumps(body))


def _key(root: Path) -> str:
    return str(root.resolve())


def workspace_withheld(
    paths: WorkspacePaths, settings: Settings, environ: Mapping[str, str] | None = None
) -> list[Withheld]:
    """Everything in the workspace's files that is ignored for want of trust: the
    settings ``load_settings`` withheld and the routing variables of ``.env``."""
    env = os.environ if environ is None else environ
    _, from_dotenv = workspace_dotenv(env, paths.root, trusted=settings.workspace_trusted)
    return [
        *settings.withheld,
        *(
            Withheld(name, masked_url(value), DOTENV_NAME, _STORE_REASON)
            if name == STORE_URL_ENV
            else Withheld(name, value, DOTENV_NAME, "decides where your API keys are sent")
            for name, value in from_dotenv.items()
        ),
    ]


_STORE_REASON = "decides where tau writes your sessions and jobs"


def with_trusted_store_url(
    paths: WorkspacePaths, environ: Mapping[str, str] | None, *, trusted: bool
) -> dict[str, str] | None:
    """``environ`` (default: the process environment) plus a trusted workspace ``.env``'s
    ``TAU_STORE_URL`` when the real environment sets none; unchanged (None: the process
    environment) when the workspace is not trusted or its ``.env`` names no store."""
    if not trusted:
        return None if environ is None else dict(environ)
    env = dict(os.environ if environ is None else environ)
    used, _ = workspace_dotenv(env, paths.root, trusted=True)
    if used.get(STORE_URL_ENV, "").strip():
        env[STORE_URL_ENV] = used[STORE_URL_ENV]
        return env
    return None if environ is None else env


def withheld_notice(items: list[Withheld]) -> str:
    """The one-line notice that says what was ignored and how to allow it."""
    listed = ", ".join(f"{item.key} ({item.source})" for item in items)
    return (
        f"this workspace is not trusted, so tau ignores {listed}: they could redirect "
        "your API keys or widen what tau may do; 'tau trust' allows them"
    )


@dataclass(frozen=True, slots=True)
class TrustQuestion:
    """What the app shows when it asks: the workspace and what trusting it would load."""

    root: Path
    items: list[Withheld]


AskTrust = Callable[[TrustQuestion], Awaitable[bool]]


def load_run_settings(
    paths: WorkspacePaths,
    cli: dict[str, Any] | None,
    *,
    default_approval: str,
    grant: bool = False,
    store: TrustStore | None = None,
    environ: dict[str, str] | None = None,
    require_setup: bool = True,
) -> Settings:
    """The settings of one run that does not ask (headless, the line REPL): trusted when
    ``grant`` (``--trust``) or when the user trusted the workspace before. Unless
    ``require_setup`` is false (a caller that needs no model), raises
    ``SetupNeededError`` (exit 2, naming ``tau onboard``) when nothing is set up."""
    from tau_engine.resources.setup_state import require_setup as check_setup

    store = store or TrustStore()
    trusted = grant or store.decision(paths.root) is True
    environ = with_trusted_store_url(paths, environ, trusted=trusted)
    settings = load_settings(
        paths, cli, environ, trusted=trusted, default_approval=default_approval
    )
    if require_setup:
        check_setup(paths, settings, environ)
    return settings


async def load_settings_asking(
    paths: WorkspacePaths,
    cli: dict[str, Any] | None,
    *,
    default_approval: str,
    ask: AskTrust,
    grant: bool = False,
    store: TrustStore | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """The settings of an interactive run: if the workspace has settings that trust would
    enable and the user never decided, ``ask`` once and record the answer."""
    store = store or TrustStore()
    decision = await asyncio.to_thread(store.decision, paths.root)
    trusted = grant or decision is True
    settings = await asyncio.to_thread(
        load_settings,
        paths,
        cli,
        with_trusted_store_url(paths, environ, trusted=trusted),
        trusted=trusted,
        default_approval=default_approval,
    )
    if trusted or decision is not None:
        return settings
    items = await asyncio.to_thread(workspace_withheld, paths, settings)
    if not items:
        return settings
    answer = await ask(TrustQuestion(paths.root, items))
    await asyncio.to_thread(store.decide, paths.root, answer)
    if not answer:
        return settings
    return await asyncio.to_thread(
        load_settings,
        paths,
        cli,
        with_trusted_store_url(paths, environ, trusted=True),
        trusted=True,
        default_approval=default_approval,
    )
