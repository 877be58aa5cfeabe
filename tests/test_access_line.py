"""The members' access line (docs/members-and-callers.md, the member menu): Safety Number, PIN and the
registered phone together open the menu, and nothing else tells a caller
anything — not which part was wrong, whether the number is a Safety Number,
nor whether that menu is locked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from redis import Redis
from sqlalchemy import func, select
from werkzeug.serving import make_server

from callflows import access
from ivr import create_app
from storage import hashing
from storage.db import Database
from storage.migrate import upgrade
from storage.models import AccessCaller, AuditEntry, Call, Member, SafetyNumber, utcnow
from storage.vault import NumberVault
from tests.support import people
from tests.support.databases import committing_database, scratch_database
from tests.support.live_server import SignedPoster
from tests.support.menu import ACCESS, MemberMenu, jobs, member_row, new_sid
from tests.support.people import ACCESS_LINE, LINE, MEMBER_PHONE, PIN, Enrol, national
from tests.support.suite import PG_URL, AppConfig, SuiteConfig
from tests.support.twilio import TwilioClient, TwiML, said

STRANGER = "+447911000222"
OTHER_PHONE, OTHER_LINE, OTHER_PIN = "+442079460124", "+442079460002", "5937"


def assert_no_match(root: TwiML) -> None:
    assert root.verbs == ["Say", "Hangup"]
    assert said(root) == access.NO_MATCH.text


# --- the prompts ------------------------------------------------------------------


def test_the_access_line_asks_for_a_safety_number_ended_by_hash(menu: MemberMenu, app: Flask) -> None:
    root = menu.call_access_line(new_sid(), phone=STRANGER)
    assert root.verbs == ["Gather", "Say", "Hangup"]
    gather = root.one("Gather")
    assert (gather.get("finishOnKey"), gather.get("input"), gather.get("method")) == ("#", "dtmf", "POST")
    assert gather.get("action") == menu.url(f"{ACCESS}/number")
    assert "Safety Number" in said(gather)
    # Nothing is logged for a call to the access line: it is nobody's call yet.
    with menu.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_a_full_safety_number_goes_on_to_the_pin_prompt(menu: MemberMenu, member: Any) -> None:
    sid = new_sid()
    menu.call_access_line(sid)
    root = menu.key("number", sid, national(LINE))
    gather = root.one("Gather")
    assert (gather.get("finishOnKey"), gather.get("action")) == ("#", menu.url(f"{ACCESS}/pin"))
    assert "PIN" in said(gather) and root.verbs == ["Gather", "Say", "Hangup"]
    # The keyed number is kept against the CallSid, never in a URL.
    assert national(LINE) not in root.body.decode() and LINE not in root.body.decode()


def test_a_short_key_asks_again_then_the_call_ends(menu: MemberMenu) -> None:
    """A short key (``0#``, or a language's ``2#``) is a choice, never a Safety Number."""
    sid = new_sid()
    first = menu.call_access_line(sid)
    again = menu.key("number", sid, "0")
    assert again.one("Gather").get("action") == menu.url(f"{ACCESS}/number", "asked=2")
    assert said(again) == said(first)
    third = menu.twilio.post(f"{ACCESS}/number", query="asked=3", CallSid=sid, From=MEMBER_PHONE, Digits="0")
    assert third.verbs == ["Say", "Hangup"] and said(third) == access.NOTHING_KEYED.text


def test_the_full_pair_from_the_registered_phone_opens_the_menu(menu: MemberMenu, member: Any) -> None:
    sid = new_sid()
    opened = menu.log_in(sid)
    assert "Press 1" in said(opened) and opened.one("Gather").get("action") == menu.url("/voice/menu/options")
    with menu.db.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.direction, call.member_id, call.safety_number_id) == ("menu", member.id, member.line_id)


# --- no oracle --------------------------------------------------------------------


