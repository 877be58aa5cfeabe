"""The member menu, reached through the members' access line: PIN, lockout,
options, blocking, warnings, cancellation, and refusal of every step that
did not pass the access line (tests/test_access_line.py holds the access
line's own promises)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callflows import access, prompts
from ivr.services import services_of
from storage import repositories as repo
from storage.models import (
    AuditEntry,
    Block,
    Call,
    CallDirection,
    LineStatus,
    Member,
    MemberStatus,
    SafetyNumber,
    utcnow,
)
from tests.support.menu import MENU, MemberMenu, jobs, member_row, new_sid
from tests.support.people import ACCESS_LINE, LINE, MEMBER_PHONE, PIN, Enrol
from tests.support.suite import AppConfig
from tests.support.twilio import TwilioClient, TwiML, said

NEUTRAL = prompts.LINE_UNAVAILABLE.text


def assert_neutral_hangup(root: TwiML) -> None:
    assert root.verbs == ["Say", "Hangup"]
    assert said(root) == NEUTRAL


def assert_no_match(root: TwiML) -> None:
    """The access line's one answer to an attempt that opens nothing."""
    assert root.verbs == ["Say", "Hangup"]
    assert said(root) == access.NO_MATCH.text


def assert_menu(menu: MemberMenu, root: TwiML, query: str = "") -> None:
    """The menu's <Gather>, posting to the options step (with ``query``)."""
    g = root.one("Gather")
    assert g.get("numDigits") == "1"
    assert g.get("action") == menu.url(f"{MENU}/options", query)
    assert "Press 1" in said(g) and "Press 9" in said(g)


# --- the PIN ----------------------------------------------------------------------


def test_right_pin_opens_the_menu_and_marks_the_call(menu, app, db):
    member_id = menu.seed()
    sid = new_sid()
    root = menu.log_in(sid)
    assert_menu(menu, root)
    # Silence reaches the action too, and anything ignoring that gets a Redirect there.
    assert root.one("Gather").get("actionOnEmptyResult") == "true"
    assert root.one("Redirect").text == menu.url(f"{MENU}/options")
    with db.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == LINE)).one()
        assert (call.direction, call.member_id, call.safety_number_id) == ("menu", member_id, line.id)
        assert call.other_party_index is None


def test_right_pin_adopts_a_row_already_logged_for_the_call(vault, menu, app, db):
    member_id = menu.seed()
    sid = new_sid()
    with db.session() as session:
        protected = vault.protect(MEMBER_PHONE)
        session.add(Call(call_sid=sid, direction=CallDirection.INBOUND, other_party_index=protected.index))
    assert_menu(menu, menu.log_in(sid))
    with db.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.direction, call.member_id, call.other_party_index) == ("menu", member_id, None)


def test_a_wrong_pin_ends_the_call_and_writes_no_menu_call(menu, app, db):
    member_id = menu.seed()
    sid = new_sid()
    assert_no_match(menu.log_in(sid, pin="0000"))
    assert member_row(db, member_id).pin_failures == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
    # One try per call: the right PIN posted again in the same call opens nothing.
    assert_no_match(menu.key("pin", sid, PIN))
    assert member_row(db, member_id).pin_failures == 1


def test_right_pin_resets_the_failure_count(menu, app, db):
    member_id = menu.seed()
    menu.log_in(new_sid(), pin="1111")
    menu.log_in(new_sid(), pin="2222")
    assert member_row(db, member_id).pin_failures == 2
    assert_menu(menu, menu.log_in(new_sid()))
    assert member_row(db, member_id).pin_failures == 0


def test_three_wrong_pins_across_calls_lock_the_menu_and_alert_staff(menu, app, db, redis):
    member_id = menu.seed()
    settings = services_of(app).settings
    assert settings.pin_max_attempts == 3
    menu.log_in(new_sid(), pin="1111")
    sid = new_sid()
    menu.log_in(sid, pin="2222")
    assert jobs(redis, db) == []
    before = utcnow()
    # The member hears only that the PIN did not match, and whom to ask.
    assert_no_match(menu.log_in(new_sid(), pin="3333"))
    locked = member_row(db, member_id)
    expected = before + timedelta(minutes=settings.pin_lockout_minutes)
    assert locked.menu_locked_until is not None
    assert expected - timedelta(minutes=1) <= locked.menu_locked_until <= expected + timedelta(minutes=1)
    assert jobs(redis, db) == [("worker.handoff.alert_pin_lockout", (member_id,))]
    with db.session() as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "member_menu_locked")).all()
        assert [(a.target_type, a.target_id) for a in audited] == [("member", member_id)]


