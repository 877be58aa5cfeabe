"""Turns a real E.164 number into what may be stored: a token and an index."""

from __future__ import annotations

from dataclasses import dataclass

from callflows.phone import last_three
from storage.crypto import BlindIndex, FieldCipher


@dataclass(frozen=True)
class ProtectedNumber:
    index: str
    token: str
    last3: str


class NumberVault:
    """Encrypts numbers for storage and computes their blind index."""

    def __init__(self, cipher: FieldCipher, index: BlindIndex) -> None:
        self.cipher = cipher
        self.index = index

    def protect(self, e164: str) -> ProtectedNumber:
        return ProtectedNumber(self.index(e164), self.cipher.encrypt(e164), last_three(e164))

    def reveal(self, token: str) -> str:
        return self.cipher.decrypt(token)
