"""Slow salted hashes for PINs and staff passwords (Argon2id)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_secret(secret: str) -> str:
    return _hasher.hash(secret)


def verify_secret(stored_hash: str | None, candidate: str) -> bool:
    """Constant-time check; False for a missing or malformed hash."""
    if not stored_hash:
        # Spend the same time as a real check so timing does not tell.
        _hasher.hash(candidate)
        return False
    try:
        return _hasher.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False
