"""One lockout policy for everything a guessed secret opens: the member menu
(wrong PINs) and the staff console (wrong passwords or codes).

After ``max_attempts`` failures in a row the account locks for ``duration``
and the counter starts again from zero, so once the lock runs out the full
number of attempts is back. A success clears both. The policy only decides:
the caller keeps the counter and the lock on its row and changes them under
a row lock (docs/architecture.md: counters that guard access or money
change atomically).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Attempts:
    """What is kept for one account: failures since the last lock, and the lock."""

    failures: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """The account after one more failure; ``locked_now`` when this one locked it."""

    attempts: Attempts
    locked_now: bool


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    max_attempts: int
    duration: timedelta

    def is_locked(self, attempts: Attempts, now: datetime) -> bool:
        return attempts.locked_until is not None and attempts.locked_until > now

    def after_failure(self, attempts: Attempts, now: datetime) -> Failure:
        """Count one failure; at ``max_attempts`` lock until ``now + duration``."""
        failures = attempts.failures + 1
        if failures < self.max_attempts:
            return Failure(Attempts(failures, attempts.locked_until), locked_now=False)
        return Failure(Attempts(0, now + self.duration), locked_now=True)

    def after_success(self) -> Attempts:
        return Attempts()
