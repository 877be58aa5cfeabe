"""Parallel sign-in attempts fired at a real server: the counters hold
(docs/architecture.md: counters that guard access or money change atomically).

The attack this reproduces: 40 parallel wrong passwords had 27 checked and
never locked the account (the count was read, increased and written back).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from callflows.lockout import Attempts, LockoutPolicy
from ivr.staff import auth
from storage import sign_in_limits
from storage.db import Database
from storage.models import AuditEntry, SignInWindow, Staff
from tests.staff.helpers import PASSWORD, make_staff
from tests.support.live_server import migrated_database, serving
from tests.support.suite import PG_URL

PARALLEL = 40


@pytest.fixture
def race_db() -> Iterator[Database]:
    with migrated_database(PG_URL, f"sn_signin_race_{os.getpid()}", pool_size=PARALLEL) as db:
        yield db


@pytest.fixture
def hash_checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many real password hashes the sign-in view compared (a counting
    wrapper around the real ``verify_secret``; the dummy hash of a locked
    account or unknown email is not a check)."""
    checks: list[int] = []
    lock = threading.Lock()
    real = auth.verify_secret

    def counted(password_hash: str | None, secret: str) -> bool:
        if password_hash is not None:
            with lock:
                checks.append(1)
        return real(password_hash, secret)

    monkeypatch.setattr(auth, "verify_secret", counted)
    return checks


def _sign_in(base: str, email: str, password: str) -> int:
    with requests.Session() as web:
        page = web.get(f"{base}/staff/login", timeout=30).text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match, page
        form = {"email": email, "password": password, "csrf_token": match.group(1)}
        return web.post(f"{base}/staff/login", data=form, allow_redirects=False, timeout=60).status_code


def _fire(base: str, attempts: list[tuple[str, str]]) -> list[int]:
    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        return list(pool.map(lambda a: _sign_in(base, *a), attempts))


def _audited(race_db: Database, action: str) -> int:
    """How many audit entries record ``action``."""
    with race_db.session() as s:
        return s.scalar(select(func.count()).where(AuditEntry.action == action)) or 0


@contextmanager
def _served(make_app: Callable[..., Flask], race_db: Database, ip_failures: int) -> Iterator[tuple[str, int]]:
    """The console served on ``race_db`` with Alice's account, an address
    allowed ``ip_failures`` failed sign-ins per 15 minutes: its base URL and
    Alice's id."""
    app = make_app(database=race_db, STAFF_IP_FAILURES_PER_15_MIN=ip_failures)
    staff_id = make_staff(race_db, "alice@example.org")
    with serving(app) as base:
        yield base, staff_id


def test_parallel_wrong_passwords_lock_the_account_after_the_limit(
    make_app: Callable[..., Flask], race_db: Database, hash_checks: list[int]
) -> None:
    with _served(make_app, race_db, ip_failures=1000) as (base, staff_id):
        statuses = _fire(base, [("alice@example.org", f"wrong {i}") for i in range(PARALLEL)])
        assert statuses == [401] * PARALLEL
        assert len(hash_checks) == 5  # STAFF_MAX_FAILED_LOGINS: not one more
        # Locked: even the right password is refused now, without a check.
        assert _sign_in(base, "alice@example.org", PASSWORD) == 401
    assert len(hash_checks) == 5
    with race_db.session() as s:
        staff = s.get(Staff, staff_id)
        assert staff is not None and staff.locked_until is not None
    assert _audited(race_db, "login.locked") == 1


def test_parallel_failures_from_one_address_stop_at_its_limit(
    make_app: Callable[..., Flask], race_db: Database, hash_checks: list[int]
) -> None:
    with _served(make_app, race_db, ip_failures=10) as (base, _):
        statuses = _fire(base, [(f"x{i}@example.org", "nope") for i in range(PARALLEL)])
        assert sorted(statuses) == [401] * 10 + [429] * (PARALLEL - 10)
        # The address is over its limit: the right password waits too.
        assert _sign_in(base, "alice@example.org", PASSWORD) == 429
    assert _audited(race_db, "login.failed") == 10


def test_a_right_password_gives_its_address_attempt_back(
    make_app: Callable[..., Flask], race_db: Database, hash_checks: list[int]
) -> None:
    with _served(make_app, race_db, ip_failures=2) as (base, _):
        for _ in range(4):
            assert _sign_in(base, "alice@example.org", PASSWORD) == 302
        assert _sign_in(base, "x@example.org", "nope") == 401
        assert _sign_in(base, "x@example.org", "nope") == 401
        assert _sign_in(base, "alice@example.org", PASSWORD) == 429