def test_while_locked_even_the_right_pin_opens_nothing(menu, app, db, redis):
    member_id = menu.seed()
    with db.session() as session:
        session.get(Member, member_id).menu_locked_until = utcnow() + timedelta(minutes=10)
    sid = new_sid()
    assert_no_match(menu.log_in(sid))
    with db.session() as session:
        assert session.scalars(select(Call).where(Call.call_sid == sid)).first() is None
    assert jobs(redis, db) == []


def test_the_lock_runs_out(menu, app, db):
    member_id = menu.seed()
    for pin in ("1111", "2222", "3333"):
        menu.log_in(new_sid(), pin=pin)
    assert_no_match(menu.log_in(new_sid()))
    with db.session() as session:
        session.get(Member, member_id).menu_locked_until = utcnow() - timedelta(seconds=1)
    assert_menu(menu, menu.log_in(new_sid()))
    assert member_row(db, member_id).menu_locked_until is None


def test_lockout_length_is_configurable(menu, app_config: AppConfig, db, redis, tmp_path):
    from ivr import create_app

    menu = menu.on(create_app(app_config(PIN_LOCKOUT_MINUTES="60", database=db)))
    member_id = menu.seed()
    for pin in ("1111", "2222", "3333"):
        menu.log_in(new_sid(), pin=pin)
    locked_until = member_row(db, member_id).menu_locked_until
    assert locked_until is not None and locked_until > utcnow() + timedelta(minutes=59)


# --- forged steps -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "digits"),
    [
        ("options", "3"),
        ("options", "9"),
        ("cancel", "9"),
        ("destination", "07911123456"),
        ("masked-result", ""),
    ],
)
def test_steps_after_the_pin_refuse_a_call_that_did_not_pass_it(menu, app, db, step, digits):
    member_id = menu.seed()
    menu.add_inbound_call(member_id, "+447911654321")
    menu.log_in(new_sid())  # someone else's authenticated call exists
    forged = new_sid()
    menu.log_in(forged, pin="0000")  # wrong PIN: not authenticated
    assert_neutral_hangup(menu.post(step, forged, Digits=digits))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 0
        assert session.get(Member, member_id).status == MemberStatus.ACTIVE
        assert session.scalar(select(func.count()).where(Call.direction == "masked")) == 0


def test_an_authenticated_call_of_a_cancelled_member_is_refused(menu, app, db):
    member_id = menu.seed()
    sid = menu.logged_in_call()
    with db.session() as session:
        repo.cancel_member(session, session.get(Member, member_id))
    assert_neutral_hangup(menu.press(sid, "4"))


# --- menu keys ----------------------------------------------------------------------


def test_a_wrong_key_repeats_the_menu(menu, app, db):
    menu.seed()
    sid = menu.logged_in_call()
    for key in ("*", "#"):
        root = menu.press(sid, key)
        assert "not an option" in said(root)
        assert_menu(menu, root)


def test_silence_repeats_the_menu_once_then_hangs_up(menu, app, db):
    menu.seed()
    sid = menu.logged_in_call()
    root = menu.press(sid, "")
    assert_menu(menu, root, query="retry=1")
    assert root.one("Redirect").text == menu.url(f"{MENU}/options", "retry=1")
    root = menu.press(sid, "", query="retry=1")
    assert root.verbs == ["Say", "Hangup"]
    assert "did not hear" in said(root)


def test_a_key_after_one_silence_still_works(menu, app, db):
    menu.seed()
    sid = menu.logged_in_call()
    menu.press(sid, "")
    root = menu.press(sid, "4", query="retry=1")
    assert "no current warnings" in said(root)
    assert_menu(menu, root)


