"""Job inputs signed by the user who submitted them.

The queue lives in the workspace (``.tau/tau.db``), and everything in a
workspace is untrusted: a repository can ship a database with jobs in it, and
another program can insert rows. A job's inputs carry authority (the approval
mode, the model and where its requests go, the budgets), so a worker runs only
jobs whose inputs carry an HMAC made with a key that lives in the user's config
dir, where nothing in the workspace can read or write it. A job without a valid
signature is not run: it is blocked as needing the user's authority.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from tau_engine.errors import ConfigError
from tau_engine.paths import user_config_dir

KEY_FILE_NAME = "job-signing.key"


def _message(job_id: str, kind: str, inputs: dict[str, Any]) -> bytes:
    body = {"id": job_id, "kind": kind, "inputs": inputs}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class JobSigner:
    """Signs and checks job inputs with the user's key (created 0600 on first use)."""

    def __init__(self, key_path: Path | None = None) -> None:
        self.key_path = key_path if key_path is not None else user_config_dir() / KEY_FILE_NAME
        self._key: bytes | None = None

    def _load_key(self) -> bytes:
        if self._key is None:
            if not self.key_path.exists():
                self._create_key()
            try:
                text = self.key_path.read_text(encoding="ascii").strip()
                key = bytes.fromhex(text)
            except (OSError, ValueError) as exc:
                raise ConfigError(
                    f"cannot read the job signing key {self.key_path}: "
                    f"{getattr(exc, 'strerror', None) or exc}"
                ) from exc
            if len(key) < 32:
                raise ConfigError(
                    f"the job signing key {self.key_path} is too short; "
                    "delete it and tau makes a new one"
                )
            self._key = key
        return self._key

    def _create_key(self) -> None:
        self.key_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.key_path.with_name(f".{self.key_path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, (secrets.token_hex(32) + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            # A hard link never replaces: when two processes race, the first key wins.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, self.key_path)
        finally:
            tmp.unlink(missing_ok=True)

    def sign(self, job_id: str, kind: str, inputs: dict[str, Any]) -> str:
        digest = hmac.new(self._load_key(), _message(job_id, kind, inputs), hashlib.sha256)
        return "hmac-sha256:" + digest.hexdigest()

    def verify(self, job_id: str, kind: str, inputs: dict[str, Any], signature: str) -> bool:
        if not signature:
            return False
        return hmac.compare_digest(self.sign(job_id, kind, inputs), signature)
