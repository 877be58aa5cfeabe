"""One-time TOTP (issue 12, item 7): a code is accepted once, only in its own
30-second step with at most one step of clock skew, and never a code of a
step already used. The console reads the time from a clock the test moves."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete

from ivr import services_of
from ivr.staff.totp import matching_step
from storage import staff_accounts
from storage.db import Database
from storage.models import Staff
from tests.staff.helpers import PASSWORD, Clock, People, csrf_from, post
from tests.support.databases import committing_database

SECRET = pyotp.random_base32()
T0 = 1_800_000_000.0  # the start of a step
STEP = int(T0 // 30)


def _code(at: float) -> str:
    return pyotp.TOTP(SECRET).at(at)


def test_a_code_matches_its_own_step_and_one_either_side_only() -> None:
    assert matching_step(SECRET, _code(T0), T0 + 29) == STEP
    assert matching_step(SECRET, _code(T0 - 30), T0) == STEP - 1
    assert matching_step(SECRET, _code(T0 + 30), T0) == STEP + 1
    assert matching_step(SECRET, _code(T0 - 60), T0) is None
    assert matching_step(SECRET, _code(T0 + 60), T0) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "\u0661\u0662\u0663\u0664\u0665\u0666"])
def test_a_code_that_is_not_six_ascii_digits_matches_nothing(code: str) -> None:
    assert matching_step(SECRET, code, T0) is None


def test_spaces_typed_inside_a_code_are_ignored() -> None:
    code = _code(T0)
    assert matching_step(SECRET, f" {code[:3]} {code[3:]} ", T0) == STEP


def test_a_step_is_claimed_once_and_earlier_steps_never(any_db: Database) -> None:
    with any_db.session() as s:
        staff = Staff(email="t@example.org", password_hash="x", role="admin")
        s.add(staff)
        s.flush()
        assert staff_accounts.claim_totp_step(s, staff.id, STEP)
        assert not staff_accounts.claim_totp_step(s, staff.id, STEP)
        assert not staff_accounts.claim_totp_step(s, staff.id, STEP - 1)
        assert staff_accounts.claim_totp_step(s, staff.id, STEP + 1)


@pytest.fixture
def with_totp(clocked_app: Flask, people: People, db: Database) -> int:
    """The admin's account with two-step sign-in on (``SECRET``)."""
    with db.session() as s:
        s.get_one(Staff, people.admin).totp_secret_encrypted = services_of(clocked_app).vault.cipher.encrypt(
            SECRET
        )
    return people.admin


def _code_step(app: Flask, code: str) -> tuple[FlaskClient, int]:
    """Password right, then ``code``: the client and the answer's status."""
    client = app.test_client()
    page = client.get("/staff/login").get_data(as_text=True)
    first = client.post(
        "/staff/login",
        data={"email": "admin@example.org", "password": PASSWORD, "csrf_token": csrf_from(page)},
    )
    assert first.headers["Location"] == "/staff/login/code"
    page = client.get("/staff/login/code").get_data(as_text=True)
    answer = client.post("/staff/login/code", data={"code": code, "csrf_token": csrf_from(page)})
    return client, answer.status_code


def test_a_code_signs_in_once_and_never_again(clocked_app: Flask, with_totp: int, clock: Clock) -> None:
    """The attack: reuse a code someone typed (shoulder-surfed, or replayed)
    within its window, and the previous window's code too."""
    clock.now = T0 + 5
    client, status = _code_step(clocked_app, _code(T0))
    assert status == 302 and client.get("/staff/reports").status_code == 200
    clock.now = T0 + 20
    assert _code_step(clocked_app, _code(T0))[1] == 401  # the same code, same window
    assert _code_step(clocked_app, _code(T0 - 30))[1] == 401  # the previous window's, older than one used
    clock.now = T0 + 35
    assert _code_step(clocked_app, _code(T0))[1] == 401  # still used, though within skew
    assert _code_step(clocked_app, _code(T0 + 30))[1] == 302  # the next step's own code


def test_a_code_two_steps_old_is_refused_even_unused(
    clocked_app: Flask, with_totp: int, clock: Clock
) -> None:
    clock.now = T0 + 60
    assert _code_step(clocked_app, _code(T0))[1] == 401
    assert _code_step(clocked_app, _code(T0 + 30))[1] == 302  # one step of skew is allowed


def test_a_code_used_to_turn_off_totp_or_to_sign_in_is_spent_for_the_other(
    clocked_app: Flask, with_totp: int, clock: Clock, db: Database
) -> None:
    clock.now = T0
    admin, status = _code_step(clocked_app, _code(T0))
    assert status == 302
    admin.get("/staff/account")
    post(admin, "/staff/account/totp/disable", {"code": _code(T0)})
    with db.session() as s:
        assert s.get_one(Staff, with_totp).totp_secret_encrypted is not None  # the spent code did nothing
    clock.advance(30)
    post(admin, "/staff/account/totp/disable", {"code": _code(T0 + 30)})
    with db.session() as s:
        assert s.get_one(Staff, with_totp).totp_secret_encrypted is None


def test_parallel_requests_with_one_code_claim_its_step_once(pg_url: str) -> None:
    """Twenty connections claim the same step at the same moment, each in its
    own committed transaction (as twenty web threads would): exactly one wins."""
    db = committing_database(pg_url, pool_size=20)
    with db.session() as s:
        staff = Staff(email="racer@example.org", password_hash="x", role="admin")
        s.add(staff)
        s.flush()
        staff_id = staff.id
    start = threading.Barrier(20)

    def claim(_: int) -> bool:
        with db.session() as s:
            start.wait()
            return staff_accounts.claim_totp_step(s, staff_id, STEP)

    try:
        with ThreadPoolExecutor(max_workers=20) as pool:
            won = list(pool.map(claim, range(20)))
        assert won.count(True) == 1
    finally:
        with db.session() as s:
            s.execute(delete(Staff).where(Staff.id == staff_id))
        db.engine.dispose()