# --- 3: block the last caller -------------------------------------------------------


def test_block_the_last_caller_with_its_last_three_digits(vault, menu, app, db):
    member_id = menu.seed()
    menu.add_inbound_call(member_id, "+447911000999")
    menu.add_inbound_call(member_id, "+447911654321")  # the last with a number
    menu.add_inbound_call(member_id, None)  # withheld: cannot be blocked
    sid = menu.logged_in_call()
    root = menu.press(sid, "3")
    assert "Blocked the caller ending 3 2 1." in said(root)
    assert_menu(menu, root)
    with db.session() as session:
        block = session.scalars(select(Block)).one()
        assert block.member_id == member_id
        assert block.caller_index == vault.index("+447911654321")
        assert block.caller_last3 == "321"
    # Twice is harmless.
    assert "ending 3 2 1" in said(menu.press(sid, "3"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 1


def test_block_with_no_caller_says_so(menu, app, db):
    member_id = menu.seed()
    menu.add_inbound_call(member_id, None)
    sid = menu.logged_in_call()
    root = menu.press(sid, "3")
    assert "no caller to block" in said(root)
    assert_menu(menu, root)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 0


def test_block_never_picks_another_members_caller(menu, enrol: Enrol):
    menu.seed()
    other_id = enrol(phone="+447911123456", line="+442079460002").id
    menu.add_inbound_call(other_id, "+447911654321")
    sid = menu.logged_in_call()
    assert "no caller to block" in said(menu.press(sid, "3"))


# --- 4: warnings ------------------------------------------------------------------------


def test_warnings_are_read_with_category_and_sanitised_summary(vault, menu, app, db):
    menu.seed()
    index = vault.index("+447911654321")
    with db.session() as session:
        repo.add_warning(session, caller_index=index, category="threats", summary="Threatened with a knife")
        repo.add_warning(session, caller_index=index, category="physical-assault", summary="Hit a worker")
        expired = utcnow() - timedelta(days=1)
        repo.add_warning(session, caller_index=index, category="other", summary="old", expires_at=expired)
        # Written around the sanitiser: speaking must still never read a number out.
        raw = "Took cash, phone 07911 654321"
        session.add(repo.CallerWarning(caller_index=index, category="robbery", summary=raw))
    sid = menu.logged_in_call()
    root = menu.press(sid, "4")
    text = said(root)
    assert "There are 3 current warnings." in text
    assert "threats. Threatened with a knife" in text
    assert "physical assault. Hit a worker" in text
    assert "robbery" in text and "[number ending 321]" in text
    assert "654321" not in text and "old" not in text
    assert_menu(menu, root)


def test_no_warnings_says_so(menu, app, db):
    menu.seed()
    sid = menu.logged_in_call()
    root = menu.press(sid, "4")
    assert "There are no current warnings." in said(root)
    assert_menu(menu, root)


# --- 9: cancel ----------------------------------------------------------------------------


def test_cancel_needs_a_second_nine(vault, menu, app, db):
    member_id = menu.seed()
    caller = vault.protect("+447700900555")
    with db.session() as session:
        repo.block_caller(session, member_id, caller.index, caller.last3)
        session.add(
            Call(
                call_sid=new_sid(),
                direction=CallDirection.INBOUND,
                member_id=member_id,
                other_party_index=caller.index,
                other_party_encrypted=caller.token,
                other_party_last3=caller.last3,
            )
        )
    sid = menu.logged_in_call()
    root = menu.press(sid, "9")
    g = root.one("Gather")
    assert g.get("numDigits") == "1"
    assert g.get("action") == menu.url(f"{MENU}/cancel")
    assert "Press 9 again to confirm" in said(g)
    root = menu.post("cancel", sid, Digits="9")
    assert root.verbs == ["Say", "Hangup"]
    assert "cancelled" in said(root)
    with db.session() as session:
        cancelled = session.get(Member, member_id)
        assert cancelled.status == MemberStatus.CANCELLED
        assert cancelled.phone_index is None and cancelled.pin_hash is None
        # Erased at once, not at the next retention run (issue 12).
        assert session.scalars(select(Block).where(Block.member_id == member_id)).all() == []
        callers = session.execute(
            select(Call.other_party_index, Call.other_party_encrypted).where(Call.member_id == member_id)
        ).all()
        assert callers and all(row == (None, None) for row in callers)
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == LINE)).one()
        assert line.status == LineStatus.QUARANTINED and line.member_id is None
    # The access line no longer opens a menu for that Safety Number.
    assert_no_match(menu.log_in(new_sid()))


