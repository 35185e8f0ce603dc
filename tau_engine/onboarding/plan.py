"""A setup as data: the choices, their validation, the writes, and the command that
repeats it.

The wizard and ``tau onboard --non-interactive`` are two front ends over this
module. An ``OnboardingPlan`` holds the seven steps' choices (provider, key,
model, workspace, identity files and verifier, safety profile, profile name).
``planned_writes`` validates all of them first and lists every path with its
action and mode, touching nothing; ``write_plan`` then writes all of it or
nothing (``writer.py``). ``equivalent_command`` is the one-line
``tau onboard --non-interactive ...`` that makes the same setup in CI.

What is written: ``.tau/`` with its ``.gitignore``; the identity files (new
ones from templates, existing ones kept unless the user confirmed a shown
diff); in the user config dir, the profile (``profiles/NAME.toml``), a typed
key in ``credentials.toml`` (0600, folder 0700) and ``profile = "NAME"`` in
``config.toml``, which makes it the active one. Never a key in the workspace.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tau_engine.config.credentials import DIR_MODE, FILE_MODE, CredentialsFile
from tau_engine.config.profiles import (
    DEFAULT_PROFILE_NAME,
    DEFAULT_SAFETY,
    SAFETY_PROFILES,
    KeySource,
    Profile,
    ProfileStore,
    check_profile_name,
    check_variable_name,
    config_text_with_profile,
    render_profile,
)
from tau_engine.config.settings import Settings
from tau_engine.config.toml_file import read_toml
from tau_engine.errors import UsageError
from tau_engine.onboarding.identity import DESCRIPTIONS, identity_files
from tau_engine.onboarding.writer import PlannedWrite, apply_writes
from tau_engine.paths import STATE_DIR_NAME, STATE_GITIGNORE, user_config_dir
from tau_engine.providers.registry import parse_model_id
from tau_engine.providers.specs import OFFLINE_MODELS, PROVIDERS
from tau_engine.resources.project_verifier import check_verifier

KeyKind = Literal["env", "typed", "stored", "none"]
PUBLIC_FILE_MODE = 0o644
PUBLIC_DIR_MODE = 0o755
_MIN_KEY_CHARS = 8


@dataclass(frozen=True)
class KeyChoice:
    """Where the provider's key comes from: an environment variable (``env``), a key typed
    or piped in now and stored in the credentials file (``typed``), the key already in the
    credentials file (``stored``), or none (a provider that needs no key)."""

    kind: KeyKind
    variable: str | None = None
    secret: str | None = field(default=None, repr=False)

    @property
    def profile_source(self) -> KeySource:
        if self.kind == "env":
            return "env"
        return "credentials" if self.kind in ("typed", "stored") else "none"


@dataclass(frozen=True)
class OnboardingPlan:
    """Every choice of one setup. ``replace`` names the existing identity files whose
    shown diff the user confirmed (only the wizard can)."""

    workspace: Path
    provider: str
    model: str  # an id within ``provider`` or a full provider/model
    key: KeyChoice
    safety: str = DEFAULT_SAFETY
    profile: str = DEFAULT_PROFILE_NAME
    verifier: str | None = None
    replace: frozenset[str] = frozenset()


def full_model_id(provider: str, model: str) -> str:
    """``model`` as a full ``provider/model`` id of ``provider`` (``gpt-4.1-mini`` and
    ``openai/gpt-4.1-mini`` both give the latter); ``UsageError`` if it names another
    provider. OpenRouter ids keep their own slash (``anthropic/claude-sonnet-4.5``)."""
    text = model.strip()
    if not text:
        raise UsageError(
            f"--model is empty: give a model of {provider}, e.g. "
            f"{provider}/MODEL (tau models --provider {provider})"
        )
    head, slash, _ = text.partition("/")
    if slash and head.lower() == provider:
        return f"{provider}/{text[len(head) + 1 :]}"
    if slash and head.lower() in PROVIDERS and provider != "openrouter":
        raise UsageError(
            f"--model {text} is a model of {head.lower()}, not of --provider {provider}"
        )
    return f"{provider}/{text}"


def check_key(choice: KeyChoice, provider: str) -> None:
    """``UsageError`` if ``choice`` cannot supply ``provider``'s key."""
    needs = PROVIDERS[provider].needs_key
    if choice.kind == "none":
        if needs:
            raise UsageError(
                f"{provider} needs an API key: give --api-key-env VAR (the "
                "variable that holds it) or --api-key-stdin"
            )
        return
    if provider == "offline":
        raise UsageError("offline models need no key: leave out --api-key-env and --api-key-stdin")
    if choice.kind == "env":
        check_variable_name(choice.variable or "")
    elif choice.kind == "typed":
        key = (choice.secret or "").strip()
        if not key:
            raise UsageError("the API key is empty")
        if any(ch.isspace() for ch in key) or not key.isprintable():
            raise UsageError(
                "the API key has spaces, line breaks or control characters "
                "inside: paste only the key"
            )
        if len(key) < _MIN_KEY_CHARS:
            raise UsageError(
                f"the API key is too short ({len(key)} characters): paste the whole key"
            )
    elif choice.kind == "stored" and not CredentialsFile().get(provider):
        raise UsageError(
            f"the credentials file has no {provider} key: give --api-key-env VAR or --api-key-stdin"
        )


