"""Masked outbound calls from the member menu: policy, daily caps, the Dial
that shows the Safety Number, and the call row kept for the cap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

import pytest
from phonenumbers import PhoneNumberType
from sqlalchemy import select

from callflows.destinations import REASONS, DestinationPolicy, Refusal
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
    db: Database, member_id: int, durations: list[int], *, created: datetime | None = None
) -> None:
    with db.session() as session:
        for seconds in durations:
            session.add(
                Call(
                    call_sid=new_sid(),
                    direction=CallDirection.MASKED,
                    member_id=member_id,
                    duration_seconds=seconds,
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


def test_dial_result_keeps_the_duration_and_says_goodbye(menu, app, db):
    menu.seed()
    sid = new_sid()
    dial_to(menu, sid)
    root = menu.post("masked-result", sid, DialCallStatus="completed", DialCallDuration="95")
    assert root.verbs == ["Say", "Hangup"]
    assert call_row(db, sid).duration_seconds == 95


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
    assert REASONS[refusal] in said(root)
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
    add_masked_calls(db, member_id, [budget - 300])
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
    assert REASONS[Refusal.NOT_ALLOWED] in said(dial_to(menu, new_sid(), "02079460999"))
    root = dial_to(menu, new_sid(), "0033612345678")
    assert root.one("Dial/Number").text == "+33612345678"
    sid = menu.logged_in_call()
    assert "today's limit" in said(menu.press(sid, "1"))
