"""Masked outbound calls from the member menu: policy, daily caps, the Dial
that shows the Safety Number, and the call row kept for the cap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from phonenumbers import PhoneNumberType
from sqlalchemy import func, select, update

from callflows.destinations import REASONS, DestinationPolicy, Refusal
from callflows.speech import english_speaker
from ivr import create_app
from ivr.services import services_of
from storage.db import Database
from storage.models import Call, CallDirection, utcnow
from tests.support.destinations import keyable
from tests.support.menu import MENU, MemberMenu, new_sid
from tests.support.people import LINE, MEMBER_PHONE, Enrol
from tests.support.suite import AppConfig
from tests.support.twilio import TwiML, said

DESTINATION = "07400654321"
DESTINATION_E164 = "+447400654321"


def dial_to(menu: MemberMenu, sid: str, keyed: str = DESTINATION) -> TwiML:
    """Log in, press 1, key ``keyed``: the TwiML answering the number."""
    menu.log_in(sid)
    root = menu.press(sid, "1")
    g = root.one("Gather")
    assert g.get("finishOnKey") == "#"
    assert g.get("action") == menu.url(f"{MENU}/destination")
    return menu.post("destination", sid, Digits=keyed)


def call_row(db: Database, sid: str) -> Call:
    with db.session() as session:
        return session.scalars(select(Call).where(Call.call_sid == sid)).one()


def add_masked_calls(
    db: Database,
    member_id: int,
    durations: list[int | None],
    *,
    created: datetime | None = None,
    reserved: int = 3600,
) -> None:
    """Masked calls of today (or ``created``), each with ``reserved`` seconds
    reserved and settled at its duration (None: still open, or never settled)."""
    with db.session() as session:
        for seconds in durations:
            session.add(
                Call(
                    call_sid=new_sid(),
                    direction=CallDirection.MASKED,
                    member_id=member_id,
                    reserved_seconds=reserved,
                    reserved_at=created or utcnow(),
                    settled_seconds=seconds,
                    created_at=created or utcnow(),
                )
            )


def test_allowed_number_is_dialled_showing_the_safety_number(vault, menu, app, db):
    member_id = menu.seed()
    sid = new_sid()
    root = dial_to(menu, sid)
    assert root.verbs == ["Dial"]
    dial = root.one("Dial")
    settings = services_of(app).settings
    assert dial.get("callerId") == LINE
    assert dial.get("timeLimit") == str(settings.outbound_time_limit_seconds)
    assert dial.get("action") == menu.url(f"{MENU}/masked-result")
    number = root.one("Dial/Number")
    assert number.text == DESTINATION_E164
    assert number.get("statusCallback") == menu.url("/voice/status")
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    # The member's real number is nowhere in the TwiML.
    text = ET.tostring(root.root, encoding="unicode")
    assert MEMBER_PHONE not in text and MEMBER_PHONE[3:] not in text
    # The call row now records a masked call to the (encrypted) destination.
    call = call_row(db, sid)
    assert call.direction == CallDirection.MASKED
    assert call.member_id == member_id
    assert call.other_party_index == vault.index(DESTINATION_E164)
    assert vault.reveal(call.other_party_encrypted) == DESTINATION_E164
    assert call.other_party_last3 == "321"


def test_dial_result_settles_the_reservation_and_says_goodbye(menu, app, db):
    menu.seed()
    sid = new_sid()
    dial_to(menu, sid)
    assert call_row(db, sid).reserved_seconds == 3600 and call_row(db, sid).settled_seconds is None
    root = menu.post("masked-result", sid, DialCallStatus="completed", DialCallDuration="95")
    assert root.verbs == ["Say", "Hangup"]
    assert call_row(db, sid).settled_seconds == 95


@pytest.mark.parametrize(
    "refusal",
    [
        Refusal.NOT_WORKING,
        Refusal.PREMIUM,
        Refusal.PERSONAL,
        Refusal.SERVICE,
        Refusal.DIRECTORY,
        Refusal.DIAL_DIRECTLY,
        Refusal.NOT_UK,
    ],
)
def test_refused_number_speaks_the_reason_and_asks_again(menu, app, db, refusal):
    keyed = keyable(refusal)
    menu.seed()
    sid = new_sid()
    root = dial_to(menu, sid, keyed)
    assert english_speaker().text(REASONS[refusal]) in said(root)
    assert root.find("Dial") is None
    assert root.one("Gather").get("action") == menu.url(f"{MENU}/destination")
    assert call_row(db, sid).direction == CallDirection.MENU
    # A second try with an allowed number goes through.
    assert menu.post("destination", sid, Digits=DESTINATION).find("Dial") is not None


@pytest.mark.parametrize("keyed", ["999", "112"])
def test_emergency_numbers_get_advice_and_the_call_ends(menu, app, db, keyed):
    menu.seed()
    sid = new_sid()
    root = dial_to(menu, sid, keyed)
    assert root.verbs == ["Say", "Hangup"]
    assert "hang up" in said(root) and "directly" in said(root)
    assert call_row(db, sid).direction == CallDirection.MENU


def test_no_number_keyed_goes_back_to_the_menu(menu, app, db):
    menu.seed()
    sid = new_sid()
    root = dial_to(menu, sid, "")
    assert "No number was entered" in said(root)
    assert root.one("Gather").get("action") == menu.url(f"{MENU}/options")


def test_daily_call_cap(menu, app, db):
    member_id = menu.seed()
    cap = services_of(app).settings.outbound_daily_calls
    add_masked_calls(db, member_id, [10] * (cap - 1))
    # Yesterday's calls do not count.
    add_masked_calls(db, member_id, [10] * 5, created=utcnow() - timedelta(days=1, hours=1))
    sid = new_sid()
    assert dial_to(menu, sid).find("Dial") is not None  # the last call of the day
    sid = menu.logged_in_call()
    root = menu.press(sid, "1")
    assert "today's limit" in said(root)
    assert root.one("Gather").get("action") == menu.url(f"{MENU}/options")
    # Skipping the prompt does not get around the cap either.
    root = menu.post("destination", sid, Digits=DESTINATION)
    assert root.find("Dial") is None and "today's limit" in said(root)
    assert call_row(db, sid).direction == CallDirection.MENU


def test_daily_minutes_cap_and_time_limit(menu, app, db):
    member_id = menu.seed()
    settings = services_of(app).settings
    budget = settings.outbound_daily_minutes * 60
    add_masked_calls(db, member_id, [3600, budget - 3600 - 300])
    dial = dial_to(menu, new_sid()).one("Dial")
    # Only the minutes left today are allowed on this call.
    assert dial.get("timeLimit") == "300"
    add_masked_calls(db, member_id, [300])
    sid = menu.logged_in_call()
    assert "today's limit" in said(menu.press(sid, "1"))


def test_caps_are_per_member(menu, db, enrol: Enrol):
    menu.seed()
    other_id = enrol(phone="+447911123456", line="+442079460002").id
    add_masked_calls(db, other_id, [10] * 50)
    assert dial_to(menu, new_sid()).find("Dial") is not None


def test_caps_and_policy_are_configurable(menu, app_config: AppConfig, db, redis, tmp_path):
    policy = DestinationPolicy(
        allowed_regions=frozenset({"GB", "GG", "JE", "IM", "FR"}),
        allowed_types=frozenset({PhoneNumberType.MOBILE}),
    )
    menu = menu.on(create_app(app_config(OUTBOUND_DAILY_CALLS="1", destination_policy=policy, database=db)))
    menu.seed()
    # Refusals do not count towards the cap.
    assert english_speaker().text(REASONS[Refusal.NOT_ALLOWED]) in said(
        dial_to(menu, new_sid(), "02079460999")
    )
    root = dial_to(menu, new_sid(), "0033612345678")
    assert root.one("Dial/Number").text == "+33612345678"
    sid = menu.logged_in_call()
    assert "today's limit" in said(menu.press(sid, "1"))


# --- minutes reserved before dialling, settled from the real duration ---------------


def time_limit_of(root: TwiML) -> int:
    return int(root.one("Dial").get("timeLimit") or 0)


def test_open_calls_hold_their_full_reservation(menu, make_app, redis, db):
    """Calls still in progress hold all they reserved: the next gets only
    what they leave of the 120 minutes, and once none is left a member call
    hears today's limit and nothing is dialled."""
    menu = menu.on(make_app(outbound_time_limit_seconds=3000))
    menu.seed()
    assert time_limit_of(dial_to(menu, new_sid())) == 3000
    assert time_limit_of(dial_to(menu, new_sid())) == 3000
    assert time_limit_of(dial_to(menu, new_sid())) == 7200 - 2 * 3000
    late = menu.logged_in_call()
    root = menu.press(late, "1")
    assert "today's limit" in said(root) and root.find("Dial") is None
    root = menu.post("destination", late, Digits=DESTINATION)
    assert "today's limit" in said(root) and root.find("Dial") is None
    assert call_row(db, late).reserved_seconds is None


