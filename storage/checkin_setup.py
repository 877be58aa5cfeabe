"""A member's duress PIN and buddy: set, changed or removed (menu, console, CLI).

The duress PIN follows the PIN's own quality rules, must differ from the
PIN, and is kept only as an Argon2 hash. The buddy's number is kept like
every number: encrypted, with its blind index, never in the clear.
"""

from __future__ import annotations

from callflows.errors import DuressSameAsPin
from callflows.pin_quality import check_pin_quality
from storage.hashing import hash_secret, verify_secret
from storage.models import Member
from storage.vault import NumberVault

SAME_AS_PIN = "the duress PIN must be different from the PIN"


def set_duress_pin(member: Member, pin: str, min_length: int, own_phone_e164: str | None) -> None:
    """Refuse a weak duress PIN or the PIN itself; otherwise keep its hash."""
    check_pin_quality(pin, min_length, own_phone_e164)
    if verify_secret(member.pin_hash, pin):
        raise DuressSameAsPin(SAME_AS_PIN)
    member.duress_pin_hash = hash_secret(pin)


def remove_duress_pin(member: Member) -> None:
    member.duress_pin_hash = None


def set_buddy(member: Member, vault: NumberVault, buddy_e164: str) -> str:
    """Keep the (already judged) buddy number encrypted; its last three digits."""
    protected = vault.protect(buddy_e164)
    member.buddy_encrypted, member.buddy_index = protected.token, protected.index
    return protected.last3


def remove_buddy(member: Member) -> None:
    member.buddy_encrypted = member.buddy_index = None


def erase_safety_net(member: Member) -> None:
    """Cancellation: the duress PIN and the buddy go with the member's other data."""
    remove_duress_pin(member)
    remove_buddy(member)