def _check_choices(plan: OnboardingPlan) -> str:
    """Validate every choice; the full model id."""
    if plan.provider not in PROVIDERS:
        raise UsageError(
            f"unknown provider '{plan.provider}'; choose one of: {', '.join(PROVIDERS)}"
        )
    model_id = full_model_id(plan.provider, plan.model)
    _, model = parse_model_id(model_id)
    if plan.provider == "offline" and model not in OFFLINE_MODELS:
        raise UsageError(f"unknown offline model '{model}': use echo or replay")
    check_key(plan.key, plan.provider)
    if plan.safety not in SAFETY_PROFILES:
        raise UsageError(
            f"unknown safety profile '{plan.safety}'; choose one of: {', '.join(SAFETY_PROFILES)}"
        )
    check_profile_name(plan.profile)
    if plan.verifier is not None:
        try:
            check_verifier(plan.verifier)
        except ValueError as exc:
            raise UsageError(f"--verifier: {exc}") from None
    if not plan.workspace.is_dir():
        raise UsageError(f"workspace is not a directory: {plan.workspace}")
    state = plan.workspace / STATE_DIR_NAME
    if state.is_symlink() or (state.exists() and not state.is_dir()):
        raise UsageError(f"{state} exists and is not a folder: move it away first")
    return model_id


def _profile(plan: OnboardingPlan, model_id: str) -> Profile:
    return Profile.model_validate(
        {
            "provider": plan.provider,
            "model": model_id,
            "key_source": plan.key.profile_source,
            "api_key_env": plan.key.variable if plan.key.kind == "env" else None,
            "safety": plan.safety,
        }
    )


def _file(path: Path, content: str, what: str, mode: int, *, secret: bool = False) -> PlannedWrite:
    exists = path.is_file()
    if exists and not secret and path.read_text(encoding="utf-8", errors="replace") == content:
        return PlannedWrite(path, "keep", what, content=content)
    return PlannedWrite(path, "replace" if exists else "create", what, mode, content, secret=secret)


def _folder(path: Path, what: str, mode: int, *, force_mode: bool = False) -> PlannedWrite:
    if not path.exists():
        return PlannedWrite(path, "create", what, mode, is_dir=True)
    if force_mode and (path.stat().st_mode & 0o777) != mode:
        return PlannedWrite(path, "update", what, mode, is_dir=True)
    return PlannedWrite(path, "keep", what, is_dir=True)


def _workspace_writes(plan: OnboardingPlan) -> list[PlannedWrite]:
    state = plan.workspace.resolve() / STATE_DIR_NAME
    writes = [_folder(state, "tau's workspace state folder", PUBLIC_DIR_MODE)]
    ignore = state / ".gitignore"
    writes.append(
        PlannedWrite(ignore, "keep", "keeps .tau/ out of commits")
        if ignore.exists()
        else PlannedWrite(
            ignore, "create", "keeps .tau/ out of commits", PUBLIC_FILE_MODE, STATE_GITIGNORE
        )
    )
    for item in identity_files(plan.workspace.resolve(), plan.verifier):
        what = f"identity: {DESCRIPTIONS[item.name]}"
        if not item.exists:
            writes.append(PlannedWrite(item.path, "create", what, PUBLIC_FILE_MODE, item.proposed))
        elif item.name in plan.replace and item.differs:
            writes.append(PlannedWrite(item.path, "replace", what, PUBLIC_FILE_MODE, item.proposed))
        else:
            writes.append(PlannedWrite(item.path, "keep", what))
    unknown = plan.replace - set(DESCRIPTIONS)
    if unknown:
        raise UsageError(f"not an identity file: {', '.join(sorted(unknown))}")
    return writes