@pytest.mark.parametrize("second", ["1", "", "#"])
def test_cancel_without_confirmation_keeps_the_member(menu, app, db, second):
    member_id = menu.seed()
    sid = menu.logged_in_call()
    menu.press(sid, "9")
    root = menu.post("cancel", sid, Digits=second)
    assert "has not been cancelled" in said(root)
    assert_menu(menu, root)
    assert member_row(db, member_id).status == MemberStatus.ACTIVE


def test_the_neutral_answer_is_one_answer_byte_for_byte(menu, twilio: TwilioClient):
    menu.seed()
    options = twilio.post(f"{MENU}/options", CallSid=new_sid(), From=MEMBER_PHONE, To=LINE)
    cancel = twilio.post(
        f"{MENU}/cancel", CallSid=new_sid(), From="+447400654321", To=ACCESS_LINE, Digits="9"
    )
    assert options.body == cancel.body
    assert_neutral_hangup(options)


def test_the_menu_on_the_embedded_defaults(menu, app_config: AppConfig, any_db, tmp_path):
    """SQLite (and PostgreSQL) with the in-process queue: PIN, block, masked call, lockout."""
    from ivr import create_app

    menu = menu.on(create_app(app_config(REDIS_URL=None, database=any_db)), any_db)
    member_id = menu.seed()
    menu.add_inbound_call(member_id, "+447400654321")
    sid = new_sid()
    assert_menu(menu, menu.log_in(sid))
    assert "ending 3 2 1" in said(menu.press(sid, "3"))
    menu.press(sid, "1")
    root = menu.post("destination", sid, Digits="07400111222")
    assert root.one("Dial").get("callerId") == LINE
    for pin in ("1111", "2222", "3333"):
        menu.log_in(new_sid(), pin=pin)
    assert member_row(any_db, member_id).menu_locked_until is not None


def test_no_number_reaches_logs_urls_or_speech_through_the_whole_menu(menu, app, db, caplog):
    """The member's phone and the keyed destination never appear in a log line,
    a URL or a <Say>; the destination only as the <Number> being rung."""
    import logging
    import xml.etree.ElementTree as ET

    caplog.set_level(logging.DEBUG)
    member_id = menu.seed()
    caller = "+447400999321"
    menu.add_inbound_call(member_id, caller)
    destination = "07400123456"
    sid = new_sid()
    roots = menu.through_access_line(new_sid(), pin="0000") + menu.through_access_line(sid)
    for key in ("", "7", "3", "4", "9"):
        roots.append(menu.press(sid, key))
    roots.append(menu.post("cancel", sid, Digits="1"))
    roots.append(menu.press(sid, "1"))
    roots.append(menu.post("destination", sid, Digits="09098790123"))
    roots.append(menu.post("destination", sid, Digits=destination))
    roots.append(menu.post("masked-result", sid, DialCallDuration="12"))
    secrets = {MEMBER_PHONE, MEMBER_PHONE[3:], caller, caller[3:], destination, "7400123456"}
    for root in roots:
        for element in root.iter():
            if element.tag == "Number":
                assert element.text == "+447400123456"
                continue
            texts = [element.text or "", *element.attrib.values()]
            for secret in secrets:
                assert all(secret not in text for text in texts), ET.tostring(element)
    for secret in secrets:
        assert secret not in caplog.text


def test_key_8_offers_the_languages(menu, app, db):
    """Option 8 asks which language, posting to the language step (it used to
    build a URL for an endpoint that does not exist, and apologised)."""
    menu.seed()
    root = menu.press(menu.logged_in_call(), "8")
    gather = root.one("Gather")
    assert gather.get("action") == menu.url(f"{MENU}/language") and gather.get("numDigits") == "1"
    assert "For English, press 1" in said(gather)
