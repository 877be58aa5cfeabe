"""Which PINs are too easy to guess to be a member's PIN.

Someone who learns a member's Safety Number gets a few tries at the PIN
before the menu locks; those tries go first to the PINs everyone tries:
one digit repeated (0000), a straight run (1234, 9876, 012345) and the last
digits of the phone the member calls from. A PIN of that kind is refused
wherever a PIN is set.
"""

from __future__ import annotations

from callflows.errors import PinTooShort, WeakPin

DIGITS = "0123456789"
TOO_EASY = "is too easy to guess: choose another"
SAME_DIGIT = f"a PIN of one digit repeated (like 0000) {TOO_EASY}"
STRAIGHT_RUN = f"a PIN that counts straight up or down (like 1234 or 9876) {TOO_EASY}"
OWN_NUMBER = f"a PIN made of the last digits of the member's own phone number {TOO_EASY}"


def is_straight_run(pin: str) -> bool:
    """Every digit one more than the last (1234, 012345) or one less (9876)."""
    return pin in DIGITS or pin in DIGITS[::-1]


def weakness(pin: str, own_phone_e164: str | None) -> str | None:
    """Why ``pin`` is too easy to guess for the member with ``own_phone_e164``; None if it is not."""
    if len(set(pin)) == 1:
        return SAME_DIGIT
    if is_straight_run(pin):
        return STRAIGHT_RUN
    if own_phone_e164 and own_phone_e164.endswith(pin):
        return OWN_NUMBER
    return None


def check_pin_quality(pin: str, min_length: int, own_phone_e164: str | None) -> None:
    """Raise :class:`PinTooShort` or :class:`WeakPin`, each with a sentence for
    the person setting the PIN (never the phone number itself)."""
    if not pin.isascii() or not pin.isdigit() or len(pin) < min_length:
        raise PinTooShort(f"the PIN must be at least {min_length} digits")
    reason = weakness(pin, own_phone_e164)
    if reason is not None:
        raise WeakPin(reason)