def _attempts(menu: MemberMenu, enrol: Enrol, vault: NumberVault) -> dict[str, list[bytes]]:
    """Every way an attempt can fail, each a call of its own: the bytes of
    its three answers (first prompt, PIN prompt, outcome)."""
    enrol(phone=OTHER_PHONE, line=OTHER_LINE, pin=OTHER_PIN)

    def attempt(phone: str, keyed: str, pin: str) -> list[bytes]:
        sid = new_sid()
        answers = [
            menu.call_access_line(sid, phone=phone),
            menu.key("number", sid, keyed, phone=phone),
            menu.key("pin", sid, pin, phone=phone),
        ]
        return [a.body for a in answers]

    found = {
        "stranger": attempt(STRANGER, national(LINE), PIN),
        "wrong PIN": attempt(MEMBER_PHONE, national(LINE), "9999"),
        "unknown number": attempt(MEMBER_PHONE, "02079469999", PIN),
        "another member's number": attempt(MEMBER_PHONE, national(OTHER_LINE), OTHER_PIN),
        "the access line itself": attempt(MEMBER_PHONE, national(ACCESS_LINE), PIN),
        "withheld": attempt("anonymous", national(LINE), PIN),
        "not a number": attempt(MEMBER_PHONE, "123456789012345", PIN),
    }
    with menu.db.session() as session:
        # The stranger's first attempt made their row; now they are over the limit.
        session.get_one(AccessCaller, vault.index(STRANGER)).locked_until = utcnow() + timedelta(hours=1)
    found["rate-limited caller"] = attempt(STRANGER, national(LINE), PIN)
    with menu.db.session() as session:
        locked = session.get_one(Member, _member_id(session))
        locked.menu_locked_until = utcnow() + timedelta(minutes=10)
    found["locked menu"] = attempt(MEMBER_PHONE, national(LINE), PIN)
    return found


def _member_id(session: Any) -> int:
    line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == LINE)).one()
    return int(line.member_id)


def test_every_failure_sounds_the_same_byte_for_byte(
    menu: MemberMenu, member: Any, enrol: Enrol, vault: NumberVault
) -> None:
    found = _attempts(menu, enrol, vault)
    reference = found["wrong PIN"]
    for name, answers in found.items():
        assert answers == reference, name
    assert_no_match(TwiML(reference[-1]))
    # And none of them opened anything.
    with menu.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0


class CountingHasher:
    """Argon2 as the app uses it, counting every hash and verification."""

    def __init__(self, real: PasswordHasher) -> None:
        self.real, self.count = real, 0

    def hash(self, secret: str) -> str:
        self.count += 1
        return self.real.hash(secret)

    def verify(self, stored: str, candidate: str) -> bool:
        self.count += 1
        return self.real.verify(stored, candidate)


def test_every_attempt_costs_one_argon2_check_whatever_was_wrong(
    menu: MemberMenu, member: Any, enrol: Enrol, vault: NumberVault, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same work, so the same time, for a number that is no member's, a
    stranger's phone, a locked menu: an answer that came faster would tell."""
    counter = CountingHasher(hashing._hasher)
    enrol(phone=OTHER_PHONE, line=OTHER_LINE, pin=OTHER_PIN)
    monkeypatch.setattr(hashing, "_hasher", counter)
    cases = [
        (STRANGER, national(LINE)),
        (MEMBER_PHONE, "02079469999"),
        (MEMBER_PHONE, national(OTHER_LINE)),
        ("anonymous", national(LINE)),
        (MEMBER_PHONE, national(LINE)),
    ]
    for phone, keyed in cases:
        before = counter.count
        sid = new_sid()
        menu.call_access_line(sid, phone=phone)
        menu.key("number", sid, keyed, phone=phone)
        menu.key("pin", sid, "9999", phone=phone)
        assert counter.count - before == 1, (phone, keyed)


# --- who counts where -----------------------------------------------------------------


def test_strangers_never_lock_the_member_out_and_are_counted_by_blind_index(
    menu: MemberMenu, member: Any, vault: NumberVault, redis: Redis
) -> None:
    for _ in range(5):
        assert_no_match(menu.through_access_line(new_sid(), phone=STRANGER)[-1])
    assert member_row(menu.db, member.id).pin_failures == 0
    assert member_row(menu.db, member.id).menu_locked_until is None
    with menu.db.session() as session:
        (row,) = session.scalars(select(AccessCaller)).all()
        assert (row.caller_index, row.failures) == (vault.index(STRANGER), 5)
    assert jobs(redis, menu.db) == []
    # The member still gets in.
    assert "Press 1" in said(menu.log_in(new_sid()))


def test_a_caller_over_the_limit_is_limited_and_no_longer_counted(menu: MemberMenu, member: Any) -> None:
    for _ in range(access.CALLER_MAX_FAILURES + 2):
        menu.through_access_line(new_sid(), phone=STRANGER, line=OTHER_LINE)
    with menu.db.session() as session:
        row = session.scalars(select(AccessCaller)).one()
        assert row.failures == 0  # reset at the limit; the two after it were not counted
        assert row.locked_until is not None and row.locked_until > utcnow() + timedelta(minutes=59)


def test_a_replayed_pin_request_opens_nothing(menu: MemberMenu, member: Any) -> None:
    """Signatures carry no timestamp: the PIN step's one try is claimed on the server."""
    sid = new_sid()
    assert_no_match(menu.log_in(sid, pin="9999"))
    assert_no_match(menu.key("pin", sid, PIN))
    # A PIN with no Safety Number keyed in this call opens nothing either.
    assert_no_match(menu.key("pin", new_sid(), PIN))
    with menu.db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0


def test_the_access_steps_need_a_signature(menu: MemberMenu, twilio: TwilioClient, member: Any) -> None:
    for step in ("number", "pin"):
        response = twilio.send(
            f"{ACCESS}/{step}", {"CallSid": new_sid(), "Digits": PIN}, headers={"X-Twilio-Signature": "x"}
        )
        assert response.status_code == 403


def test_numbers_add_access_adds_an_access_line_never_given_to_a_member(
    runner: Any, db: Database, enrol: Enrol
) -> None:
    result = runner.invoke(args=["numbers", "add", "--access", "020 7946 0950"])
    assert result.exit_code == 0, result.output
    assert "+442079460950" in result.output and "access line" in result.output
    with db.session() as session:
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == "+442079460950")).one()
        assert line.kind == "access"
    # Enrolment takes a Safety Number, never the access line.
    enrolled = enrol()
    assert enrolled.line == LINE


