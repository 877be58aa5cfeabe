"""Masked outbound calls from the member menu: policy, daily caps, the Dial
that shows the Safety Number, and the call row kept for the cap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from phonenumbers import PhoneNumberType
from sqlalchemy import select

from callflows.destinations import REASONS, DestinationPolicy, Refusal
from ivr import create_app
from storage.models import Call, CallDirection, utcnow
from tests.menu_helpers import (
    LINE,
    MEMBER_PHONE,
    MENU,
    gather,
    log_in,
    new_sid,
    post,
    press,
    said,
    seed,
    url,
    vault,
)
from tests.support.suite import AppConfig
from tests.voice_helpers import verbs

DESTINATION = "07400654321"
DESTINATION_E164 = "+447400654321"


def dial_to(client, sid: str, keyed: str = DESTINATION):
    """Log in, press 1, key ``keyed``: the TwiML answering the number."""
    log_in(client, sid)
    root = press(client, sid, "1")
    g = gather(root)
    assert g.get("finishOnKey") == "#"
    assert g.get("action") == url(f"{MENU}/destination")
    return post(client, "destination", sid, Digits=keyed)


def call_row(db, sid: str) -> Call:
    with db.session() as session:
        return session.scalars(select(Call).where(Call.call_sid == sid)).one()


def add_masked_calls(app, db, member_id: int, durations: list[int], *, created=None) -> None:
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


def test_allowed_number_is_dialled_showing_the_safety_number(app, db, client):
    member_id = seed(app, db)
    sid = new_sid()
    root = dial_to(client, sid)
    assert verbs(root) == ["Dial"]
    dial = root.find("Dial")
    settings = app.extensions["safety"].settings
    assert dial.get("callerId") == LINE
    assert dial.get("timeLimit") == str(settings.outbound_time_limit_seconds)
    assert dial.get("action") == url(f"{MENU}/masked-result")
    number = dial.find("Number")
    assert number.text == DESTINATION_E164
    assert number.get("statusCallback") == url("/voice/status")
    assert number.get("statusCallbackEvent") == "initiated ringing answered completed"
    # The member's real number is nowhere in the TwiML.
    text = ET.tostring(root, encoding="unicode")
    assert MEMBER_PHONE not in text and MEMBER_PHONE[3:] not in text
    # The call row now records a masked call to the (encrypted) destination.
    call = call_row(db, sid)
    assert call.direction == CallDirection.MASKED
    assert call.member_id == member_id
    assert call.other_party_index == vault(app).index(DESTINATION_E164)
    assert vault(app).reveal(call.other_party_encrypted) == DESTINATION_E164
    assert call.other_party_last3 == "321"


def test_dial_result_keeps_the_duration_and_says_goodbye(app, db, client):
    seed(app, db)
    sid = new_sid()
    dial_to(client, sid)
    root = post(client, "masked-result", sid, DialCallStatus="completed", DialCallDuration="95")
    assert verbs(root) == ["Say", "Hangup"]
    assert call_row(db, sid).duration_seconds == 95


@pytest.mark.parametrize(
    ("keyed", "refusal"),
    [
        ("07700900123", Refusal.NOT_WORKING),
        ("09098790123", Refusal.PREMIUM),
        ("07012345678", Refusal.PERSONAL),
        ("08451234567", Refusal.SERVICE),
        ("118118", Refusal.DIRECTORY),
        ("101", Refusal.DIAL_DIRECTLY),
        ("0033612345678", Refusal.NOT_UK),
    ],
)
def test_refused_number_speaks_the_reason_and_asks_again(app, db, client, keyed, refusal):
    seed(app, db)
    sid = new_sid()
    root = dial_to(client, sid, keyed)
    assert REASONS[refusal] in said(root)
    assert root.find("Dial") is None
    assert gather(root).get("action") == url(f"{MENU}/destination")
    assert call_row(db, sid).direction == CallDirection.MENU
    # A second try with an allowed number goes through.
    assert post(client, "destination", sid, Digits=DESTINATION).find("Dial") is not None


@pytest.mark.parametrize("keyed", ["999", "112"])
def test_emergency_numbers_get_advice_and_the_call_ends(app, db, client, keyed):
    seed(app, db)
    sid = new_sid()
    root = dial_to(client, sid, keyed)
    assert verbs(root) == ["Say", "Hangup"]
    assert "hang up" in said(root) and "directly" in said(root)
    assert call_row(db, sid).direction == CallDirection.MENU


def test_no_number_keyed_goes_back_to_the_menu(app, db, client):
    seed(app, db)
    sid = new_sid()
    root = dial_to(client, sid, "")
    assert "No number was entered" in said(root)
    assert gather(root).get("action") == url(f"{MENU}/options")


def test_daily_call_cap(app, db, client):
    member_id = seed(app, db)
    cap = app.extensions["safety"].settings.outbound_daily_calls
    add_masked_calls(app, db, member_id, [10] * (cap - 1))
    # Yesterday's calls do not count.
    add_masked_calls(app, db, member_id, [10] * 5, created=utcnow() - timedelta(days=1, hours=1))
    sid = new_sid()
    assert dial_to(client, sid).find("Dial") is not None  # the last call of the day
    sid = new_sid()
    log_in(client, sid)
    root = press(client, sid, "1")
    assert "today's limit" in said(root)
    assert gather(root).get("action") == url(f"{MENU}/options")
    # Skipping the prompt does not get around the cap either.
    root = post(client, "destination", sid, Digits=DESTINATION)
    assert root.find("Dial") is None and "today's limit" in said(root)
    assert call_row(db, sid).direction == CallDirection.MENU


def test_daily_minutes_cap_and_time_limit(app, db, client):
    member_id = seed(app, db)
    settings = app.extensions["safety"].settings
    budget = settings.outbound_daily_minutes * 60
    add_masked_calls(app, db, member_id, [budget - 300])
    dial = dial_to(client, new_sid()).find("Dial")
    # Only the minutes left today are allowed on this call.
    assert dial.get("timeLimit") == "300"
    add_masked_calls(app, db, member_id, [300])
    sid = new_sid()
    log_in(client, sid)
    assert "today's limit" in said(press(client, sid, "1"))


def test_caps_are_per_member(app, db, client):
    seed(app, db)
    from tests.voice_helpers import seed_member

    other_id, _ = seed_member(db, vault(app), phone="+447911123456", line="+442079460002")
    add_masked_calls(app, db, other_id, [10] * 50)
    assert dial_to(client, new_sid()).find("Dial") is not None


def test_caps_and_policy_are_configurable(app_config: AppConfig, db, redis, tmp_path):
    policy = DestinationPolicy(
        allowed_regions=frozenset({"GB", "GG", "JE", "IM", "FR"}),
        allowed_types=frozenset({PhoneNumberType.MOBILE}),
    )
    config = app_config(OUTBOUND_DAILY_CALLS="1", DESTINATION_POLICY=policy)
    app = create_app({**config, "database": db})
    client = app.test_client()
    seed(app, db)
    # Refusals do not count towards the cap.
    assert REASONS[Refusal.NOT_ALLOWED] in said(dial_to(client, new_sid(), "02079460999"))
    root = dial_to(client, new_sid(), "0033612345678")
    assert root.find("Dial/Number").text == "+33612345678"
    sid = new_sid()
    log_in(client, sid)
    assert "today's limit" in said(press(client, sid, "1"))
