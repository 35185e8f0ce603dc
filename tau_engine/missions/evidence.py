"""The evidence folder ``.tau/missions/<id>/``: every file a mission leaves for review.

Every byte written there goes through ``EvidenceWriter.write``, which applies
the redactor it was given first: evidence is meant to be shared, so it must
never carry a secret. ``SHA256SUMS`` (the format ``sha256sum -c`` reads) lists
every other file, so anyone can check that the evidence is what the mission
wrote; ``tau mission verify`` checks it too.

The redactor the mission service passes is the safety layer's redaction funnel
(``environment.evidence_redactor``); ``environment_redactor`` is the exact-value
part on its own (the credentials of an environment, ``[REDACTED:NAME]``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tau_engine.missions.model import MissionError
from tau_engine.missions.verifier import is_secret_name
from tau_engine.paths import atomic_write_text

Redactor = Callable[[str], str]
"""Takes text bound for the evidence folder and returns it with secrets removed."""

SUMS_FILE = "SHA256SUMS"
MIN_SECRET_CHARS = 8  # shorter values would redact ordinary words


def no_redaction(text: str) -> str:
    return text


def environment_redactor(environ: Mapping[str, str]) -> Redactor:
    """A redactor for the exact values of the credential variables in ``environ``."""
    secrets = sorted(
        (
            (value, name)
            for name, value in environ.items()
            if is_secret_name(name) and len(value.strip()) >= MIN_SECRET_CHARS
        ),
        key=lambda pair: -len(pair[0]),
    )

    def redact(text: str) -> str:
        for value, name in secrets:
            if value in text:
                text = text.replace(value, f"[REDACTED:{name}]")
        return text

    return redact


class EvidenceWriter:
    """Writes one mission's evidence folder, through the redactor."""

    def __init__(self, root: Path, redactor: Redactor) -> None:
        self.root = root
        self._redact = redactor

    def _path(self, rel: str) -> Path:
        path = (self.root / rel).resolve()
        if self.root.resolve() not in path.parents:
            raise MissionError(f"evidence path escapes the evidence folder: {rel}")
        return path

    def write(self, rel: str, text: str) -> Path:
        """Write one evidence file, redacted, atomically. The only way evidence is written."""
        path = self._path(rel)
        atomic_write_text(path, self._redact(text))
        return path

    def write_json(self, rel: str, data: Any) -> Path:
        return self.write(rel, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def read(self, rel: str) -> str:
        try:
            return self._path(rel).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def exists(self, rel: str) -> bool:
        return self._path(rel).is_file()

    def write_sums(self) -> Path:
        """(Re)write ``SHA256SUMS`` over every other file of the folder."""
        lines = [f"{digest}  {rel}" for rel, digest in file_digests(self.root).items()]
        return self.write(SUMS_FILE, "\n".join(lines) + "\n")


def file_digests(root: Path) -> dict[str, str]:
    """``relative path -> sha256`` of every evidence file but ``SHA256SUMS``, sorted."""
    found: dict[str, str] = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            rel = path.relative_to(root).as_posix()
            if rel == SUMS_FILE or name.startswith("."):
                continue  # SHA256SUMS itself, and atomic writes' temporary files
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def check_sums(root: Path) -> list[str]:
    """What is wrong with the folder against its ``SHA256SUMS`` (empty: all good)."""
    sums = root / SUMS_FILE
    if not sums.is_file():
        return [f"{SUMS_FILE} is missing"]
    listed: dict[str, str] = {}
    for line in sums.read_text(encoding="utf-8").splitlines():
        digest, sep, rel = line.partition("  ")
        if sep and rel:
            listed[rel] = digest
    actual = file_digests(root)
    problems = [
        f"{rel}: changed since the mission wrote it"
        for rel, digest in listed.items()
        if rel in actual and actual[rel] != digest
    ]
    problems += [f"{rel}: missing" for rel in listed if rel not in actual]
    problems += [f"{rel}: not listed in {SUMS_FILE}" for rel in actual if rel not in listed]
    return problems


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