@pytest.mark.parametrize("max_attempts", [1, 3, 5])
def test_reserving_checks_follows_the_lockout_policy(race_db: Database, max_attempts: int) -> None:
    """The UPDATE … RETURNING counts as ``LockoutPolicy.after_failure`` does:
    the same check locks, the count starts again, nothing is taken while locked."""
    policy = LockoutPolicy(max_attempts, timedelta(minutes=15))
    now = datetime(2026, 12, 3, 11, 0)
    staff_id = make_staff(race_db, "alice@example.org")
    expected = Attempts()
    for _ in range(max_attempts * 2):
        with race_db.session() as s:
            reserved = sign_in_limits.reserve_check(s, staff_id, policy, now)
            staff = s.get(Staff, staff_id)
            assert staff is not None
            kept = Attempts(staff.failed_logins, staff.locked_until)
        if policy.is_locked(expected, now):
            assert reserved is None and kept == expected
            continue
        failure = policy.after_failure(expected, now)
        assert reserved is not None and reserved.locked_now == failure.locked_now
        assert kept == failure.attempts
        expected = failure.attempts
    later = now + policy.duration
    with race_db.session() as s:
        assert sign_in_limits.reserve_check(s, staff_id, policy, later) is not None


# --- the per-address limit is a sliding window ----------------------------------------

WINDOW = timedelta(minutes=15)
EDGE = datetime(2026, 12, 3, 11, 15)  # where one fixed 15-minute window ends and the next starts


def _take(db: Database, now: datetime, limit: int = 10, client: str = "192.0.2.7") -> bool:
    """One attempt from ``client`` at ``now``, committed; whether it was allowed."""
    with db.session() as s:
        return sign_in_limits.take_client_attempt(s, client, now, limit=limit, window=WINDOW) is not None


def test_parallel_attempts_straddling_a_window_edge_get_the_limit_once(race_db: Database) -> None:
    """A burst of 40 across the edge of two fixed windows: 20 fired at once
    just before it, then 20 at once around it (clocks of several web
    processes disagree by a little). With fixed windows each window gave the
    whole limit: 20 allowed against 10."""

    def burst(times: list[datetime]) -> list[bool]:
        ready = threading.Barrier(len(times))

        def attempt(now: datetime) -> bool:
            ready.wait()
            return _take(race_db, now)

        with ThreadPoolExecutor(max_workers=len(times)) as pool:
            return list(pool.map(attempt, times))

    just = timedelta(milliseconds=1)
    before = burst([EDGE - just] * (PARALLEL // 2))
    around = burst([EDGE - just, EDGE + just] * (PARALLEL // 4))
    assert before.count(True) == 10
    assert around.count(True) == 0


def test_the_last_windows_attempts_fade_out_as_the_window_slides(race_db: Database) -> None:
    assert all(_take(race_db, EDGE - timedelta(minutes=1)) for _ in range(10))
    # Just after the edge the last window still counts in full.
    assert not _take(race_db, EDGE + timedelta(seconds=1))
    # Half-way through the next window it counts half: 5 more (the refusal above is one of them).
    halfway = EDGE + WINDOW / 2
    assert [_take(race_db, halfway) for _ in range(5)] == [True] * 4 + [False]
    # A window on, those 6 attempts (refused ones too) count in full at first.
    later = EDGE + WINDOW + timedelta(seconds=1)
    assert [_take(race_db, later) for _ in range(5)] == [True] * 4 + [False]
    # Two windows on, nothing is remembered; other addresses were never affected.
    assert all(_take(race_db, EDGE + 3 * WINDOW) for _ in range(10))
    assert _take(race_db, later, client="192.0.2.8")


def test_a_success_gives_its_attempt_back_to_the_window_it_went_into(race_db: Database) -> None:
    with race_db.session() as s:
        first = sign_in_limits.take_client_attempt(
            s, "192.0.2.7", EDGE - timedelta(seconds=1), limit=2, window=WINDOW
        )
    assert first is not None
    assert _take(race_db, EDGE + timedelta(seconds=1), limit=2)  # the row rolls into the next window
    assert not _take(race_db, EDGE + timedelta(seconds=2), limit=2)
    with race_db.session() as s:
        sign_in_limits.give_back_client_attempt(s, "192.0.2.7", first)  # now the previous window's
    with race_db.session() as s:
        row = s.get(SignInWindow, "192.0.2.7")
        assert row is not None and (row.attempts, row.previous_attempts) == (2, 0)
    assert not _take(race_db, EDGE + timedelta(seconds=3), limit=2)  # 3 in this window


def test_finished_windows_are_forgotten_and_live_ones_kept(race_db: Database) -> None:
    _take(race_db, EDGE - WINDOW - timedelta(seconds=1), client="192.0.2.1")  # both its windows over at EDGE
    _take(race_db, EDGE - timedelta(seconds=1), client="192.0.2.2")  # its window is EDGE's last one
    with race_db.session() as s:
        sign_in_limits.forget_finished_windows(s, EDGE + timedelta(seconds=1), WINDOW)
    with race_db.session() as s:
        assert s.scalars(select(SignInWindow.client)).all() == ["192.0.2.2"]
