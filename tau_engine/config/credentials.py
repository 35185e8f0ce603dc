"""The user's private key file: ``credentials.toml`` in the user config dir.

A key typed into ``tau onboard`` is kept here, never in the workspace: the
file is created with mode 0600 (only the user may read it) in a folder with
mode 0700, and written atomically (a private temp file, then ``os.replace``),
so a crash leaves the old file or the new one and never a key readable by
others, not even for a moment.

Format::

    # tau's API keys (tau onboard). Private: keep this file mode 0600.
    [keys]
    openai = "sk-..."

The file is one of the sources of a provider's key (``providers/key_sources.py``):
the real environment wins over it, and it wins over a workspace ``.env``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from tau_engine.errors import ConfigError
from tau_engine.paths import user_config_dir

CREDENTIALS_FILE_NAME = "credentials.toml"
FILE_MODE = 0o600
DIR_MODE = 0o700
_HEADER = "# tau's API keys (tau onboard). Private: keep this file mode 0600.\n"


class _CredentialsDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    keys: dict[str, str] = {}


def credentials_path(config_dir: Path | None = None) -> Path:
    """Where the key file is (it may not exist)."""
    return (config_dir if config_dir is not None else user_config_dir()) / CREDENTIALS_FILE_NAME


class CredentialsFile:
    """Read and write the key file. Every write is atomic and private."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path if path is not None else credentials_path()

    def keys(self) -> dict[str, str]:
        """Every stored key, by provider (none when the file does not exist)."""
        from tau_engine.config.toml_file import read_toml

        data = read_toml(self.path)
        try:
            document = _CredentialsDocument.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(p) for p in err["loc"])
            raise ConfigError(f"{self.path}: {key}: {err['msg']}") from exc
        return {name: value.strip() for name, value in document.keys.items() if value.strip()}

    def get(self, provider: str) -> str | None:
        return self.keys().get(provider)

    def text_with(self, provider: str, key: str) -> str:
        """The file's text once ``key`` is stored for ``provider`` (nothing written)."""
        import tomli_w

        keys = self.keys()
        keys[provider] = key
        return _HEADER + tomli_w.dumps({"keys": dict(sorted(keys.items()))})

    def store(self, provider: str, key: str) -> None:
        """Store ``key`` for ``provider``, keeping the other providers' keys."""
        write_private(self.path, self.text_with(provider, key))

    def mode_problems(self) -> list[str]:
        """What is wrong with the file's or its folder's permissions (empty: nothing)."""
        problems = []
        for path, wanted in ((self.path, FILE_MODE), (self.path.parent, DIR_MODE)):
            try:
                mode = stat.S_IMODE(path.stat().st_mode)
            except OSError:
                continue
            if mode & 0o077:
                problems.append(
                    f"{path} is readable by others (mode {mode:04o}): run chmod {wanted:o} {path}"
                )
        return problems


def ensure_private_dir(folder: Path) -> None:
    """Create ``folder`` (and parents) and make it 0700."""
    folder.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if stat.S_IMODE(folder.stat().st_mode) != DIR_MODE:
        os.chmod(folder, DIR_MODE)


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600, in a 0700 folder.

    The temp file is created 0600 from the start (``O_EXCL``, so a planted file or
    link of that name is never written through), then renamed over ``path``."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.unlink()
    except FileNotFoundError:
        pass
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), FILE_MODE
    )
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
