"""The member menu: PIN, lockout, options, blocking, warnings, cancellation,
and refusal of every step that did not pass the PIN."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callflows import prompts
from storage import repositories as repo
from storage.models import (
    Block,
    Call,
    CallDirection,
    LineStatus,
    Member,
    MemberStatus,
    SafetyNumber,
    utcnow,
)
from tests.menu_helpers import (
    LINE,
    MEMBER_PHONE,
    MENU,
    PIN,
    add_inbound_call,
    gather,
    jobs,
    log_in,
    member,
    new_sid,
    post,
    press,
    said,
    seed,
    url,
    vault,
)
from tests.support.suite import AppConfig
from tests.voice_helpers import post_twilio, verbs

NEUTRAL = prompts.LINE_UNAVAILABLE


def assert_neutral_hangup(root) -> None:
    assert verbs(root) == ["Say", "Hangup"]
    assert said(root) == NEUTRAL


def assert_menu(root, action: str = url(f"{MENU}/options")) -> None:
    g = gather(root)
    assert g.get("numDigits") == "1"
    assert g.get("action") == action
    assert "Press 1" in said(g) and "Press 9" in said(g)


# --- reaching the PIN ------------------------------------------------------------


def test_start_asks_the_registered_phone_for_its_pin(app, db, client):
    seed(app, db)
    root = post(client, "start", new_sid())
    g = gather(root)
    assert g.get("finishOnKey") == "#"
    assert g.get("action") == url(f"{MENU}/pin")
    assert g.get("timeout") == str(app.extensions["safety"].settings.gather_timeout_seconds)
    assert "PIN" in said(g)
    # Silence after the prompt ends the call.
    assert verbs(root)[-1] == "Hangup"


@pytest.mark.parametrize(
    "form",
    [
        {"phone": "+447911123456"},  # another phone calling the line
        {"phone": "anonymous"},  # withheld
        {"line": "+442079460999"},  # a number not in the pool
        {"phone": MEMBER_PHONE, "line": "junk"},
    ],
)
def test_start_gives_anyone_else_the_neutral_hangup(app, db, client, form):
    seed(app, db)
    assert_neutral_hangup(post(client, "start", new_sid(), **form))
    assert_neutral_hangup(post(client, "pin", new_sid(), Digits=PIN, **form))


def test_start_refuses_a_cancelled_member_and_a_quarantined_line(app, db, client):
    member_id = seed(app, db)
    with db.session() as session:
        repo.cancel_member(session, session.get(Member, member_id))
    assert_neutral_hangup(post(client, "start", new_sid()))


def test_the_member_phone_on_someone_elses_line_is_refused(app, db, client):
    seed(app, db)
    seed_other = app.extensions["safety"].vault
    from tests.voice_helpers import seed_member

    seed_member(db, seed_other, phone="+447911123456", line="+442079460002")
    assert_neutral_hangup(post(client, "start", new_sid(), line="+442079460002"))


def test_the_menu_needs_a_signature(app, db, client):
    seed(app, db)
    response = post_twilio(
        client, f"{MENU}/pin", {"CallSid": new_sid(), "Digits": PIN}, headers={"X-Twilio-Signature": "x"}
    )
    assert response.status_code == 403
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0


# --- the PIN ----------------------------------------------------------------------


def test_right_pin_opens_the_menu_and_marks_the_call(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    root = log_in(client, sid)
    assert_menu(root)
    # Silence reaches the action too, and anything ignoring that gets a Redirect there.
    assert gather(root).get("actionOnEmptyResult") == "true"
    assert root.find("Redirect").text == url(f"{MENU}/options")  # type: ignore[union-attr]
    with db.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == LINE)).one()
        assert (call.direction, call.member_id, call.safety_number_id) == ("menu", member_id, line.id)
        assert call.other_party_index is None


def test_right_pin_adopts_a_row_already_logged_for_the_call(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    with db.session() as session:
        protected = vault(app).protect(MEMBER_PHONE)
        session.add(Call(call_sid=sid, direction=CallDirection.INBOUND, other_party_index=protected.index))
    assert_menu(log_in(client, sid))
    with db.session() as session:
        call = session.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert (call.direction, call.member_id, call.other_party_index) == ("menu", member_id, None)


def test_wrong_pin_asks_again_and_writes_no_menu_call(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    root = log_in(client, sid, pin="0000")
    assert "not right" in said(root)
    assert gather(root).get("action") == url(f"{MENU}/pin")
    assert member(db, member_id).pin_failures == 1
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 0
    # A PIN left empty is asked again and not counted.
    root = post(client, "pin", sid, Digits="")
    assert gather(root).get("action") == url(f"{MENU}/pin")
    assert member(db, member_id).pin_failures == 1


def test_right_pin_resets_the_failure_count(app, db, client):
    member_id = seed(app, db)
    log_in(client, new_sid(), pin="1111")
    log_in(client, new_sid(), pin="2222")
    assert member(db, member_id).pin_failures == 2
    assert_menu(log_in(client, new_sid()))
    assert member(db, member_id).pin_failures == 0


def test_three_wrong_pins_across_calls_lock_the_menu_and_alert_staff(app, db, client, redis):
    member_id = seed(app, db)
    settings = app.extensions["safety"].settings
    assert settings.pin_max_attempts == 3
    log_in(client, new_sid(), pin="1111")
    sid = new_sid()
    log_in(client, sid, pin="2222")
    assert jobs(redis) == []
    before = utcnow()
    root = post(client, "pin", sid, Digits="3333")
    assert verbs(root) == ["Say", "Hangup"]
    assert "locked" in said(root)
    locked = member(db, member_id)
    expected = before + timedelta(minutes=settings.pin_lockout_minutes)
    assert locked.menu_locked_until is not None
    assert expected - timedelta(minutes=1) <= locked.menu_locked_until <= expected + timedelta(minutes=1)
    assert jobs(redis) == [("worker.handoff.alert_pin_lockout", (member_id,))]


def test_while_locked_even_the_right_pin_is_not_checked(app, db, client, redis):
    member_id = seed(app, db)
    with db.session() as session:
        session.get(Member, member_id).menu_locked_until = utcnow() + timedelta(minutes=10)
    # A new call: told at once, no PIN asked.
    root = post(client, "start", new_sid())
    assert verbs(root) == ["Say", "Hangup"]
    assert "locked" in said(root)
    sid = new_sid()
    root = post(client, "pin", sid, Digits=PIN)
    assert "locked" in said(root) and verbs(root) == ["Say", "Hangup"]
    with db.session() as session:
        assert session.scalars(select(Call).where(Call.call_sid == sid)).first() is None
    assert jobs(redis) == []


def test_the_lock_runs_out(app, db, client):
    member_id = seed(app, db)
    for pin in ("1111", "2222", "3333"):
        log_in(client, new_sid(), pin=pin)
    assert "locked" in said(post(client, "start", new_sid()))
    with db.session() as session:
        session.get(Member, member_id).menu_locked_until = utcnow() - timedelta(seconds=1)
    assert_menu(log_in(client, new_sid()))
    assert member(db, member_id).menu_locked_until is None


def test_lockout_length_is_configurable(app_config: AppConfig, db, redis, tmp_path):
    from ivr import create_app

    app = create_app(app_config(PIN_LOCKOUT_MINUTES="60", database=db))
    client = app.test_client()
    member_id = seed(app, db)
    for pin in ("1111", "2222", "3333"):
        log_in(client, new_sid(), pin=pin)
    locked_until = member(db, member_id).menu_locked_until
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
def test_steps_after_the_pin_refuse_a_call_that_did_not_pass_it(app, db, client, step, digits):
    member_id = seed(app, db)
    add_inbound_call(app, db, member_id, "+447911654321")
    log_in(client, new_sid())  # someone else's authenticated call exists
    forged = new_sid()
    post(client, "start", forged)
    log_in(client, forged, pin="0000")  # wrong PIN: not authenticated
    assert_neutral_hangup(post(client, step, forged, Digits=digits))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 0
        assert session.get(Member, member_id).status == MemberStatus.ACTIVE
        assert session.scalar(select(func.count()).where(Call.direction == "masked")) == 0


def test_an_authenticated_call_of_a_cancelled_member_is_refused(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    with db.session() as session:
        repo.cancel_member(session, session.get(Member, member_id))
    assert_neutral_hangup(press(client, sid, "4"))


# --- menu keys ----------------------------------------------------------------------


def test_a_wrong_key_repeats_the_menu(app, db, client):
    seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    for key in ("5", "0", "*", "#"):
        root = press(client, sid, key)
        assert "not an option" in said(root)
        assert_menu(root)


def test_silence_repeats_the_menu_once_then_hangs_up(app, db, client):
    seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "")
    assert_menu(root, action=url(f"{MENU}/options", "retry=1"))
    assert root.find("Redirect").text == url(f"{MENU}/options", "retry=1")  # type: ignore[union-attr]
    root = press(client, sid, "", query="retry=1")
    assert verbs(root) == ["Say", "Hangup"]
    assert "did not hear" in said(root)


def test_a_key_after_one_silence_still_works(app, db, client):
    seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    press(client, sid, "")
    root = press(client, sid, "4", query="retry=1")
    assert "no current warnings" in said(root)
    assert_menu(root)


# --- 3: block the last caller -------------------------------------------------------


def test_block_the_last_caller_with_its_last_three_digits(app, db, client):
    member_id = seed(app, db)
    add_inbound_call(app, db, member_id, "+447911000999")
    add_inbound_call(app, db, member_id, "+447911654321")  # the last with a number
    add_inbound_call(app, db, member_id, None)  # withheld: cannot be blocked
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "3")
    assert "Blocked the caller ending 3 2 1." in said(root)
    assert_menu(root)
    with db.session() as session:
        block = session.scalars(select(Block)).one()
        assert block.member_id == member_id
        assert block.caller_index == vault(app).index("+447911654321")
        assert block.caller_last3 == "321"
    # Twice is harmless.
    assert "ending 3 2 1" in said(press(client, sid, "3"))
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 1


def test_block_with_no_caller_says_so(app, db, client):
    member_id = seed(app, db)
    add_inbound_call(app, db, member_id, None)
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "3")
    assert "no caller to block" in said(root)
    assert_menu(root)
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Block)) == 0


def test_block_never_picks_another_members_caller(app, db, client):
    seed(app, db)
    from tests.voice_helpers import seed_member

    other_id, _ = seed_member(db, vault(app), phone="+447911123456", line="+442079460002")
    add_inbound_call(app, db, other_id, "+447911654321")
    sid = new_sid()
    log_in(client, sid)
    assert "no caller to block" in said(press(client, sid, "3"))


# --- 4: warnings ------------------------------------------------------------------------


def test_warnings_are_read_with_category_and_sanitised_summary(app, db, client):
    seed(app, db)
    index = vault(app).index("+447911654321")
    with db.session() as session:
        repo.add_warning(session, caller_index=index, category="threats", summary="Threatened with a knife")
        repo.add_warning(session, caller_index=index, category="physical-assault", summary="Hit a worker")
        expired = utcnow() - timedelta(days=1)
        repo.add_warning(session, caller_index=index, category="other", summary="old", expires_at=expired)
        # Written around the sanitiser: speaking must still never read a number out.
        raw = "Took cash, phone 07911 654321"
        session.add(repo.CallerWarning(caller_index=index, category="robbery", summary=raw))
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "4")
    text = said(root)
    assert "There are 3 current warnings." in text
    assert "threats. Threatened with a knife" in text
    assert "physical assault. Hit a worker" in text
    assert "robbery" in text and "[number ending 321]" in text
    assert "654321" not in text and "old" not in text
    assert_menu(root)


def test_no_warnings_says_so(app, db, client):
    seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "4")
    assert "There are no current warnings." in said(root)
    assert_menu(root)


# --- 9: cancel ----------------------------------------------------------------------------


def test_cancel_needs_a_second_nine(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "9")
    g = gather(root)
    assert g.get("numDigits") == "1"
    assert g.get("action") == url(f"{MENU}/cancel")
    assert "Press 9 again to confirm" in said(g)
    root = post(client, "cancel", sid, Digits="9")
    assert verbs(root) == ["Say", "Hangup"]
    assert "cancelled" in said(root)
    with db.session() as session:
        cancelled = session.get(Member, member_id)
        assert cancelled.status == MemberStatus.CANCELLED
        assert cancelled.phone_index is None and cancelled.pin_hash is None
        line = session.scalars(select(SafetyNumber).where(SafetyNumber.e164 == LINE)).one()
        assert line.status == LineStatus.QUARANTINED and line.member_id is None
    # The line now answers like any dead line.
    assert_neutral_hangup(post(client, "start", new_sid()))


@pytest.mark.parametrize("second", ["1", "", "#"])
def test_cancel_without_confirmation_keeps_the_member(app, db, client, second):
    member_id = seed(app, db)
    sid = new_sid()
    log_in(client, sid)
    press(client, sid, "9")
    root = post(client, "cancel", sid, Digits=second)
    assert "has not been cancelled" in said(root)
    assert_menu(root)
    assert member(db, member_id).status == MemberStatus.ACTIVE


def test_the_neutral_answer_is_the_dead_line_answer_byte_for_byte(app, db, client):
    seed(app, db)
    dead = post_twilio(
        client, "/voice/incoming", {"CallSid": new_sid(), "From": "+447400654321", "To": "+442079460999"}
    )
    menu = post_twilio(client, f"{MENU}/options", {"CallSid": new_sid(), "From": MEMBER_PHONE, "To": LINE})
    assert dead.status_code == menu.status_code == 200
    assert dead.get_data() == menu.get_data()


def test_the_menu_on_the_embedded_defaults(app_config: AppConfig, any_db, tmp_path):
    """SQLite (and PostgreSQL) with the in-process queue: PIN, block, masked call, lockout."""
    from ivr import create_app

    config = app_config()
    config.pop("REDIS_URL")
    app = create_app({**config, "database": any_db})
    client = app.test_client()
    member_id = seed(app, any_db)
    add_inbound_call(app, any_db, member_id, "+447400654321")
    sid = new_sid()
    assert_menu(log_in(client, sid))
    assert "ending 3 2 1" in said(press(client, sid, "3"))
    press(client, sid, "1")
    root = post(client, "destination", sid, Digits="07400111222")
    assert root.find("Dial").get("callerId") == LINE  # type: ignore[union-attr]
    for pin in ("1111", "2222", "3333"):
        log_in(client, new_sid(), pin=pin)
    assert member(any_db, member_id).menu_locked_until is not None


def test_no_number_reaches_logs_urls_or_speech_through_the_whole_menu(app, db, client, caplog):
    """The member's phone and the keyed destination never appear in a log line,
    a URL or a <Say>; the destination only as the <Number> being rung."""
    import logging
    import xml.etree.ElementTree as ET

    caplog.set_level(logging.DEBUG)
    member_id = seed(app, db)
    caller = "+447400999321"
    add_inbound_call(app, db, member_id, caller)
    destination = "07400123456"
    sid = new_sid()
    roots = [post(client, "start", sid), post(client, "pin", sid, Digits="0000")]
    roots.append(post(client, "pin", sid, Digits=PIN))
    for key in ("", "7", "3", "4", "9"):
        roots.append(press(client, sid, key))
    roots.append(post(client, "cancel", sid, Digits="1"))
    roots.append(press(client, sid, "1"))
    roots.append(post(client, "destination", sid, Digits="09098790123"))
    roots.append(post(client, "destination", sid, Digits=destination))
    roots.append(post(client, "masked-result", sid, DialCallDuration="12"))
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
