"""One-time TOTP codes (RFC 6238, 30-second steps, 6 digits).

A code is good for its own time step, with at most one step of clock skew
either way (a phone a little fast or slow, or a code typed as the step
turned). Which step it matched is returned so the caller can record it:
``storage.staff_accounts.claim_totp_step`` then refuses that code, and any
code of an earlier step, ever after.
"""

from __future__ import annotations

import hmac

import pyotp

STEP_SECONDS = 30
SKEW_STEPS = 1
_ASCII_DIGITS = frozenset("0123456789")


def matching_step(secret: str, code: str, at: float) -> int | None:
    """The time step (own one first, then one either side) whose code is ``code``, or None."""
    code = "".join(code.split())
    if len(code) != 6 or not _ASCII_DIGITS.issuperset(code):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    own = int(at // STEP_SECONDS)
    for step in (own, *(own + d for k in range(1, SKEW_STEPS + 1) for d in (-k, k))):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None