# --- real parallel attempts against a real server --------------------------------------


@pytest.fixture
def served(app_config: AppConfig, suite: SuiteConfig, vault: NumberVault, redis: Redis) -> Iterator[Any]:
    """The app on a real threaded HTTP server over a database of its own
    (real commits), with the standard member and the access line."""
    with scratch_database(PG_URL, f"sn_access_{threading.get_ident()}") as url:
        database = committing_database(url, pool_size=20)
        upgrade(database.engine)
        people.enrol(database, vault)
        people.add_access_line(database)
        app = create_app(app_config(database=database))
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield Served(f"http://127.0.0.1:{server.server_port}", suite, database)
        finally:
            server.shutdown()
            thread.join()
            database.engine.dispose()


class Served(SignedPoster):
    def __init__(self, origin: str, suite: SuiteConfig, database: Database) -> None:
        super().__init__(origin, suite)
        self.db = database

    def attempt(self, phone: str, keyed: str, pin: str, ready: threading.Barrier) -> bytes:
        sid = new_sid()
        base = {"CallSid": sid, "From": phone, "To": ACCESS_LINE}
        self.post("/voice/incoming", base)
        self.post(f"{ACCESS}/number", {**base, "Digits": keyed})
        ready.wait()  # every PIN goes in at once
        return self.post(f"{ACCESS}/pin", {**base, "Digits": pin})


PARALLEL = 12


def test_parallel_wrong_pins_lock_once_and_the_right_pin_then_fails(served: Any, redis: Redis) -> None:
    ready = threading.Barrier(PARALLEL)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        answers = list(
            pool.map(
                lambda n: served.attempt(MEMBER_PHONE, national(LINE), f"99{n:02d}", ready), range(PARALLEL)
            )
        )
    assert len(set(answers)) == 1
    with served.db.session() as session:
        member = session.scalars(select(Member)).one()
        assert member.menu_locked_until is not None
        locks = session.scalars(select(AuditEntry).where(AuditEntry.action == "member_menu_locked")).all()
        assert len(locks) == 1  # exactly one failure locked it: no attempt beyond the limit was judged
    assert [name for name, _ in jobs(redis, served.db)] == ["worker.handoff.alert_pin_lockout"]
    after = served.attempt(MEMBER_PHONE, national(LINE), PIN, threading.Barrier(1))
    assert after == answers[0]


def test_parallel_strangers_are_counted_exactly_to_the_limit(served: Any) -> None:
    count = access.CALLER_MAX_FAILURES + 5
    ready = threading.Barrier(count)
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda _: served.attempt(STRANGER, national(LINE), PIN, ready), range(count)))
    with served.db.session() as session:
        row = session.scalars(select(AccessCaller)).one()
        assert row.locked_until is not None and row.failures == 0
        assert session.scalars(select(Member)).one().pin_failures == 0