def test_a_short_call_gives_back_what_it_did_not_use(menu, app, db):
    menu.seed()
    first = new_sid()
    assert time_limit_of(dial_to(menu, first)) == 3600
    assert time_limit_of(dial_to(menu, new_sid())) == 3600
    assert "today's limit" in said(menu.press(menu.logged_in_call(), "1"))
    # The first call lasted 10 minutes: the other 50 are free again.
    menu.post("masked-result", first, DialCallStatus="completed", DialCallDuration="600")
    assert call_row(db, first).settled_seconds == 600
    assert time_limit_of(dial_to(menu, new_sid())) == 3000


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_a_call_never_connected_spends_nothing(menu, app, db, status):
    menu.seed()
    first = new_sid()
    dial_to(menu, first)
    menu.post("masked-result", first, DialCallStatus=status)
    assert call_row(db, first).settled_seconds == 0
    assert time_limit_of(dial_to(menu, new_sid())) == 3600
    assert time_limit_of(dial_to(menu, new_sid())) == 3600


def test_an_unsettled_call_keeps_its_reservation_until_the_day_rolls_over(menu, app, db):
    member_id = menu.seed()
    first = new_sid()
    dial_to(menu, first)
    # A Dial result without its duration settles nothing (nor does no result at all).
    menu.post("masked-result", first, DialCallStatus="completed")
    assert call_row(db, first).settled_seconds is None
    assert time_limit_of(dial_to(menu, new_sid())) == 3600
    assert "today's limit" in said(menu.press(menu.logged_in_call(), "1"))
    # Yesterday's calls never settled do not count today.
    with db.session() as session:
        session.execute(
            update(Call).where(Call.member_id == member_id).values(reserved_at=utcnow() - timedelta(days=1))
        )
    assert time_limit_of(dial_to(menu, new_sid())) == 3600