def _user_writes(plan: OnboardingPlan, model_id: str) -> list[PlannedWrite]:
    config_dir = user_config_dir()
    typed = plan.key.kind == "typed"
    writes = [_folder(config_dir, "your tau config folder", DIR_MODE, force_mode=typed)]
    if typed:
        assert plan.key.secret is not None
        credentials = CredentialsFile()
        text = credentials.text_with(plan.provider, plan.key.secret.strip())
        writes.append(
            _file(credentials.path, text, f"your {plan.provider} key", FILE_MODE, secret=True)
        )
    store = ProfileStore()
    writes.append(_folder(store.folder, "your profiles", PUBLIC_DIR_MODE))
    writes.append(
        _file(
            store.path(plan.profile),
            render_profile(_profile(plan, model_id)),
            f"profile '{plan.profile}'",
            PUBLIC_FILE_MODE,
        )
    )
    config = config_dir / "config.toml"
    read_toml(config)  # a broken file fails here, naming its line, before anything is written
    old = config.read_text(encoding="utf-8") if config.is_file() else ""
    mode = config.stat().st_mode & 0o777 if config.is_file() else PUBLIC_FILE_MODE
    writes.append(
        _file(
            config,
            config_text_with_profile(old, plan.profile),
            f"your settings: profile '{plan.profile}' is the active one",
            mode,
        )
    )
    return writes


def planned_writes(plan: OnboardingPlan) -> list[PlannedWrite]:
    """Validate every choice and list every path the plan creates, changes or keeps, in
    the order they are written. Nothing is written. Raises ``UsageError`` (one line)."""
    model_id = _check_choices(plan)
    return [*_workspace_writes(plan), *_user_writes(plan, model_id)]


def write_plan(plan: OnboardingPlan) -> list[PlannedWrite]:
    """Write the whole setup, or nothing (``WriteFailed``); the writes as planned."""
    writes = planned_writes(plan)
    apply_writes(writes)
    return writes


def profile_of(plan: OnboardingPlan) -> Profile:
    """The profile the plan writes (validating its choices)."""
    return _profile(plan, _check_choices(plan))


def equivalent_command(plan: OnboardingPlan) -> str:
    """The ``tau onboard --non-interactive ...`` line that makes the same setup. A typed key
    becomes ``--api-key-stdin`` (pipe the key into it); a key already stored needs no flag.
    Replacing existing identity files has no flag: the non-interactive run keeps them."""
    model_id = full_model_id(plan.provider, plan.model)
    words = [
        "tau",
        "onboard",
        "--non-interactive",
        "--provider",
        plan.provider,
        "--model",
        model_id.split("/", 1)[1],
    ]
    if plan.key.kind == "env":
        words += ["--api-key-env", plan.key.variable or ""]
    elif plan.key.kind == "typed":
        words.append("--api-key-stdin")
    words += [
        "--workspace",
        str(plan.workspace),
        "--safety",
        plan.safety,
        "--profile",
        plan.profile,
    ]
    if plan.verifier:
        words += ["--verifier", plan.verifier]
    return shlex.join(words)


def key_value(
    choice: KeyChoice, provider: str, environ: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """``(key, where)`` the choice would give now, for a probe before anything is written."""
    if choice.kind == "env":
        value = environ.get(choice.variable or "", "").strip()
        return (value or None), f"environment {choice.variable}"
    if choice.kind == "typed":
        return (choice.secret or "").strip() or None, "the key typed"
    if choice.kind == "stored":
        return CredentialsFile().get(provider), "the credentials file"
    return None, None


_KIND_OF_SOURCE: dict[KeySource, KeyKind] = {"env": "env", "credentials": "stored", "none": "none"}


def starting_plan(
    workspace: Path, settings: Settings, environ: Mapping[str, str]
) -> OnboardingPlan:
    """The choices a wizard starts from: the active profile's, else the first provider
    with a key found (its default model and that key), else Anthropic's."""
    from tau_engine.onboarding.identity import identity_path
    from tau_engine.providers.catalog import load_catalog
    from tau_engine.providers.key_sources import key_candidates, suggested_key_var
    from tau_engine.providers.specs import DEFAULT_PROVIDER_ORDER
    from tau_engine.resources.project_verifier import recorded_verifier

    agents = identity_path(workspace, "AGENTS.md")
    verifier = (
        recorded_verifier(agents.read_text(encoding="utf-8", errors="replace"))
        if agents.is_file() and not agents.is_symlink()
        else None
    )
    if settings.profile and ProfileStore().exists(settings.profile):
        profile = ProfileStore().load(settings.profile)
        return OnboardingPlan(
            workspace,
            profile.provider,
            profile.model,
            KeyChoice(_KIND_OF_SOURCE[profile.key_source], profile.api_key_env),
            profile.safety,
            settings.profile,
            verifier,
        )
    provider, key = "anthropic", KeyChoice("env", suggested_key_var("anthropic", settings))
    for name in DEFAULT_PROVIDER_ORDER:
        found = key_candidates(name, settings, environ, workspace)
        if found:
            winner = found[0]
            provider = name
            key = (
                KeyChoice("stored")
                if winner.source == "credentials"
                else KeyChoice("env", winner.name)
            )
            break
    model = load_catalog().default_model(provider) or ""
    return OnboardingPlan(workspace, provider, f"{provider}/{model}", key, verifier=verifier)
