"""Where encrypted recordings live.

The default backend is a local folder (``RECORDINGS_PATH``). Audio is
encrypted with the data keys before it touches the disk and decrypted only
when an authenticated staff request streams it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Protocol

from storage.crypto import FieldCipher

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")


class RecordingStore(Protocol):
    def put(self, name: str, audio: bytes) -> str: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...
    def rotate(self, key: str) -> bool: ...


class LocalRecordingStore:
    """Encrypted files under one folder; keys are file names, never paths."""

    def __init__(self, root: str | os.PathLike[str], cipher: FieldCipher) -> None:
        self.root = Path(root)
        self.cipher = cipher

    def _path(self, key: str) -> Path:
        name = key.removesuffix(".enc")
        if not _SAFE_NAME.match(name):
            raise ValueError("bad recording key")
        return self.root / f"{name}.enc"

    def put(self, name: str, audio: bytes) -> str:
        """Encrypt and write atomically (temp file, fsync, rename); return the key."""
        path = self._path(name)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(self.cipher.encrypt_bytes(audio))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path.name

    def get(self, key: str) -> bytes:
        return self.cipher.decrypt_bytes(self._path(key).read_bytes())

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def rotate(self, key: str) -> bool:
        """Re-encrypt one file under the newest data key; False if already current."""
        path = self._path(key)
        token = path.read_bytes()
        if self.cipher.is_current(token.decode("ascii")):
            return False
        self.put(path.stem, self.cipher.decrypt_bytes(token))
        return True