def test_a_settlement_is_never_more_than_the_reservation_and_is_final(menu, make_app, redis, db):
    menu = menu.on(make_app(outbound_time_limit_seconds=600))
    menu.seed()
    sid = new_sid()
    assert time_limit_of(dial_to(menu, sid)) == 600
    menu.post("masked-result", sid, DialCallStatus="completed", DialCallDuration="5000")
    assert call_row(db, sid).settled_seconds == 600
    # A later, different report (a replay, a late callback) changes nothing.
    menu.post("masked-result", sid, DialCallStatus="completed", DialCallDuration="30")
    assert call_row(db, sid).settled_seconds == 600


def test_a_replayed_destination_dials_nothing_and_reserves_nothing_more(menu, app, db):
    menu.seed()
    sid = new_sid()
    dial_to(menu, sid)
    root = menu.post("destination", sid, Digits=DESTINATION)
    assert root.find("Dial") is None and root.verbs == ["Say", "Hangup"]
    call = call_row(db, sid)
    assert call.reserved_seconds == 3600
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Call.reserved_at.is_not(None))) == 1


@pytest.mark.parametrize("duration", ["²", "-5", "1e3", "99999999999", " "])
def test_a_malformed_dial_duration_settles_nothing(menu, app, db, duration):
    menu.seed()
    sid = new_sid()
    dial_to(menu, sid)
    assert menu.post("masked-result", sid, DialCallStatus="completed", DialCallDuration=duration).verbs == [
        "Say",
        "Hangup",
    ]
    assert call_row(db, sid).settled_seconds is None
