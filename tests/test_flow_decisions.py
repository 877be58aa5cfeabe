"""The access line's and the member menu's decisions and the shared lockout
policy, as the pure functions of ``callflows`` they are (no app, no database)."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest

from callflows.access import AccessFacts, AccessOutcome, FirstKey, first_key, judge_access
from callflows.lockout import Attempts, LockoutPolicy
from callflows.menu import DailyUsage, MaskedCallCaps, seconds_spent
from callflows.sliding_window import SlidingWindow

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


@pytest.mark.parametrize("values", list(itertools.product([False, True], repeat=5)))
def test_only_the_full_pair_from_the_members_phone_opens(values: tuple[bool, ...]) -> None:
    facts = AccessFacts(*values)
    outcome = judge_access(facts)
    opens = (
        facts.line_live
        and facts.from_member_phone
        and facts.pin_matches
        and not facts.menu_locked
        and not facts.caller_limited
    )
    assert (outcome is AccessOutcome.OPEN) == opens
    # Only the member's own phone counts towards the member's lock.
    if outcome is AccessOutcome.MEMBER_FAILURE:
        assert facts.line_live and facts.from_member_phone and not facts.menu_locked
    # Someone else's failure counts towards their own number's limit, never the member's.
    if not (facts.line_live and facts.from_member_phone) and not facts.caller_limited:
        assert outcome is AccessOutcome.CALLER_FAILURE


@pytest.mark.parametrize(
    ("digits", "asked", "key"),
    [
        ("02079460001", 1, FirstKey.SAFETY_NUMBER),
        ("02079460001", 3, FirstKey.SAFETY_NUMBER),  # a full number always goes on to the PIN
        ("999", 1, FirstKey.SAFETY_NUMBER),  # no Safety Number, but the same PIN prompt
        ("2", 1, FirstKey.REASK),  # a short key: later, another language
        ("", 2, FirstKey.REASK),
        ("2", 3, FirstKey.GOODBYE),
    ],
)
def test_the_first_prompt_tells_a_choice_from_a_safety_number(digits: str, asked: int, key: FirstKey) -> None:
    assert first_key(digits, asked) is key


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


@pytest.mark.parametrize(
    ("status", "duration", "spent"),
    [
        ("completed", 95, 95),  # what Twilio measured
        ("answered", 0, 0),
        ("completed", None, None),  # unknown: the reservation stands
        ("answered", None, None),
        ("", None, None),
        ("busy", None, 0),  # never connected: nothing spent
        ("no-answer", None, 0),
        ("failed", None, 0),
        ("canceled", None, 0),
    ],
)
def test_what_a_finished_masked_call_spent(status: str, duration: int | None, spent: int | None) -> None:
    assert seconds_spent(status, duration) == spent


@pytest.mark.parametrize(
    ("elapsed", "previous", "allowed_now"),
    [
        (timedelta(0), 10, 0),  # just past the edge the last window counts in full
        (timedelta(minutes=7, seconds=30), 10, 5),  # half-way: half
        (timedelta(minutes=12), 10, 8),  # four fifths through: a fifth
        (timedelta(minutes=15), 10, 10),  # (a window on: nothing)
        (timedelta(minutes=-1), 4, 6),  # a clock behind the row's window: the last counts in full
    ],
)
def test_a_sliding_window_weighs_the_last_window_by_what_it_still_covers(
    elapsed: timedelta, previous: int, allowed_now: int
) -> None:
    window = SlidingWindow(limit=10, length=timedelta(minutes=15))
    start = datetime(2026, 12, 3, 11, 15)
    allowed = [window.allows(n, previous, start, start + elapsed) for n in range(1, 15)]
    assert allowed == [True] * allowed_now + [False] * (14 - allowed_now)


def test_fixed_windows_tile_time() -> None:
    window = SlidingWindow(limit=10, length=timedelta(minutes=15))
    assert window.start_of(datetime(2026, 12, 3, 11, 29, 59)) == datetime(2026, 12, 3, 11, 15)
    assert window.start_of(datetime(2026, 12, 3, 11, 30)) == datetime(2026, 12, 3, 11, 30)
