"""Content-addressed file copies under ``.tau/checkpoints/``, whatever the store backend
(the database holds which turn saved which copy; the bytes stay beside the workspace).

A blob is named by the sha256 of its bytes (``ab/abcdef…``), so the same
content is kept once however many turns touched it. Files are copied in
chunks while hashing, so a large file costs one streaming pass and no more
memory than a chunk. Blobs appear atomically (temp file + ``os.replace``) and
restores are atomic too, so a reader never sees a torn file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from tau_engine.errors import StoreError

CHUNK_BYTES = 1 << 20
DEFAULT_MODE = 0o644


class BlobCorruptError(StoreError):
    """A blob's bytes no longer match its name."""


class BlobStore:
    """The checkpoint blob folder of one workspace."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path_for(digest).is_file()

    def put_file(self, source: Path) -> str:
        """Copy ``source`` into the store; return its sha256. Raises ``OSError``."""
        self.root.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=".blob-", dir=self.root)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            digest = hasher.hexdigest()
            final = self.path_for(digest)
            if final.is_file():
                # Same content already kept; refresh its time so age-based
                # clean-up treats it as in use.
                tmp.unlink()
                os.utime(final)
            else:
                final.parent.mkdir(exist_ok=True)
                os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return digest

    def restore_to(self, digest: str, dest: Path, mode: int | None) -> None:
        """Write blob ``digest`` to ``dest`` atomically, checking its hash on the way.

        Raises ``FileNotFoundError`` when the blob is gone, ``BlobCorruptError``
        when its bytes do not match, ``OSError`` when ``dest`` cannot be written.
        """
        source = self.path_for(digest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        hasher = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.tau-", dir=dest.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(CHUNK_BYTES):
                    hasher.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            if hasher.hexdigest() != digest:
                raise BlobCorruptError(f"checkpoint blob {digest[:12]} is corrupt")
            # mkstemp makes the file private; give it the recorded mode instead.
            os.chmod(tmp, DEFAULT_MODE if mode is None else mode)
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def delete(self, digest: str) -> None:
        self.path_for(digest).unlink(missing_ok=True)
