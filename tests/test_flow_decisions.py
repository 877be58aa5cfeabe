"""The member menu's decisions and the shared lockout policy, as the pure
functions of ``callflows`` they are (no app, no database)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from callflows.lockout import Attempts, LockoutPolicy
from callflows.menu import DailyUsage, MaskedCallCaps, PinOutcome, check_pin

NOW = datetime(2026, 12, 3, 12, 0)
POLICY = LockoutPolicy(max_attempts=3, duration=timedelta(minutes=15))


def test_the_lock_comes_at_the_last_attempt_and_the_counter_starts_again() -> None:
    attempts = Attempts()
    for expected in (1, 2):
        failure = POLICY.after_failure(attempts, NOW)
        assert (failure.attempts.failures, failure.locked_now) == (expected, False)
        attempts = failure.attempts
    failure = POLICY.after_failure(attempts, NOW)
    assert failure.locked_now and failure.attempts == Attempts(0, NOW + timedelta(minutes=15))
    assert POLICY.is_locked(failure.attempts, NOW + timedelta(minutes=14))
    assert not POLICY.is_locked(failure.attempts, NOW + timedelta(minutes=15))
    assert POLICY.after_success() == Attempts()


def test_a_locked_menu_checks_no_pin() -> None:
    locked = Attempts(0, NOW + timedelta(minutes=1))

    def never(_: str) -> bool:
        raise AssertionError("the PIN must not be checked while the menu is locked")

    assert check_pin(POLICY, locked, "1234", never, NOW).outcome is PinOutcome.LOCKED


@pytest.mark.parametrize(
    ("attempts", "digits", "right", "outcome", "after"),
    [
        (Attempts(2), "", False, PinOutcome.NO_PIN, Attempts(2)),
        (Attempts(2), "1234", True, PinOutcome.OPEN, Attempts()),
        (Attempts(1), "9999", False, PinOutcome.WRONG, Attempts(2)),
        (Attempts(2), "9999", False, PinOutcome.LOCKED_NOW, Attempts(0, NOW + timedelta(minutes=15))),
    ],
)
def test_pin_attempts(
    attempts: Attempts, digits: str, right: bool, outcome: PinOutcome, after: Attempts
) -> None:
    check = check_pin(POLICY, attempts, digits, lambda _: right, NOW)
    assert (check.outcome, check.attempts) == (outcome, after)


@pytest.mark.parametrize(
    ("usage", "limit"),
    [
        (DailyUsage(0, 0), 3600),  # the per-call limit
        (DailyUsage(5, 120 * 60 - 90), 90),  # what is left of today's minutes
        (DailyUsage(5, 120 * 60), None),  # minutes used up
        (DailyUsage(20, 0), None),  # calls used up
    ],
)
def test_masked_call_time_limit(usage: DailyUsage, limit: int | None) -> None:
    caps = MaskedCallCaps(daily_calls=20, daily_minutes=120, call_seconds=3600)
    assert caps.time_limit(usage) == limit
