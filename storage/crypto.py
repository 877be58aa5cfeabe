"""Field encryption and the blind index.

Real phone numbers are stored only as Fernet tokens (MultiFernet: the newest
key encrypts, every listed key decrypts, so keys can be rotated) and found
through a keyed HMAC of their E.164 form. The HMAC key is separate from the
data keys: someone holding a database dump and the index key still cannot
read a number, and the data keys alone cannot be used to search.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from callflows.errors import ConfigurationError


class FieldCipher:
    """Encrypts and decrypts small fields and blobs with rotatable keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigurationError("SAFETY_DATA_KEYS holds no key")
        try:
            self._fernets = [Fernet(k.strip().encode()) for k in keys]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError("SAFETY_DATA_KEYS holds a key that is not a Fernet key") from exc
        self._multi = MultiFernet(self._fernets)
        self._newest = self._fernets[0]

    def encrypt(self, plaintext: str) -> str:
        return self._multi.encrypt(plaintext.encode()).decode("ascii")

    def decrypt(self, token: str) -> str:
        return self._multi.decrypt(token.encode("ascii")).decode()

    def encrypt_bytes(self, data: bytes) -> bytes:
        return self._multi.encrypt(data)

    def decrypt_bytes(self, token: bytes) -> bytes:
        return self._multi.decrypt(token)

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the newest key (decrypting with any)."""
        return self._multi.rotate(token.encode("ascii")).decode("ascii")

    def rotate_bytes(self, token: bytes) -> bytes:
        return self._multi.rotate(token)

    def is_current(self, token: str) -> bool:
        """True when ``token`` already decrypts under the newest key."""
        try:
            self._newest.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True


class BlindIndex:
    """Keyed HMAC-SHA256 of an E.164 number, hex encoded, for equality lookups."""

    def __init__(self, key: str) -> None:
        if not key:
            raise ConfigurationError("SAFETY_INDEX_KEY is empty")
        self._key = _key_bytes(key)

    def __call__(self, e164: str) -> str:
        return hmac.new(self._key, e164.encode(), hashlib.sha256).hexdigest()


def _key_bytes(key: str) -> bytes:
    """Accept a urlsafe-base64 key (as generated) or any long-enough string."""
    try:
        raw = base64.urlsafe_b64decode(key.encode() + b"=" * (-len(key) % 4))
        if len(raw) >= 32:
            return raw
    except (ValueError, TypeError):
        pass
    if len(key) < 32:
        raise ConfigurationError("SAFETY_INDEX_KEY must be at least 32 characters")
    return key.encode()


def new_fernet_key() -> str:
    return Fernet.generate_key().decode("ascii")


def new_index_key() -> str:
    import secrets

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")
